//! Bedrock `invoke` bodies by model family. The model id in the path names the family
//! (after an ARN's resource part and a cross-region inference profile's geography
//! prefix, `us.` / `eu.` / `apac.` / `global.` ..., are stripped). A `vendor.model` id
//! of another family (AI21, Stability, legacy Cohere Command) is not read; an opaque
//! id (an application inference profile, a provisioned or imported model) is
//! recognised by the body's unambiguous keys, or not at all.
//!
//! | family | request | reply |
//! |---|---|---|
//! | Anthropic (`anthropic.`) | Messages body | Messages JSON / events ([`super::invoke`]) |
//! | Nova (`amazon.nova`) | `messages` of `{text}` blocks, `system`, `inferenceConfig` | Converse shape, events wrapped one per chunk |
//! | Titan text (`amazon.titan-text`, `-tg1`) | `inputText`, `textGenerationConfig` | `results[].outputText`; chunks `outputText` |
//! | Titan embeddings (`amazon.titan-embed`) | `inputText`, `dimensions`, `embeddingTypes` | `embedding`, `embeddingsByType` |
//! | Llama (`meta.llama`) | `prompt`, `max_gen_len` | `generation`, token counts, `stop_reason` |
//! | Mistral (`mistral.`) | `prompt` (`[INST]`) or chat `messages` | `outputs[]` or `choices[]` |
//! | Cohere Command R (`cohere.command-r`) | `message`, `chat_history` | `text`, `finish_reason`, `tool_calls` |
//! | Cohere Embed (`cohere.embed`) | `texts`, `embedding_types` | `embeddings` (list or by type) |
//! | DeepSeek (`deepseek.`) | `prompt` | `choices[{text, stop_reason}]` |
//! | OpenAI open-weight (`openai.`) | chat completions body | `chat.completion` / chunks |
//!
//! The family chosen at parse time travels with the request (`hints.echo`), so the
//! reply is rendered in the shape that was asked for. Every streamed model event is
//! `{"bytes": base64(event)}` in an EventStream `chunk`, and the last one carries
//! `amazon-bedrock-invocationMetrics`, as the service sends it.
//!
//! Not here: Anthropic's body ([`super::invoke`]), Converse ([`super::converse`], whose
//! renderer Nova reuses), reading recordings back ([`mod@collapse`] here, wired into
//! `bedrock::collapse`). Families not listed (AI21, legacy Cohere Command text,
//! Stability) do not parse: record mode saves them raw. Rejected: guessing a family
//! for an opaque id from a bare `prompt` (Llama, Mistral and DeepSeek all send one,
//! and answer differently), which would record a reply in the wrong shape.

pub mod collapse;
mod embed;
mod prompt;
mod text;
mod turns;

use serde_json::{json, Value};

use super::{invocation_metrics, latency_ms, Tokens};
use crate::cassette::Fixture;
use crate::providers::common::{answer, json_body, ParseError, RenderContext, RenderPlan};
use crate::request::ChatRequest;

/// A model family's invoke body, as far as its shape goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The Anthropic Messages body.
    Anthropic,
    /// Amazon Nova (`messages-v1`).
    Nova,
    /// Amazon Titan text.
    TitanText,
    /// Amazon Titan embeddings (v1 and v2).
    TitanEmbed,
    /// Meta Llama.
    Llama,
    /// Mistral with a `prompt`.
    MistralText,
    /// Mistral Large with chat `messages`.
    MistralChat,
    /// Cohere Command R / R+.
    CohereCommand,
    /// Cohere Embed.
    CohereEmbed,
    /// DeepSeek R1.
    DeepSeek,
    /// OpenAI's open-weight models (gpt-oss): the chat completions body.
    OpenAiChat,
}

/// Where the parsed dialect is kept on the request (a render hint, never matched).
const HINT: &str = "bedrockDialect";

impl Dialect {
    const ALL: [(Dialect, &'static str); 11] = [
        (Dialect::Anthropic, "anthropic"),
        (Dialect::Nova, "nova"),
        (Dialect::TitanText, "titan-text"),
        (Dialect::TitanEmbed, "titan-embed"),
        (Dialect::Llama, "llama"),
        (Dialect::MistralText, "mistral-text"),
        (Dialect::MistralChat, "mistral-chat"),
        (Dialect::CohereCommand, "cohere-command"),
        (Dialect::CohereEmbed, "cohere-embed"),
        (Dialect::DeepSeek, "deepseek"),
        (Dialect::OpenAiChat, "openai-chat"),
    ];

    /// The dialect's name (the hint's value, and log lines).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(d, _)| *d == self)
            .map_or("anthropic", |(_, n)| n)
    }

