//! The objects engine's integration tests, each run on MemoryBackend + MemoryBlobStore and on
//! RedbBackend + LocalBlobStore in a tempdir: buckets and configuration, objects and errors, the
//! versioning matrix, listing against a model, range reads, multipart, copy, tagging, tampering,
//! crash consistency, no plaintext on disk, and concurrency.

mod support;

mod buckets;
mod crash;
mod disk;
mod listing;
mod multipart;
mod objects;
mod ranges;
mod versioning;
