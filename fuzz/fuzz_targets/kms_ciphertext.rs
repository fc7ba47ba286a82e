//! cargo-fuzz entry point of the `kms_ciphertext` target; the body is `fuzz_targets::kms_ciphertext`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::kms_ciphertext(data));
