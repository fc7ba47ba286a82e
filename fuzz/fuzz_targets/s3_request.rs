//! cargo-fuzz entry point of the `s3_request` target; the body is `fuzz_targets::s3_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::s3_request(data));
