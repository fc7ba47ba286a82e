//! The envelope crate's integration tests: round trips, tamper detection, range reads and golden files.

mod golden;
mod range;
mod roundtrip;
mod support;
mod tamper;
