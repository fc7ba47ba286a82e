//! CopyObject and UploadPartCopy support: open a source version as a verified plaintext stream,
//! then write it like any upload (re-encrypted under the destination's key and descriptor).

use zeroize::Zeroizing;

use crate::model::{ByteRange, ObjectInfo, PutOutcome, ReadConditions};
use crate::put::PutObject;
use crate::stream::ObjectStream;
use crate::{ObjectError, Objects};

/// An opened copy source: its metadata (for `x-amz-metadata-directive: COPY`, tags, and the
/// response's `x-amz-copy-source-version-id`) and its plaintext.
#[derive(Debug)]
pub struct CopySource {
    pub info: ObjectInfo,
    pub stream: ObjectStream,
}

impl Objects {
    /// Opens `bucket/key[?versionId]` as a copy source: evaluates `x-amz-copy-source-if-*`
    /// (every failure is 412), resolves `range` (UploadPartCopy's `x-amz-copy-source-range`),
    /// and asks `data_key` for the source's unwrapped key, given its descriptor.
    pub async fn open_copy_source(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: &ReadConditions,
        range: Option<ByteRange>,
        data_key: impl Fn(&ObjectInfo) -> Result<Zeroizing<[u8; 32]>, ObjectError>,
    ) -> Result<CopySource, ObjectError> {
        let info = self.head_object(bucket, key, version_id)?;
        conditions.check_copy_source(&info)?;
        let range = range.map(|r| r.resolve(info.size)).transpose()?;
        let key = data_key(&info)?;
        let stream = self.read_object(&info, &key, range).await?;
        Ok(CopySource { info, stream })
    }

    /// CopyObject: writes the source's plaintext as `dest` (whose metadata, tags, encryption and
    /// conditions the API layer chose per the metadata/tagging directives). The source stays
    /// readable until the destination commits, so copying an object onto itself is safe.
    pub async fn copy_object(
        &self,
        source: CopySource,
        mut dest: PutObject,
    ) -> Result<PutOutcome, ObjectError> {
        dest.content_length = Some(source.stream.content_length);
        dest.content_md5 = None;
        dest.checksums.clear();
        self.put_object(dest, source.stream).await
    }
}
