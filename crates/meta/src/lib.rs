//! Ordered, transactional key-value storage for all coffer metadata, with group commit.
//!
//! Layers, bottom up:
//! * [`Backend`]: the narrow seam a storage engine implements: point read, ordered range read,
//!   atomic durable batch commit. [`RedbBackend`] for production, [`MemoryBackend`] for tests.
//! * [`Store`]: direct reads of committed state, and transactions ([`Store::transact`],
//!   [`Store::transact_async`]) run one at a time by a committer thread that commits whatever
//!   queued up as one durable batch (group commit).
//! * [`codec`]: versioned JSON values and ordered numeric keys.
//!
//! The contract, the algorithm and the value format are specified in `docs/design/meta.md`.

mod backend;
mod batch;
pub mod codec;
mod error;
mod memory;
mod metrics;
mod range;
mod redb_backend;
mod store;
mod txn;

pub use backend::{Backend, Entry};
pub use batch::{Op, WriteBatch};
pub use error::Error;
pub use memory::MemoryBackend;
pub use metrics::{Histogram, MetricsSnapshot, LATENCY_BUCKETS};
pub use range::{prefix_successor, Range};
pub use redb_backend::RedbBackend;
pub use store::Store;
pub use txn::Txn;
