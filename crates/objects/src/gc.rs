//! Orphan collection: blobs no record references (a crash between a blob's commit and its
//! record's commit, or a failed post-commit delete) are removed with `BlobStore::gc`.

use std::collections::HashSet;
use std::time::Duration;

use blob::{BlobId, GcReport};
use meta::Range;

use crate::records::{tables, PartRecord, VersionRecord};
use crate::{ObjectError, Objects};

const PAGE: usize = 1000;

impl Objects {
    /// Every blob referenced by committed metadata. Parts are read before versions: completing
    /// an upload moves its references from parts to a version, so this order sees each live blob
    /// in at least one of the two scans whenever the completion happens.
    pub async fn referenced_blobs(&self) -> Result<HashSet<BlobId>, ObjectError> {
        let mut live = HashSet::new();
        for table in [tables::PARTS, tables::VERSIONS] {
            let mut range = Range::all();
            loop {
                let rows = self.store().scan(table, range.clone().limit(PAGE))?;
                let Some((last, _)) = rows.last() else { break };
                range = Range::all().after(last);
                for (_, v) in &rows {
                    let blobs = if table == tables::PARTS {
                        vec![meta::codec::decode_json::<PartRecord>(v)?.blob]
                    } else {
                        meta::codec::decode_json::<VersionRecord>(v)?.blobs()
                    };
                    for b in blobs {
                        live.insert(crate::get::parse_blob(&b)?);
                    }
                }
                if rows.len() < PAGE {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(live)
    }

    /// Deletes unreferenced blobs older than `grace` (use a grace far above the longest upload,
    /// e.g. an hour; `Duration::ZERO` only when no write can be in flight, as at startup).
    pub async fn collect_garbage(&self, grace: Duration) -> Result<GcReport, ObjectError> {
        let live = self.referenced_blobs().await?;
        Ok(self
            .blobs()
            .gc(&|id: &BlobId| live.contains(id), grace)
            .await?)
    }
}
