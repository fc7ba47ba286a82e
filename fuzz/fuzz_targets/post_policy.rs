//! cargo-fuzz entry point of the `post_policy` target; the body is `fuzz_targets::post_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::post_policy(data));
