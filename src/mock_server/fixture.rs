//! Fixtures built in code: a builder whose output is the JSON a cassette entry takes,
//! so a fixture built here goes through the one loader (`cassette::parse`) and means
//! exactly what the same entry in a file means.
//!
//! Rejected alternative: typed Rust structs mirroring the cassette model, a second
//! schema to keep in step with the loader; a JSON map cannot drift from it.
//!
//! Not here: loading and validation (`cassette::parse`, reached through
//! [`crate::server::control::parse_batch`]), serving ([`super::MockServer`]).

use serde_json::{json, Map, Value};

/// A fixture built in code: when it matches (`match`) and what it answers
/// (`response`), plus the per-fixture options, as a cassette entry writes them.
///
/// Every constructor starts the `match`; the `reply*` methods set the `response`. A
/// fixture with no reply answers an empty text.
///
/// ```
/// use aimock::Fixture;
/// use serde_json::json;
///
/// let f = Fixture::on_message("weather in Paris")
///     .model("gpt-4o")
///     .reply_tool_call("get_weather", json!({"city": "Paris"}));
/// assert_eq!(
///     f.to_json(),
///     json!({
///         "match": {"userMessage": "weather in Paris", "model": "gpt-4o"},
///         "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
///     })
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    matcher: Map<String, Value>,
    response: Map<String, Value>,
    options: Map<String, Value>,
}

