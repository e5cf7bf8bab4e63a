//! Token estimates for replies that carry usage: the reference's rule, in one place.
//!
//! Not here: where each provider writes its usage object (each provider's renderer).

use crate::request::ChatRequest;

/// The reference's token estimate: `max(1, ceil(chars / 4))`.
pub fn estimate_tokens(chars: usize) -> u64 {
    (chars.div_ceil(4)).max(1) as u64
}

/// Characters of prompt text in a request (every message's text and tool calls).
pub fn prompt_chars(req: &ChatRequest) -> usize {
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
    fn token_estimate_is_at_least_one() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(9), 3);
    }
}
