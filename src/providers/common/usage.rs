//! Token counts for replies that carry usage, computed once for every provider: a
//! count the fixture pins wins, else the reference's estimate `max(1, ceil(chars/4))`
//! over the prompt's text and tool calls, and over the reply's text, tool names and
//! arguments.
//!
//! Reasoning text is the one place the providers differ, and each keeps the bytes it
//! sent before this was shared (the reference leaves Anthropic and Responses usage at
//! zero, so it names no rule for them): OpenAI chat, Gemini (which reports thoughts in
//! their own field), Cohere and Ollama leave it out of the output; Anthropic and Bedrock
//! count its characters with the text ([`output_chars`] with `reasoning: true`);
//! Responses adds a separate estimate of it to the output.
//!
//! Not here: where each provider writes its usage object (each provider's renderer).

use crate::cassette::model::{ChatReply, ToolCall, Usage};
use crate::request::ChatRequest;

/// Input, output and total tokens of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
    /// Pinned, else `input + output`.
    pub total: u64,
}

impl Counts {
    /// The counts for a reply: each pinned by `pinned` when it says, else `input`
    /// estimated from the request and `output` from `estimate_output` (called only when
    /// the fixture pins no output count).
    pub(crate) fn of(
        pinned: Option<&Usage>,
        req: &ChatRequest,
        estimate_output: impl FnOnce() -> u64,
    ) -> Counts {
        let input = pinned
            .and_then(|u| u.input())
            .unwrap_or_else(|| estimate_tokens(prompt_chars(req)));
        let output = pinned
            .and_then(|u| u.output())
            .unwrap_or_else(estimate_output);
        let total = pinned
            .and_then(|u| u.total_tokens.or(u.total_token_count))
            .unwrap_or(input + output);
        Counts {
            input,
            output,
            total,
        }
    }
}

/// Characters of tool names and arguments.
pub(crate) fn call_chars(calls: &[&ToolCall]) -> usize {
    calls.iter().map(|c| c.name.len() + c.arguments.len()).sum()
}

/// Characters of a reply's output: its text and tool calls, and its reasoning text when
/// `reasoning` (see the module doc for who counts it).
pub(crate) fn output_chars(reply: &ChatReply, reasoning: bool) -> usize {
    let reasoning = if reasoning {
        reply.reasoning.as_deref().map_or(0, |r| r.chars().count())
    } else {
        0
    };
    reply.text_chars() + reasoning + call_chars(&reply.calls())
}

/// The reference's token estimate: `max(1, ceil(chars / 4))`.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    (chars.div_ceil(4)).max(1) as u64
}

/// Characters of prompt text in a request (every message's text and tool calls).
pub(crate) fn prompt_chars(req: &ChatRequest) -> usize {
    req.messages
        .iter()
        .map(|m| {
            m.text.as_deref().map_or(0, |t| t.chars().count())
                + m.tool_calls
                    .iter()
                    .map(|c| c.name.len() + c.arguments.len())
                    .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_counts_win_and_the_output_estimate_runs_only_when_needed() {
        let req = ChatRequest::new(crate::request::Endpoint::Chat, b"{}");
        let pinned = Usage {
            completion_tokens: Some(7),
            ..Usage::default()
        };
        let c = Counts::of(Some(&pinned), &req, || panic!("output is pinned"));
        assert_eq!((c.input, c.output, c.total), (1, 7, 8));
        let c = Counts::of(None, &req, || 3);
        assert_eq!((c.input, c.output, c.total), (1, 3, 4));
    }

    #[test]
    fn token_estimate_is_at_least_one() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(9), 3);
    }
}
