//! Fuzz target: `aimock::fuzzing::eventstream` (see that function for the input's layout).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aimock::fuzzing::eventstream(data));
