//! cargo-fuzz entry point of the `cloudfront_signed` target; the body is `fuzz_targets::cloudfront_signed`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::cloudfront_signed(data));
