//! What media replies share across providers: base64 in and out, audio formats and
//! their content types, and the image items of an `image`/`images` fixture.
//!
//! Not here: any provider's reply envelope (OpenAI's `data[]`, Google's
//! `predictions[]`), which each provider builds from these.

use base64::Engine;
use serde_json::{Map, Value};

/// Standard base64 with padding, as every provider sends media.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode base64 leniently: padded or not, standard or URL-safe alphabet, whitespace
/// (a fixture written by hand may wrap lines) ignored.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let clean: String;
    let t = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        clean = text.split_ascii_whitespace().collect();
        clean.as_str()
    } else {
        text
    };
    STANDARD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t))
        .or_else(|_| URL_SAFE.decode(t))
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .ok()
}

/// Audio formats OpenAI's speech endpoint speaks, with their content types.
pub(crate) const AUDIO_FORMATS: [(&str, &str); 6] = [
    ("mp3", "audio/mpeg"),
    ("opus", "audio/opus"),
    ("aac", "audio/aac"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    ("pcm", "audio/pcm"),
];

/// Content types a recorded or hand-written audio reply may name, kept as constants
/// (a reply's content type is one).
const OTHER_AUDIO_TYPES: [&str; 8] = [
    "audio/ogg",
    "audio/webm",
    "audio/mp4",
    "audio/x-wav",
    "audio/wave",
    "audio/L16",
    "audio/x-flac",
    "audio/basic",
];

/// The content type for an audio format name (`mp3` → `audio/mpeg`); a name we do
/// not know answers `audio/mpeg`, as the reference does.
pub(crate) fn audio_content_type(format: &str) -> &'static str {
    let f = format.trim().to_ascii_lowercase();
    if let Some((_, ct)) = AUDIO_FORMATS.iter().find(|(n, _)| *n == f) {
        return ct;
    }
    let as_type = format!("audio/{f}");
    OTHER_AUDIO_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(&as_type))
        .copied()
        .unwrap_or("audio/mpeg")
}

/// A content type as one of our constants, when it is one we know (audio, video and
/// image types); `None` for anything else.
pub(crate) fn known_content_type(ct: &str) -> Option<&'static str> {
    let essence = ct.split(';').next().unwrap_or("").trim();
    const OTHERS: [&str; 9] = [
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "application/octet-stream",
        "application/json",
    ];
    AUDIO_FORMATS
        .iter()
        .map(|(_, t)| *t)
        .chain(OTHER_AUDIO_TYPES)
        .chain(OTHERS)
        .find(|t| t.eq_ignore_ascii_case(essence))
}

/// The format name an audio content type stands for (`audio/mpeg` → `mp3`,
/// `audio/wav; x=1` → `wav`), as a recording writes it.
pub(crate) fn audio_format_of(content_type: &str) -> String {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some((f, _)) = AUDIO_FORMATS.iter().find(|(_, t)| *t == essence) {
        return f.to_string();
    }
    match essence.strip_prefix("audio/").unwrap_or(&essence) {
        "mpeg" | "mp3" => "mp3".into(),
        "x-wav" | "wave" => "wav".into(),
        "x-flac" => "flac".into(),
        other => other.to_string(),
    }
}

/// One image of an `image`/`images` fixture, in either spelling of its keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ImageItem {
    /// `url`.
    pub url: Option<String>,
    /// `b64Json` (or `b64_json`).
    pub b64: Option<String>,
    /// `revisedPrompt` (or `revised_prompt`).
    pub revised_prompt: Option<String>,
    /// `mimeType` (Imagen recordings).
    pub mime_type: Option<String>,
}

/// The images a fixture's `response` holds: `images[]`, or the one `image`.
pub(crate) fn image_items(response: &Value) -> Vec<ImageItem> {
    let text = |o: &Map<String, Value>, keys: &[&str]| {
        keys.iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let item = |v: &Value| {
        let o = v.as_object()?;
        Some(ImageItem {
            url: text(o, &["url"]),
            b64: text(o, &["b64Json", "b64_json", "bytesBase64Encoded"]),
            revised_prompt: text(o, &["revisedPrompt", "revised_prompt"]),
            mime_type: text(o, &["mimeType"]),
        })
    };
    match (response.get("images"), response.get("image")) {
        (Some(Value::Array(a)), _) => a.iter().filter_map(item).collect(),
        (_, Some(v)) => item(v).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// `items` repeated in order until there are `n` (the request's `n`, or Imagen's
/// `sampleCount`), or as they are when the request names no count.
pub(crate) fn take_n<T: Clone>(items: Vec<T>, n: Option<u32>) -> Vec<T> {
    match n {
        Some(n) if n > 0 && !items.is_empty() => {
            items.iter().cycle().take(n as usize).cloned().collect()
        }
        _ => items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_round_trips_and_tolerates_wrapping_and_missing_padding() {
        let bytes: Vec<u8> = (0..=255).collect();
        let t = b64_encode(&bytes);
        assert_eq!(b64_decode(&t).unwrap(), bytes);
        let wrapped = format!("{}\n{}", &t[..10], &t[10..]);
        assert_eq!(b64_decode(&wrapped).unwrap(), bytes);
        assert_eq!(b64_decode("aGk").unwrap(), b"hi");
        assert!(b64_decode("not base64!").is_none());
    }

    #[test]
    fn audio_formats_and_content_types_map_both_ways() {
        for (f, ct) in AUDIO_FORMATS {
            assert_eq!(audio_content_type(f), ct);
            assert_eq!(audio_format_of(ct), f);
        }
        assert_eq!(audio_content_type("nope"), "audio/mpeg");
        assert_eq!(audio_content_type("ogg"), "audio/ogg");
        assert_eq!(audio_format_of("audio/wav; codecs=1"), "wav");
        assert_eq!(audio_format_of("audio/ogg"), "ogg");
    }

    #[test]
    fn image_items_read_either_spelling_and_repeat_to_n() {
        let v = json!({"images": [{"url": "u"}, {"b64_json": "AA==", "revised_prompt": "r"}]});
        let items = image_items(&v);
        assert_eq!(items[0].url.as_deref(), Some("u"));
        assert_eq!(items[1].b64.as_deref(), Some("AA=="));
        assert_eq!(take_n(items.clone(), Some(3)).len(), 3);
        assert_eq!(take_n(items, None).len(), 2);
        let one = image_items(&json!({"image": {"b64Json": "AA=="}}));
        assert_eq!(one.len(), 1);
    }
}
