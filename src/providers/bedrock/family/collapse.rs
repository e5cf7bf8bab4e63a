//! Reading the replies of the invoke families other than Anthropic and Nova (whose
//! readers are in `bedrock::collapse`) into a [`Collapsed`]. Replies are recognised by
//! their own keys, which no two families share: `results[].outputText` (Titan text),
//! `generation` (Llama), `outputs` (Mistral prompt), `choices[].message` (Mistral
//! chat), `choices[].text` (DeepSeek), `object: "chat.completion"` (gpt-oss, read by
//! `openai::chat::collapse`), `generation_id` / `event_type` (Cohere Command),
//! `embeddings` (Cohere Embed). Titan embeddings' `embedding` is read by the caller.
//!
//! Stop reasons come back in the fixture's vocabulary (`FINISH` -> `stop`,
//! `LENGTH` / `MAX_TOKENS` -> `length`, `COMPLETE` -> `stop`), the inverse of what
//! the renderers send, so a replay collapses into the fixture it came from.

use serde_json::Value;

use crate::providers::common::collapse::Collapsed;
use crate::providers::openai::chat::collapse as openai;

/// A family stop word in the fixture's vocabulary.
fn finish(word: &str) -> String {
    match word {
        "FINISH" | "COMPLETE" | "end_turn" => "stop",
        "LENGTH" | "MAX_TOKENS" | "max_tokens" => "length",
        "CONTENT_FILTERED" => "content_filter",
        other => other,
    }
    .to_string()
}

/// A count, also when a recorder re-encoded it as a float (`28.0`).
fn num(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn set_finish(c: &mut Collapsed, v: Option<&Value>) {
    if let Some(f) = v.and_then(Value::as_str).filter(|f| !f.is_empty()) {
        c.finish_reason = Some(finish(f));
    }
}

/// Cohere's `tool_calls` (`{name, parameters}`, no ids).
fn cohere_calls(v: &Value, c: &mut Collapsed) {
    for call in v
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        c.push_call(
            None,
            str_at(call, "name").unwrap_or(""),
            call.get("parameters")
                .map(Value::to_string)
                .unwrap_or_default(),
        );
    }
}

/// Mistral's `tool_calls` (`{id, function: {name, arguments}}`).
fn mistral_calls(m: &Value, c: &mut Collapsed) {
    for call in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let args = match call.pointer("/function/arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        c.push_call(
            str_at(call, "id").map(String::from),
            call.pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or(""),
            args,
        );
    }
}

/// gpt-oss puts its reasoning first in the content, between `<reasoning>` tags.
fn split_reasoning(c: &mut Collapsed) {
    let Some(rest) = c.content.strip_prefix("<reasoning>") else {
        return;
    };
    let Some((reasoning, answer)) = rest.split_once("</reasoning>") else {
        return;
    };
    let (reasoning, answer) = (reasoning.to_string(), answer.to_string());
    c.content = answer;
    c.push_reasoning(&reasoning);
}

/// A non-streamed family reply; false when `v` is none of them.
pub fn read_json(v: &Value, c: &mut Collapsed) -> bool {
    if let Some(results) = v.get("results").and_then(Value::as_array) {
        for r in results.iter().take(1) {
            c.push_text(str_at(r, "outputText").unwrap_or(""));
            set_finish(c, r.get("completionReason"));
            let out = num(r.get("tokenCount")).unwrap_or(0);
            let input = num(v.get("inputTextTokenCount")).unwrap_or(0);
            c.usage = Some((input, out));
        }
        return true;
    }
    if let Some(g) = str_at(v, "generation") {
        c.push_text(g);
        set_finish(c, v.get("stop_reason"));
        let n = |k: &str| num(v.get(k));
        if let (Some(i), Some(o)) = (n("prompt_token_count"), n("generation_token_count")) {
            c.usage = Some((i, o));
        }
        return true;
    }
    if let Some(outputs) = v.get("outputs").and_then(Value::as_array) {
        if let Some(o) = outputs.first() {
            c.push_text(str_at(o, "text").unwrap_or(""));
            set_finish(c, o.get("stop_reason"));
        }
        return true;
    }
    // gpt-oss; Mistral's chat reply may name the same object but says `stop_reason`.
    if str_at(v, "object") == Some("chat.completion")
        && v.pointer("/choices/0/stop_reason").is_none()
    {
        let body = v.to_string();
        *c = openai::collapse("application/json", body.as_bytes());
        split_reasoning(c);
        return true;
    }
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        if let Some(ch) = choices.first() {
            if let Some(m) = ch.get("message") {
                c.push_text(str_at(m, "content").unwrap_or(""));
                mistral_calls(m, c);
            } else {
                c.push_text(str_at(ch, "text").unwrap_or(""));
            }
            set_finish(c, ch.get("stop_reason").or_else(|| ch.get("finish_reason")));
        }
        return true;
    }
    if v.get("generation_id").is_some() && v.get("text").is_some() {
        c.push_text(str_at(v, "text").unwrap_or(""));
        cohere_calls(v, c);
        set_finish(c, v.get("finish_reason"));
        let n = |k: &str| num(v.pointer(&format!("/meta/billed_units/{k}")));
        if let (Some(i), Some(o)) = (n("input_tokens"), n("output_tokens")) {
            c.usage = Some((i, o));
        }
        return true;
    }
    if let Some(e) = v.get("embeddings") {
        let first = match e {
            Value::Array(list) => list.first(),
            Value::Object(by_type) => by_type.get("float").and_then(|f| f.get(0)),
            _ => None,
        };
        if let Some(Value::Array(vec)) = first {
            c.embedding = Some(vec.iter().filter_map(Value::as_f64).collect());
            // Several inputs (or types): the fixture's one vector would replay the first
            // input's vector for every input, so the recorded body is kept whole.
            let several = match e {
                Value::Array(list) => list.len() > 1,
                Value::Object(m) => {
                    m.keys().any(|k| k != "float")
                        || m.values()
                            .any(|l| l.as_array().is_some_and(|a| a.len() > 1))
                }
                _ => false,
            };
            if several {
                c.native =
                    crate::providers::common::native::embedding_layer(super::EMBED_NATIVE, v, &[]);
            }
        } else {
            c.warnings
                .push("Cohere embed reply without a float vector".to_string());
        }
        return true;
    }
    false
}

