//! The integration suite: one test binary, with a shared harness in `support`.

mod agents;
mod chaos;
mod check_cmd;
mod config;
mod control;
mod differential;
mod hostile;
mod media;
mod metrics;
mod physics;
mod raw_exchange;
mod realtime;
mod record;
mod record_google;
mod record_providers;
mod reference_rules;
mod reload;
mod replay;
mod respond;
mod secrets;
mod services;
mod shutdown;
mod support;
mod unused;
mod upstream;
mod websocket;