    fn from_name(s: &str) -> Option<Dialect> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(d, _)| *d)
    }

    /// The dialect a parsed request was read in (Anthropic for requests built
    /// elsewhere, such as the journal's re-parse of an older body).
    pub fn of_request(req: &ChatRequest) -> Dialect {
        req.hints
            .echo
            .get(HINT)
            .and_then(Value::as_str)
            .and_then(Dialect::from_name)
            .unwrap_or(Dialect::Anthropic)
    }

    /// Whether this family answers with embeddings.
    pub fn is_embedding(self) -> bool {
        matches!(self, Dialect::TitanEmbed | Dialect::CohereEmbed)
    }
}

/// The model id without an ARN's `...:foundation-model/` part or a cross-region
/// inference profile's geography (`us.anthropic.claude-...` is `anthropic.claude-...`).
pub fn base_model_id(model: &str) -> &str {
    let id = if model.starts_with("arn:") {
        model.rsplit('/').next().unwrap_or(model)
    } else {
        model
    };
    for geo in [
        "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.", "ap.",
    ] {
        if let Some(rest) = id.strip_prefix(geo) {
            return rest;
        }
    }
    id
}

/// The family a model id names, when it names one (Mistral's two bodies are told apart
/// by the body: see [`dialect`]).
pub fn family_of(model: &str) -> Option<Dialect> {
    let id = base_model_id(model);
    let starts = |p: &str| id.starts_with(p);
    Some(if starts("anthropic.") {
        Dialect::Anthropic
    } else if starts("amazon.nova") {
        Dialect::Nova
    } else if starts("amazon.titan-embed") {
        Dialect::TitanEmbed
    } else if starts("amazon.titan-text") || starts("amazon.titan-tg1") {
        Dialect::TitanText
    } else if starts("meta.llama") {
        Dialect::Llama
    } else if starts("mistral.") {
        Dialect::MistralText
    } else if starts("cohere.embed") {
        Dialect::CohereEmbed
    } else if starts("cohere.command-r") {
        Dialect::CohereCommand
    } else if starts("deepseek.") {
        Dialect::DeepSeek
    } else if starts("openai.") {
        Dialect::OpenAiChat
    } else {
        return None;
    })
}

/// Whether a model id names an embedding family (so an unmatched request outside
/// strict mode gets a deterministic vector).
pub fn is_embedding_model(model: &str) -> bool {
    family_of(model).is_some_and(Dialect::is_embedding)
}

/// The dialect of a body sent to `model`: the model's family (Mistral split by
/// `messages`), else what the body's keys say without doubt, else Anthropic when it
/// has `messages` (the long-standing reading of an unknown id).
fn dialect(model: &str, o: &serde_json::Map<String, Value>) -> Option<Dialect> {
    let has = |k: &str| o.contains_key(k);
    match family_of(model) {
        Some(Dialect::MistralText) if has("messages") => return Some(Dialect::MistralChat),
        Some(d) => return Some(d),
        // A `vendor.model` id of a family not read here (AI21, Stability, legacy
        // Cohere Command): its body is not guessed at.
        None if base_model_id(model).contains('.') => return None,
        None => {}
    }
    Some(if has("anthropic_version") {
        Dialect::Anthropic
    } else if has("schemaVersion") || has("inferenceConfig") {
        Dialect::Nova
    } else if has("textGenerationConfig") {
        Dialect::TitanText
    } else if has("inputText") && (has("dimensions") || has("normalize") || has("embeddingTypes")) {
        Dialect::TitanEmbed
    } else if has("max_gen_len") {
        Dialect::Llama
    } else if has("texts") && has("input_type") {
        Dialect::CohereEmbed
    } else if has("message") && !has("messages") {
        Dialect::CohereCommand
    } else if has("messages") {
        Dialect::Anthropic
    } else {
        return None;
    })
}

/// Parse an invoke body into the neutral form, in its family's dialect.
pub fn parse_request(model: &str, stream: bool, body: &[u8]) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let Some(d) = dialect(model, &o) else {
        return Err(ParseError::bad(
            "unknown_model_family",
            "Malformed input request: the model family of this invoke body is not recognised, please reformat your input and try again.",
        ));
    };
    let mut req = match d {
        Dialect::Anthropic => super::invoke::parse_object(model, stream, body, &o)?,
        Dialect::Nova => super::converse::parse_request(model, stream, body)?,
        Dialect::TitanText | Dialect::Llama | Dialect::MistralText | Dialect::DeepSeek => {
            text::parse(d, model, stream, body, &o)?
        }
        Dialect::MistralChat | Dialect::OpenAiChat | Dialect::CohereCommand => {
            turns::parse(d, model, stream, body, &o)?
        }
        Dialect::TitanEmbed | Dialect::CohereEmbed => embed::parse(d, model, body, &o)?,
    };
    req.hints.echo.insert(HINT.into(), d.name().into());
    Ok(req)
}

/// The `native.provider` of an invoke embedding fixture that keeps the recorded body
/// whole (several inputs or types).
pub const EMBED_NATIVE: &str = "bedrock.invoke";

