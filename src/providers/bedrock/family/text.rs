//! The prompt-completion families: one prompt string in, one text out. Titan text
//! (`inputText` -> `results[].outputText`), Meta Llama (`prompt` -> `generation`),
//! Mistral's `prompt` form (-> `outputs[]`) and DeepSeek R1 (-> `choices[]`).
//!
//! None of them calls tools; a fixture's tool calls are not sent (a warning-free
//! degradation: the text still is). Streams send the text in slices, one model event
//! per slice, then an event with the stop reason (and the invocation metrics).

use serde_json::{json, Map, Value};

use super::{finish_word, prompt, Dialect};
use crate::cassette::model::ChatReply;
use crate::providers::bedrock::Tokens;
use crate::providers::common::{chunk_text, ParseError, RenderContext};
use crate::request::{ChatRequest, Endpoint};

/// The finish words of each family, from the fixture's (OpenAI) vocabulary.
fn table(d: Dialect) -> &'static [(&'static str, &'static str)] {
    match d {
        Dialect::TitanText => &[
            ("stop", "FINISH"),
            ("length", "LENGTH"),
            ("content_filter", "CONTENT_FILTERED"),
        ],
        _ => &[],
    }
}

/// The stop reason to send.
pub(super) fn finish(d: Dialect, reply: &ChatReply) -> String {
    finish_word(reply, table(d))
}

/// The field holding the prompt.
fn prompt_key(d: Dialect) -> &'static str {
    if d == Dialect::TitanText {
        "inputText"
    } else {
        "prompt"
    }
}

pub(super) fn parse(
    d: Dialect,
    model: &str,
    stream: bool,
    body: &[u8],
    o: &Map<String, Value>,
) -> Result<ChatRequest, ParseError> {
    let key = prompt_key(d);
    let Some(p) = o.get(key).and_then(Value::as_str) else {
        return Err(ParseError::bad(
            "missing_prompt",
            format!("Malformed input request: #: required key [{key}] not found, please reformat your input and try again."),
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    req.model = Some(model.to_string());
    req.stream = stream;
    req.messages = prompt::turns(p);
    Ok(req)
}

fn text_of(reply: &ChatReply) -> String {
    reply.text().unwrap_or_default()
}

/// The non-streamed reply.
pub(super) fn json(
    d: Dialect,
    reply: &ChatReply,
    req: &ChatRequest,
    _ctx: &RenderContext,
) -> Value {
    let t = Tokens::of(reply, req);
    let text = text_of(reply);
    let stop = finish(d, reply);
    match d {
        Dialect::TitanText => json!({
            "inputTextTokenCount": t.input,
            "results": [{"tokenCount": t.output, "outputText": text, "completionReason": stop}],
        }),
        Dialect::Llama => json!({
            "generation": text,
            "prompt_token_count": t.input,
            "generation_token_count": t.output,
            "stop_reason": stop,
        }),
        Dialect::MistralText => json!({"outputs": [{"text": text, "stop_reason": stop}]}),
        _ => json!({"choices": [{"text": text, "stop_reason": stop}]}),
    }
}

/// The streamed events: one per text slice (paced), then the closing one.
pub(super) fn stream_events(
    d: Dialect,
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Vec<(Value, bool)> {
    let t = Tokens::of(reply, req);
    let text = text_of(reply);
    let slices: Vec<&str> = chunk_text(&text, ctx.chunk_size).collect();
    let n = slices.len() as u64;
    let mut out = Vec::with_capacity(slices.len() + 1);
    for (i, s) in slices.iter().enumerate() {
        let first = i == 0;
        // Running output count, spread over the slices.
        let so_far = (t.output * (i as u64 + 1)).checked_div(n).unwrap_or(0);
        let v = match d {
            Dialect::TitanText => json!({
                "outputText": s, "index": 0, "totalOutputTextTokenCount": null,
                "completionReason": null,
                "inputTextTokenCount": if first { json!(t.input) } else { Value::Null },
            }),
            Dialect::Llama => json!({
                "generation": s,
                "prompt_token_count": if first { json!(t.input) } else { Value::Null },
                "generation_token_count": so_far,
                "stop_reason": null,
            }),
            Dialect::MistralText => json!({"outputs": [{"text": s, "stop_reason": null}]}),
            _ => json!({"choices": [{"text": s, "stop_reason": null}]}),
        };
        out.push((v, true));
    }
    let stop = finish(d, reply);
    let last = match d {
        Dialect::TitanText => json!({
            "outputText": "", "index": 0, "totalOutputTextTokenCount": t.output,
            "completionReason": stop,
            "inputTextTokenCount": if n == 0 { json!(t.input) } else { Value::Null },
        }),
        Dialect::Llama => json!({
            "generation": "",
            "prompt_token_count": if n == 0 { json!(t.input) } else { Value::Null },
            "generation_token_count": t.output,
            "stop_reason": stop,
        }),
        Dialect::MistralText => json!({"outputs": [{"text": "", "stop_reason": stop}]}),
        _ => json!({"choices": [{"text": "", "stop_reason": stop}]}),
    };
    out.push((last, false));
    out
}
