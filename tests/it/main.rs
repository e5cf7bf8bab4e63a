//! The integration suite: one test binary, with a shared harness in `support`.

mod record;
mod record_google;
mod replay;
mod support;
mod upstream;
