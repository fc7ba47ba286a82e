//! coffer's audit trail: an append-only, SHA-256 hash-chained log of CloudTrail-shaped events, with periodic
//! RSA-signed digests, offline verification, and the lookup behind CloudTrail's `LookupEvents`.
//!
//! The on-disk format is specified in `docs/design/audit.md`. In short: `segments/<first seq>.log` hold one JSON
//! line per record (`{"v":1,"seq":…,"prev":…,"hash":…,"event":{…}}`), each committing to the previous record's
//! hash; `digests/<n>.json` are signed statements of the last record hash, chained to the previous digest.
//!
//! Invariants: a record is never rewritten or removed by this crate; a new record is only ever chained onto a
//! complete, hash-checked record; a digest never vouches for records that are not yet fsynced.

mod digest;
mod error;
mod event;
mod fsutil;
mod log;
mod lookup;
mod metrics;
mod record;
mod segment;
mod signer;
mod verify;
mod writer;

pub use error::{Error, Result};
pub use event::{
    Event, EventCategory, EventType, IdentityType, Resource, SessionAttributes, SessionContext,
    SessionIssuer, TlsDetails, UserIdentity, EVENT_VERSION,
};
pub use log::{Appended, AuditConfig, AuditLog, Clock, SyncMode};
pub use lookup::{LookupAttribute, LookupPage, LookupQuery, StoredEvent};
pub use metrics::{Histogram, Metrics, FSYNC_BUCKETS};
pub use signer::DigestSigner;
pub use verify::{verify, VerifyReport};
