//! Fuzz target: `aimock::fuzzing::cassette` (see that function for the input's layout).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aimock::fuzzing::cassette(data));
