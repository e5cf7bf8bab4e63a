//! The Realtime session object: what `session.created` announces and `session.update`
//! changes, in the GA shape (`type`, `output_modalities`, `audio.input` /
//! `audio.output`, `max_output_tokens`).
//!
//! Scope: the two session kinds (a conversation, `type: "realtime"`, and a transcription
//! session from `?intent=transcription`), the fields an update may set (GA names, and the
//! beta's flat `modalities`, `voice`, `input_audio_format`, `turn_detection`,
//! `input_audio_transcription` read onto them), and the checks the real API makes on
//! `type`. Not here: events and turns (`super`, `super::turn`).
//!
//! Defaults follow the real API's, except turn detection, which is off (`null`): aimock
//! never hears the audio, so a client commits the buffer and asks for a response itself.

use serde_json::{json, Map, Value};

/// A conversation session or a transcription session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `type: "realtime"`.
    Conversation,
    /// `type: "transcription"` (`?intent=transcription`).
    Transcription,
}

/// The session as the client last set it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub kind: Kind,
    /// Fixed at connect (`?model=`); an update does not change it.
    pub model: String,
    /// The session object's fields besides `type`, `object`, `id`, `model`, in wire order.
    fields: Map<String, Value>,
    id: String,
}

/// The model a connection without `?model=` gets.
pub(crate) const DEFAULT_MODEL: &str = "gpt-realtime";
/// The transcription model a transcription session starts with.
pub(crate) const DEFAULT_TRANSCRIBE_MODEL: &str = "gpt-4o-transcribe";

/// Fields a conversation update replaces whole.
const REPLACED: &[&str] = &[
    "instructions",
    "output_modalities",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "prompt",
    "include",
];

impl Session {
    /// A fresh session of `kind` for `model`, expiring an hour after `now` (unix s).
    pub(crate) fn new(kind: Kind, model: String, id: String, now: i64) -> Session {
        let pcm = json!({"type": "audio/pcm", "rate": 24000});
        let mut fields = Map::new();
        fields.insert("expires_at".into(), (now + 3600).into());
        match kind {
            Kind::Conversation => {
                fields.insert("output_modalities".into(), json!(["audio"]));
                fields.insert("instructions".into(), "".into());
                fields.insert("tools".into(), json!([]));
                fields.insert("tool_choice".into(), "auto".into());
                fields.insert("max_output_tokens".into(), "inf".into());
                fields.insert("tracing".into(), Value::Null);
                fields.insert("truncation".into(), "auto".into());
                fields.insert("prompt".into(), Value::Null);
                fields.insert(
                    "audio".into(),
                    json!({
                        "input": {"format": pcm, "transcription": null,
                                  "noise_reduction": null, "turn_detection": null},
                        "output": {"format": pcm, "voice": "marin", "speed": 1.0},
                    }),
                );
                fields.insert("include".into(), Value::Null);
            }
            Kind::Transcription => {
                fields.insert(
                    "audio".into(),
                    json!({"input": {"format": pcm,
                        "transcription": {"model": DEFAULT_TRANSCRIBE_MODEL, "language": null, "prompt": ""},
                        "noise_reduction": null, "turn_detection": null}}),
                );
                fields.insert("include".into(), Value::Null);
            }
        }
        Session {
            kind,
            model,
            fields,
            id,
        }
    }

    /// The session object as `session.created` / `session.updated` carry it.
    pub(crate) fn object(&self) -> Value {
        let mut o = Map::new();
        match self.kind {
            Kind::Conversation => {
                o.insert("type".into(), "realtime".into());
                o.insert("object".into(), "realtime.session".into());
                o.insert("id".into(), self.id.clone().into());
                o.insert("model".into(), self.model.clone().into());
            }
            Kind::Transcription => {
                o.insert("type".into(), "transcription".into());
                o.insert("object".into(), "realtime.transcription_session".into());
                o.insert("id".into(), self.id.clone().into());
            }
        }
        o.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(o)
    }