/// State across the chunks of one family stream.
#[derive(Debug, Default)]
pub struct StreamReader {
    /// gpt-oss chunks, re-framed as the SSE `openai::chat::collapse` reads.
    openai_sse: Vec<u8>,
    /// The family's closing event was seen.
    pub done: bool,
    input: Option<u64>,
    output: Option<u64>,
}

impl StreamReader {
    /// One model event; false when it belongs to no family read here.
    pub fn read(&mut self, v: &Value, c: &mut Collapsed) -> bool {
        if let Some(m) = v.get("amazon-bedrock-invocationMetrics") {
            // Every family's last chunk: the stream is complete.
            self.done = true;
            let n = |k: &str| num(m.get(k));
            self.input = self.input.or(n("inputTokenCount"));
            self.output = n("outputTokenCount").or(self.output);
        }
        let known = self.read_event(v, c);
        known || v.get("amazon-bedrock-invocationMetrics").is_some()
    }

    fn read_event(&mut self, v: &Value, c: &mut Collapsed) -> bool {
        if v.get("outputText").is_some() {
            c.push_text(str_at(v, "outputText").unwrap_or(""));
            set_finish(c, v.get("completionReason"));
            if let Some(i) = num(v.get("inputTextTokenCount")) {
                self.input = Some(i);
            }
            if let Some(o) = num(v.get("totalOutputTextTokenCount")) {
                self.output = Some(o);
            }
            return true;
        }
        if v.get("generation").is_some() {
            c.push_text(str_at(v, "generation").unwrap_or(""));
            set_finish(c, v.get("stop_reason"));
            if let Some(i) = num(v.get("prompt_token_count")) {
                self.input = Some(i);
            }
            if let Some(o) = num(v.get("generation_token_count")) {
                self.output = Some(o);
            }
            return true;
        }
        if let Some(o) = v
            .get("outputs")
            .and_then(Value::as_array)
            .and_then(|o| o.first())
        {
            c.push_text(str_at(o, "text").unwrap_or(""));
            set_finish(c, o.get("stop_reason"));
            return true;
        }
        if str_at(v, "object") == Some("chat.completion.chunk") {
            let mut line = b"data: ".to_vec();
            line.extend_from_slice(v.to_string().as_bytes());
            line.extend_from_slice(b"\n\n");
            self.openai_sse.extend_from_slice(&line);
            return true;
        }
        if let Some(ch) = v
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        {
            if let Some(m) = ch.get("message") {
                c.push_text(str_at(m, "content").unwrap_or(""));
                mistral_calls(m, c);
            } else {
                c.push_text(str_at(ch, "text").unwrap_or(""));
            }
            set_finish(c, ch.get("stop_reason"));
            return true;
        }
        if let Some(kind) = str_at(v, "event_type") {
            match kind {
                "text-generation" => c.push_text(str_at(v, "text").unwrap_or("")),
                "tool-calls-generation" => cohere_calls(v, c),
                "stream-end" => {
                    set_finish(c, v.get("finish_reason"));
                    let n = |k: &str| num(v.pointer(&format!("/response/meta/billed_units/{k}")));
                    if let (Some(i), Some(o)) = (n("input_tokens"), n("output_tokens")) {
                        self.input = Some(i);
                        self.output = Some(o);
                    }
                    self.done = true;
                }
                _ => {}
            }
            return true;
        }
        false
    }

    /// After the last chunk: usage, and the gpt-oss reply read as a whole.
    pub fn finish(&mut self, c: &mut Collapsed) {
        if !self.openai_sse.is_empty() {
            self.openai_sse.extend_from_slice(b"data: [DONE]\n\n");
            let warnings = std::mem::take(&mut c.warnings);
            *c = openai::collapse("text/event-stream", &self.openai_sse);
            c.warnings.splice(0..0, warnings);
            // The SSE was rebuilt here: a missing `[DONE]` says nothing about the capture.
            c.truncated = false;
            split_reasoning(c);
        }
        if let (Some(i), Some(o)) = (self.input, self.output) {
            c.usage = Some((i, o));
        }
    }
}
