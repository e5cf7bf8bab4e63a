//! The integration suite: one test binary, with a shared harness in `support`.

mod replay;
mod support;