    /// The instructions the next response gets unless it brings its own.
    pub(crate) fn instructions(&self) -> &str {
        self.fields
            .get("instructions")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// The tools offered, as the session holds them.
    pub(crate) fn tools(&self) -> &[Value] {
        self.fields
            .get("tools")
            .and_then(|v| v.as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// `output_modalities`: audio (the default) or text.
    pub(crate) fn modalities(&self) -> Value {
        self.fields
            .get("output_modalities")
            .cloned()
            .unwrap_or_else(|| json!(["audio"]))
    }

    /// The transcription model of a transcription session.
    pub(crate) fn transcription_model(&self) -> String {
        self.fields
            .get("audio")
            .and_then(|a| a.pointer("/input/transcription/model"))
            .and_then(|m| m.as_str())
            .unwrap_or(DEFAULT_TRANSCRIBE_MODEL)
            .to_string()
    }

    /// Apply a `session.update`'s `session`, or say why not (the message of an
    /// `invalid_request_error`, and the parameter it names). Nothing is applied when it
    /// fails.
    pub(crate) fn update(&mut self, s: &Map<String, Value>) -> Result<(), (String, String)> {
        if let Some(t) = s.get("type") {
            let t = t.as_str().unwrap_or_default();
            let ok = match self.kind {
                Kind::Conversation => matches!(t, "realtime" | "conversation"),
                Kind::Transcription => t == "transcription",
            };
            if !ok {
                let valid = matches!(t, "realtime" | "conversation" | "transcription");
                let msg = if valid {
                    format!(
                        "Cannot update a {} session's type to '{t}'.",
                        self.type_name()
                    )
                } else {
                    format!("Invalid value: '{t}'. Supported values are: 'realtime' and 'transcription'.")
                };
                return Err((msg, "session.type".into()));
            }
        }
        let mut next = self.fields.clone();
        if self.kind == Kind::Conversation {
            for k in REPLACED {
                if let Some(v) = s.get(*k) {
                    next.insert((*k).into(), v.clone());
                }
            }
            // The beta's flat names, read onto the GA ones.
            if let Some(m) = s
                .get("modalities")
                .filter(|_| !s.contains_key("output_modalities"))
            {
                next.insert("output_modalities".into(), m.clone());
            }
            if let Some(v) = s.get("max_response_output_tokens") {
                next.insert("max_output_tokens".into(), v.clone());
            }
        } else if let Some(v) = s.get("include") {
            next.insert("include".into(), v.clone());
        }
        if let Some(m) = next.get("output_modalities") {
            let ok = m
                .as_array()
                .is_some_and(|a| a.len() == 1 && matches!(a[0].as_str(), Some("audio" | "text")));
            if !ok {
                return Err((
                    "Invalid 'output_modalities': expected [\"audio\"] or [\"text\"].".into(),
                    "session.output_modalities".into(),
                ));
            }
        }
        let audio = next
            .entry("audio")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let audio = merge_audio(audio, s, self.kind);
        next.insert("audio".into(), Value::Object(audio));
        self.fields = next;
        Ok(())
    }

    fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Conversation => "realtime",
            Kind::Transcription => "transcription",
        }
    }
}

/// `audio.input.*` and `audio.output.*` from an update (GA nesting, or the beta's flat
/// keys), over what the session had. A string format becomes `{type: <string>}`.
fn merge_audio(
    mut audio: Map<String, Value>,
    s: &Map<String, Value>,
    kind: Kind,
) -> Map<String, Value> {
    let format = |v: &Value| match v {
        Value::String(t) => json!({"type": t}),
        other => other.clone(),
    };
    let mut set = |side: &str, key: &str, v: Value| {
        if kind == Kind::Transcription && side == "output" {
            return;
        }
        let part = audio.entry(side).or_insert_with(|| json!({}));
        if let Some(p) = part.as_object_mut() {
            p.insert(key.into(), v);
        }
    };
    if let Some(a) = s.get("audio").and_then(|a| a.as_object()) {
        for side in ["input", "output"] {
            if let Some(p) = a.get(side).and_then(|p| p.as_object()) {
                for (k, v) in p {
                    let v = if k == "format" { format(v) } else { v.clone() };
                    set(side, k, v);
                }
            }
        }
    }
    let flat = [
        ("input_audio_format", "input", "format"),
        ("input_audio_transcription", "input", "transcription"),
        ("input_audio_noise_reduction", "input", "noise_reduction"),
        ("turn_detection", "input", "turn_detection"),
        ("output_audio_format", "output", "format"),
        ("voice", "output", "voice"),
    ];
    for (key, side, field) in flat {
        if let Some(v) = s.get(key) {
            let v = if field == "format" {
                format(v)
            } else {
                v.clone()
            };
            set(side, field, v);
        }
    }
    audio
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_conversation_session_has_the_ga_shape_and_audio_output_by_default() {
        let s = Session::new(
            Kind::Conversation,
            "gpt-realtime".into(),
            "sess_1".into(),
            100,
        );
        let o = s.object();
        assert_eq!(o["type"], "realtime");
        assert_eq!(o["object"], "realtime.session");
        assert_eq!(o["model"], "gpt-realtime");
        assert_eq!(o["expires_at"], 3700);
        assert_eq!(o["output_modalities"], json!(["audio"]));
        assert_eq!(o["audio"]["output"]["voice"], "marin");
        assert_eq!(o["audio"]["input"]["turn_detection"], Value::Null);
    }

    #[test]
    fn an_update_applies_ga_and_flat_fields_and_keeps_the_model() {
        let mut s = Session::new(Kind::Conversation, "m".into(), "sess_1".into(), 0);
        s.update(&obj(json!({
            "type": "realtime", "model": "other", "instructions": "be brief",
            "output_modalities": ["text"], "tools": [{"type": "function", "name": "f"}],
            "audio": {"input": {"format": "audio/pcmu"}}, "voice": "alloy"
        })))
        .unwrap();
        let o = s.object();
        assert_eq!(o["model"], "m");
        assert_eq!(s.instructions(), "be brief");
        assert_eq!(s.modalities(), json!(["text"]));
        assert_eq!(s.tools().len(), 1);
        assert_eq!(o["audio"]["input"]["format"], json!({"type": "audio/pcmu"}));
        assert_eq!(o["audio"]["output"]["voice"], "alloy");
        // The beta's name for the modalities.
        s.update(&obj(json!({"modalities": ["audio"]}))).unwrap();
        assert_eq!(s.modalities(), json!(["audio"]));
    }

    #[test]
    fn a_bad_type_or_modality_is_refused_and_nothing_applies() {
        let mut s = Session::new(Kind::Conversation, "m".into(), "sess_1".into(), 0);
        let (msg, param) = s
            .update(&obj(json!({"type": "bogus", "instructions": "x"})))
            .unwrap_err();
        assert!(msg.contains("'bogus'"), "{msg}");
        assert_eq!(param, "session.type");
        assert_eq!(s.instructions(), "");
        assert!(s
            .update(&obj(json!({"type": "transcription"})))
            .unwrap_err()
            .0
            .contains("Cannot update"));
        assert!(s
            .update(&obj(
                json!({"output_modalities": ["text", "audio"], "instructions": "y"})
            ))
            .is_err());
        assert_eq!(s.instructions(), "");
    }

    #[test]
    fn a_transcription_session_keeps_input_audio_only() {
        let mut s = Session::new(Kind::Transcription, "m".into(), "sess_1".into(), 0);
        s.update(&obj(json!({"type": "transcription", "audio": {
            "input": {"transcription": {"model": "whisper-1"}}, "output": {"voice": "x"}}})))
            .unwrap();
        let o = s.object();
        assert_eq!(o["object"], "realtime.transcription_session");
        assert!(o.get("model").is_none());
        assert!(o["audio"].get("output").is_none());
        assert_eq!(s.transcription_model(), "whisper-1");
    }
}
