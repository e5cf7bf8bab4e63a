//! Cutting streamed text into slices of a fixture's chunk size, never inside a
//! character.
//!
//! Not here: how a slice is framed (each provider's renderer).

/// Split `s` into slices of at most `size` characters, never inside a character. An
/// iterator, not a list: every streamed reply slices its texts, and a list would be an
/// allocation per text for nothing.
pub(crate) fn chunk_text(s: &str, size: usize) -> TextChunks<'_> {
    TextChunks {
        rest: s,
        size: size.max(1),
        ascii: s.is_ascii(),
    }
}

/// The slices of [`chunk_text`].
#[derive(Debug, Clone)]
pub(crate) struct TextChunks<'a> {
    rest: &'a str,
    size: usize,
    /// One byte per character: cut every `size` bytes without walking characters.
    ascii: bool,
}

impl<'a> Iterator for TextChunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let cut = if self.ascii {
            self.size.min(self.rest.len())
        } else {
            self.rest
                .char_indices()
                .nth(self.size)
                .map_or(self.rest.len(), |(i, _)| i)
        };
        let (slice, rest) = self.rest.split_at(cut);
        self.rest = rest;
        Some(slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_character_boundaries() {
        assert_eq!(
            chunk_text("hello world", 3).collect::<Vec<_>>(),
            vec!["hel", "lo ", "wor", "ld"]
        );
        assert_eq!(chunk_text("abc", 3).collect::<Vec<_>>(), vec!["abc"]);
        assert_eq!(
            chunk_text("héllo wörld", 3).collect::<Vec<_>>(),
            vec!["hél", "lo ", "wör", "ld"]
        );
        assert_eq!(chunk_text("", 3).collect::<Vec<_>>(), Vec::<&str>::new());
        assert_eq!(chunk_text("ab", 0).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(chunk_text("é", 5).collect::<Vec<_>>(), vec!["é"]);
        assert_eq!(
            chunk_text("aé🎉b", 1).collect::<Vec<_>>(),
            vec!["a", "é", "🎉", "b"]
        );
    }
}
