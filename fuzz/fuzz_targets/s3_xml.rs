//! cargo-fuzz entry point of the `s3_xml` target; the body is `fuzz_targets::s3_xml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::s3_xml(data));
