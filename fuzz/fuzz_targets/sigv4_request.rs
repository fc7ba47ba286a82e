//! cargo-fuzz entry point of the `sigv4_request` target; the body is `fuzz_targets::sigv4_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::sigv4_request(data));
