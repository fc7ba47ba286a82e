//! cargo-fuzz entry point of the `cloudfront_xml` target; the body is `fuzz_targets::cloudfront_xml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::cloudfront_xml(data));
