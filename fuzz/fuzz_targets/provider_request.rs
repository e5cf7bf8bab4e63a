//! Fuzz target: `aimock::fuzzing::provider_request` (see that function for the input's layout).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aimock::fuzzing::provider_request(data));
