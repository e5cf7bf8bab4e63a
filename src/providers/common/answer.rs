//! The reply-kind check: whether a matched fixture holds the kind of reply a surface
//! answers with (a chat reply, an embedding vector, a media reply of one kind), and the one wording of the
//! refusal when it does not. Every provider's `render` asks here first.
//!
//! Not here: error fixtures (the dispatch in `providers/mod.rs` renders those before a
//! provider sees the fixture), and the refusal's envelope (the provider's `error`).

use crate::cassette::model::{ChatReply, MediaKind, MediaReply};
use crate::cassette::{Fixture, Reply};

/// The fixture's chat reply, or the refusal's message: `what` names the request in the
/// provider's words ("an Anthropic message").
pub(crate) fn chat<'a>(fx: &'a Fixture, what: &str) -> Result<&'a ChatReply, String> {
    match &fx.reply {
        Reply::Chat(c) => Ok(c),
        _ => Err(refusal(fx, what)),
    }
}

/// The fixture's embedding vector, or the refusal's message (see [`chat`]).
pub(crate) fn embedding<'a>(fx: &'a Fixture, what: &str) -> Result<&'a Vec<f64>, String> {
    match &fx.reply {
        Reply::Embedding(v, _) => Ok(v),
        _ => Err(refusal(fx, what)),
    }
}

/// The native layer of an embedding fixture, when it belongs to `provider`.
pub(crate) fn embedding_native<'a>(
    fx: &'a Fixture,
    provider: &str,
) -> Option<&'a crate::cassette::native::Native> {
    match &fx.reply {
        Reply::Embedding(_, Some(n)) if n.provider == provider => Some(n),
        _ => None,
    }
}

/// The fixture's media reply of `kind` (the whole `response` object, as written), or
/// the refusal's message (see [`chat`]).
pub(crate) fn media<'a>(
    fx: &'a Fixture,
    kind: MediaKind,
    what: &str,
) -> Result<&'a MediaReply, String> {
    match &fx.reply {
        Reply::Media(k, v) if *k == kind => Ok(v),
        _ => Err(refusal(fx, what)),
    }
}

/// "Fixture response of kind K cannot answer W (origin)".
fn refusal(fx: &Fixture, what: &str) -> String {
    format!(
        "Fixture response of kind {} cannot answer {what} ({})",
        fx.reply.kind_name(),
        fx.origin
    )
}
