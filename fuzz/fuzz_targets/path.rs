//! cargo-fuzz entry point of the `path` target; the body is `fuzz_targets::path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::path(data));