/// Render a matched (non-error) fixture for an invoke request, in the request's dialect.
pub fn render(fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> Result<RenderPlan, String> {
    let d = Dialect::of_request(req);
    if d.is_embedding() {
        let v = answer::embedding(fx, "a Bedrock embeddings request")?;
        let plan = crate::providers::common::native::overlay_plan(
            embed::render(d, v, req, ctx),
            answer::embedding_native(fx, EMBED_NATIVE),
        );
        return Ok(with_token_headers(plan, req, ctx));
    }
    let reply = answer::chat(fx, "a Bedrock invoke request")?;
    let framing = |e: crate::codec::Error| {
        format!(
            "Fixture {} cannot be framed as an EventStream: {e}",
            fx.origin
        )
    };
    if req.stream {
        let events: Vec<(Value, bool)> = match d {
            Dialect::Anthropic => {
                return super::invoke::render_stream(reply, req, ctx).map_err(framing)
            }
            Dialect::Nova => nova_events(reply, req, ctx),
            Dialect::TitanText | Dialect::Llama | Dialect::MistralText | Dialect::DeepSeek => {
                text::stream_events(d, reply, req, ctx)
            }
            _ => turns::stream_events(d, reply, req, ctx),
        };
        return chunk_plan(events, Tokens::of(reply, req), ctx).map_err(framing);
    }
    let body = match d {
        Dialect::Anthropic => return Ok(super::invoke::render_json(reply, req, ctx)),
        Dialect::Nova => {
            let mut plan = super::converse::render_json(reply, req, ctx);
            // Nova's invoke reply is the Converse reply without its `metrics`.
            if let crate::providers::common::PlanBody::Full(b) = &plan.body {
                if let Ok(mut v) = serde_json::from_slice::<Value>(b) {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("metrics");
                    }
                    plan = RenderPlan::json(200, &v);
                }
            }
            return Ok(with_token_headers(plan, req, ctx));
        }
        Dialect::TitanText | Dialect::Llama | Dialect::MistralText | Dialect::DeepSeek => {
            text::json(d, reply, req, ctx)
        }
        _ => turns::json(d, reply, req, ctx),
    };
    let mut plan = RenderPlan::json(200, &body);
    let t = Tokens::of(reply, req);
    push_token_headers(&mut plan, t.input, t.output, ctx);
    Ok(plan)
}

fn with_token_headers(mut plan: RenderPlan, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let input = req
        .embedding_inputs
        .as_ref()
        .map(|i| {
            i.iter()
                .map(|s| crate::providers::common::estimate_tokens(s.chars().count()))
                .sum()
        })
        .unwrap_or(0);
    push_token_headers(&mut plan, input, 0, ctx);
    plan
}

/// The token and latency headers every non-streamed invoke reply carries.
fn push_token_headers(plan: &mut RenderPlan, input: u64, output: u64, ctx: &RenderContext) {
    plan.headers.extend([
        ("x-amzn-bedrock-input-token-count", input.to_string().into()),
        (
            "x-amzn-bedrock-output-token-count",
            output.to_string().into(),
        ),
        (
            "x-amzn-bedrock-invocation-latency",
            latency_ms(ctx).to_string().into(),
        ),
    ]);
}

/// Frame model events as chunks; the last gets the invocation metrics.
fn chunk_plan(
    mut events: Vec<(Value, bool)>,
    tokens: Tokens,
    ctx: &RenderContext,
) -> Result<RenderPlan, crate::codec::Error> {
    if let Some((Value::Object(last), _)) = events.last_mut() {
        last.insert(
            "amazon-bedrock-invocationMetrics".into(),
            invocation_metrics(tokens, ctx),
        );
    }
    super::chunk_stream(events)
}

/// Nova streams the Converse events, each wrapped as `{"<eventName>": payload}`.
fn nova_events(
    reply: &crate::cassette::model::ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Vec<(Value, bool)> {
    super::converse::stream_events(reply, req, ctx)
        .into_iter()
        .map(|(name, mut v, paced)| {
            if name == "metadata" {
                if let Some(o) = v.as_object_mut() {
                    // Nova's metadata names no latency in `metrics`; the invocation
                    // metrics added to the last chunk carry it.
                    o.insert("metrics".into(), json!({}));
                    o.insert("trace".into(), json!({}));
                }
            }
            (json!({ name: v }), paced)
        })
        .collect()
}

/// The deterministic answer to an unmatched embedding request (outside strict mode).
pub fn fallback_embedding(req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
    let d = Dialect::of_request(req);
    d.is_embedding()
        .then(|| with_token_headers(embed::fallback(d, req, ctx), req, ctx))
}

/// The stop reason of a prompt-completion family, from the fixture's (OpenAI
/// vocabulary, or the family's own word, which passes through).
fn finish_word(reply: &crate::cassette::model::ChatReply, table: &[(&str, &str)]) -> String {
    let f = reply.overrides.finish_reason.as_deref().unwrap_or("stop");
    table
        .iter()
        .find(|(ours, _)| *ours == f)
        .map_or(f, |(_, theirs)| theirs)
        .to_string()
}

#[cfg(test)]
mod tests;
