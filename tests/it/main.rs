//! The one integration-test binary: `cargo test --test it [NAME]`.

mod check_cmd;
mod reload;
mod support;
mod unused;
