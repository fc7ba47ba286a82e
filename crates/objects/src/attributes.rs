//! GetObjectAttributes: ETag, checksum, parts, storage class and size of one version.

use crate::model::{Checksum, ObjectInfo, ObjectPart};

/// What GetObjectAttributes can return; the API layer picks the requested ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectAttributes {
    pub version_id: String,
    pub etag: String,
    pub checksum: Option<Checksum>,
    pub storage_class: &'static str,
    pub object_size: u64,
    /// Total number of parts of a multipart object.
    pub parts_count: Option<u32>,
    /// The requested page of parts (after `part_number_marker`, at most `max_parts`).
    pub parts: Vec<ObjectPart>,
    pub parts_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

impl ObjectInfo {
    /// GetObjectAttributes for this version, with one page of its parts.
    pub fn attributes(
        &self,
        part_number_marker: Option<u32>,
        max_parts: usize,
    ) -> ObjectAttributes {
        let all = self.parts();
        let after = part_number_marker.unwrap_or(0);
        let mut rest = all.into_iter().filter(|p| p.part_number > after);
        let parts: Vec<ObjectPart> = rest.by_ref().take(max_parts.min(1000)).collect();
        let parts_truncated = rest.next().is_some();
        ObjectAttributes {
            version_id: self.version_id.clone(),
            etag: self.etag.clone(),
            checksum: self.checksum.clone(),
            storage_class: self.storage_class,
            object_size: self.size,
            parts_count: self.parts_count,
            next_part_number_marker: if parts_truncated {
                parts.last().map(|p| p.part_number)
            } else {
                None
            },
            parts,
            parts_truncated,
        }
    }
}
