//! cargo-fuzz entry point of the `envelope` target; the body is `fuzz_targets::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::envelope(data));