impl Fixture {
    /// A fixture whose `match` is `criteria` as written in a cassette (`{}` matches
    /// every request).
    pub fn on(criteria: Value) -> Fixture {
        Fixture {
            matcher: match criteria {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            response: Map::new(),
            options: Map::new(),
        }
    }

    /// Matches every request (of the chat kind, unless [`Fixture::endpoint`] says).
    pub fn any() -> Fixture {
        Fixture::on(json!({}))
    }

    /// Matches when the last user message contains `text` (`userMessage`).
    pub fn on_message(text: impl Into<String>) -> Fixture {
        Fixture::any().with_match("userMessage", json!(text.into()))
    }

    /// Matches an embedding request whose input contains `text` (`inputText`).
    pub fn on_embedding(text: impl Into<String>) -> Fixture {
        Fixture::any().with_match("inputText", json!(text.into()))
    }

    /// Matches when the last message is the result of the tool call `id`
    /// (`toolCallId`).
    pub fn on_tool_result(id: impl Into<String>) -> Fixture {
        Fixture::any().with_match("toolCallId", json!(id.into()))
    }

    /// Matches when the request offers a tool named `name` (`toolName`).
    pub fn on_tool(name: impl Into<String>) -> Fixture {
        Fixture::any().with_match("toolName", json!(name.into()))
    }

    /// A whole cassette entry (`{"match":..,"response":..,..}`), as written in a file.
    pub fn from_entry(entry: Value) -> Fixture {
        let mut f = Fixture::any();
        if let Value::Object(mut o) = entry {
            if let Some(Value::Object(m)) = o.remove("match") {
                f.matcher = m;
            }
            if let Some(Value::Object(r)) = o.remove("response") {
                f.response = r;
            }
            f.options = o;
        }
        f
    }

    fn with_match(mut self, key: &str, v: Value) -> Fixture {
        self.matcher.insert(key.into(), v);
        self
    }

    fn with_response(mut self, key: &str, v: Value) -> Fixture {
        self.response.insert(key.into(), v);
        self
    }

    /// Only for this model: exactly, or a dated version of it (`model`).
    pub fn model(self, model: impl Into<String>) -> Fixture {
        self.with_match("model", json!(model.into()))
    }

    /// Only when the system prompt contains `text` (`systemMessage`).
    pub fn system(self, text: impl Into<String>) -> Fixture {
        self.with_match("systemMessage", json!(text.into()))
    }

    /// Only when the request offers a tool named `name` (`toolName`).
    pub fn tool_name(self, name: impl Into<String>) -> Fixture {
        self.with_match("toolName", json!(name.into()))
    }

    /// Only when the last message is a tool result containing `text`
    /// (`toolResultContains`).
    pub fn tool_result_contains(self, text: impl Into<String>) -> Fixture {
        self.with_match("toolResultContains", json!(text.into()))
    }

    /// Only when the current turn does (or does not) hold a tool result
    /// (`hasToolResult`).
    pub fn has_tool_result(self, yes: bool) -> Fixture {
        self.with_match("hasToolResult", json!(yes))
    }

    /// The `n`-th answer (from 0) of its group: fixtures with the same criteria and
    /// increasing `sequenceIndex` answer successive requests, per test id.
    pub fn sequence(self, n: u32) -> Fixture {
        self.with_match("sequenceIndex", json!(n))
    }

    /// Prefer it for the request with `n` assistant messages (`turnIndex`).
    pub fn turn(self, n: u32) -> Fixture {
        self.with_match("turnIndex", json!(n))
    }

    /// Only for this endpoint kind (`chat`, `embedding`, `image`, `speech`, ...).
    pub fn endpoint(self, endpoint: impl Into<String>) -> Fixture {
        self.with_match("endpoint", json!(endpoint.into()))
    }

    /// Only under this `X-AIMock-Context` (`context`).
    pub fn context(self, context: impl Into<String>) -> Fixture {
        self.with_match("context", json!(context.into()))
    }

    /// Only when the request's `response_format.type` is this (`responseFormat`).
    pub fn response_format(self, kind: impl Into<String>) -> Fixture {
        self.with_match("responseFormat", json!(kind.into()))
    }

    /// Answer with this text (`response.content`).
    pub fn reply(self, text: impl Into<String>) -> Fixture {
        self.with_response("content", json!(text.into()))
    }

    /// Answer with a call of the tool `name` with these arguments (an object, or a
    /// string of JSON); called again, the reply holds several calls in order.
    pub fn reply_tool_call(mut self, name: impl Into<String>, arguments: Value) -> Fixture {
        let call = json!({"name": name.into(), "arguments": arguments});
        match self.response.get_mut("toolCalls") {
            Some(Value::Array(calls)) => calls.push(call),
            _ => {
                self.response.insert("toolCalls".into(), json!([call]));
            }
        }
        self
    }

    /// Answer with an error of this HTTP status, in the caller's provider shape
    /// (`response.error`, `response.status`).
    pub fn reply_error(self, status: u16, message: impl Into<String>) -> Fixture {
        self.with_response("error", json!({"message": message.into()}))
            .with_response("status", json!(status))
    }

    /// The error's `type` (after [`Fixture::reply_error`]), such as
    /// `rate_limit_error`.
    pub fn error_type(mut self, kind: impl Into<String>) -> Fixture {
        if let Some(Value::Object(e)) = self.response.get_mut("error") {
            e.insert("type".into(), json!(kind.into()));
        }
        self
    }

    /// The `Retry-After` seconds of a 429 (after [`Fixture::reply_error`]).
    pub fn retry_after(self, seconds: u32) -> Fixture {
        self.with_response("retryAfter", json!(seconds))
    }

    /// Answer an embedding request with this vector (`response.embedding`).
    pub fn reply_embedding(self, vector: Vec<f32>) -> Fixture {
        self.with_response("embedding", json!(vector))
    }

    /// Reasoning text shown before the answer (`response.reasoning`).
    pub fn reasoning(self, text: impl Into<String>) -> Fixture {
        self.with_response("reasoning", json!(text.into()))
    }

    /// The finish reason, in OpenAI's vocabulary (translated per provider).
    pub fn finish_reason(self, reason: impl Into<String>) -> Fixture {
        self.with_response("finishReason", json!(reason.into()))
    }

    /// Answer with this `response` object as a cassette writes it (every shape:
    /// media, raw JSON, blocks, usage overrides, ...).
    pub fn reply_json(mut self, response: Value) -> Fixture {
        if let Value::Object(r) = response {
            self.response = r;
        }
        self
    }

    /// Milliseconds before each streamed chunk (`latency`).
    pub fn latency_ms(self, ms: u64) -> Fixture {
        self.option("latency", json!(ms))
    }

    /// Characters per streamed text slice (`chunkSize`).
    pub fn chunk_size(self, n: usize) -> Fixture {
        self.option("chunkSize", json!(n))
    }

    /// Any other per-fixture option, by its cassette name (`truncateAfterChunks`,
    /// `chaos`, `streamingProfile`, ...).
    pub fn option(mut self, key: impl Into<String>, value: Value) -> Fixture {
        self.options.insert(key.into(), value);
        self
    }

    /// The cassette entry this fixture is.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("match".into(), Value::Object(self.matcher.clone()));
        let response = if self.response.is_empty() {
            json!({"content": ""})
        } else {
            Value::Object(self.response.clone())
        };
        o.insert("response".into(), response);
        for (k, v) in &self.options {
            o.insert(k.clone(), v.clone());
        }
        Value::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_builder_writes_the_cassette_entry_the_loader_takes() {
        let cases = [
            Fixture::on_message("hello").reply("Hi"),
            Fixture::on_message("q").sequence(1).reply("second"),
            Fixture::any()
                .model("gpt-4o")
                .reply_error(429, "rate limited")
                .error_type("rate_limit_error")
                .retry_after(2),
            Fixture::on_tool_result("call_1").reply("done"),
            Fixture::on_embedding("text").reply_embedding(vec![0.5, 0.25]),
            Fixture::on_message("w")
                .tool_name("get_weather")
                .reply_tool_call("get_weather", json!({"city": "Paris"}))
                .reply_tool_call("get_time", json!("{}")),
            Fixture::from_entry(
                json!({"match": {"userMessage": "x"}, "response": {"content": "y"}, "latency": 5}),
            ),
        ];
        for f in cases {
            let entry = f.to_json();
            let batch =
                crate::server::control::parse_batch(std::slice::from_ref(&entry), "<code>", 0);
            assert!(batch.is_ok(), "{entry}: {:?}", batch.err());
        }
        assert_eq!(
            Fixture::any().reply_error(429, "slow").to_json()["response"],
            json!({"error": {"message": "slow"}, "status": 429})
        );
        let calls = Fixture::any()
            .reply_tool_call("a", json!({}))
            .reply_tool_call("b", json!({}))
            .to_json();
        assert_eq!(calls["response"]["toolCalls"][1]["name"], "b");
    }
}
