//! cargo-fuzz entry point of the `edge_conditional` target; the body is `fuzz_targets::edge_conditional`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::edge_conditional(data));
