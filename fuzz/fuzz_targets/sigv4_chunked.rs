//! cargo-fuzz entry point of the `sigv4_chunked` target; the body is `fuzz_targets::sigv4_chunked`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::sigv4_chunked(data));
