//! The integration suite: one test binary, with a shared harness in `support`.

mod check_cmd;
mod hostile;
mod physics;
mod record;
mod record_google;
mod record_providers;
mod reload;
mod replay;
mod support;
mod unused;
mod upstream;
