//! cargo-fuzz entry point of the `edge_request` target; the body is `fuzz_targets::edge_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::edge_request(data));
