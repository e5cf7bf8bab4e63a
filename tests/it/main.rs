//! The integration suite: one test binary, with a shared harness in `support`.

mod check_cmd;
mod hostile;
mod record;
mod record_google;
mod reload;
mod replay;
mod support;
mod unused;
mod upstream;
