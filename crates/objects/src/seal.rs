//! Sealing a plaintext body stream: envelope encryption, MD5 and checksums computed on the way,
//! stored inline (small) or as a blob (large), verified before the caller may make it visible.

use std::collections::BTreeMap;

use blob::{BlobId, BlobWriter};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt as _;

use crate::checksum::{Hasher, Md5Hasher};
use crate::model::ChecksumAlgorithm;
use crate::put::LateChecksum;
use crate::{ObjectError, Objects};

/// Largest slice handed to the encryptor at once, so one huge input chunk does not balloon the
/// ciphertext buffer.
const SLICE: usize = 1 << 20;
/// Ciphertext is handed to the blob writer in pieces of about this size.
const FLUSH: usize = 256 << 10;

/// What to seal and check.
pub(crate) struct SealSpec<'a> {
    pub data_key: &'a [u8; 32],
    pub aad: Vec<u8>,
    pub declared_len: Option<u64>,
    pub content_md5: Option<&'a str>,
    /// Checksums to compute, with the value the client declared for each, if any.
    pub checksums: BTreeMap<ChecksumAlgorithm, Option<String>>,
    /// A checksum whose expected value is known only once the body ended (its algorithm is
    /// among `checksums`).
    pub late_checksum: Option<LateChecksum>,
    pub allow_inline: bool,
}

/// A sealed, verified, durable body not yet referenced by any record.
pub(crate) struct Sealed {
    pub size: u64,
    pub md5: [u8; 16],
    pub checksums: BTreeMap<ChecksumAlgorithm, Vec<u8>>,
    pub body: SealedBody,
}

pub(crate) enum SealedBody {
    Inline(Vec<u8>),
    Blob { id: BlobId, cipher_len: u64 },
}

impl SealedBody {
    pub fn blob(&self) -> Option<String> {
        match self {
            SealedBody::Blob { id, .. } => Some(id.to_hex()),
            SealedBody::Inline(_) => None,
        }
    }
}

/// Converts a body stream's error for the engine.
pub(crate) fn body_error<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> ObjectError {
    ObjectError::BodyRead(e.into().to_string())
}

impl Objects {
    /// Streams `body` through the envelope into the inline buffer or a blob, then checks length
    /// and digests. On any error the blob (if one was started) is discarded.
    pub(crate) async fn seal<S, E>(
        &self,
        mut body: S,
        mut spec: SealSpec<'_>,
    ) -> Result<Sealed, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let config = self.config();
        if let Some(len) = spec.declared_len {
            if len > config.max_put_size {
                return Err(ObjectError::EntityTooLarge);
            }
        }
        let expected_md5 = spec
            .content_md5
            .map(|m| {
                crate::checksum::b64_decode(m)
                    .filter(|d| d.len() == 16)
                    .ok_or_else(|| {
                        ObjectError::InvalidDigest(
                            "The Content-MD5 you specified was invalid.".into(),
                        )
                    })
            })
            .transpose()?;
        let mut sealer = Sealer {
            encryptor: Some(envelope::Encryptor::new(
                spec.data_key,
                &spec.aad,
                config.segment_size,
            )),
            out: Vec::new(),
            writer: None,
            cipher_len: 0,
        };
        let fits_inline = |len: u64| {
            envelope::ciphertext_len(len, config.segment_size)
                .is_some_and(|c| c <= config.inline_limit)
        };
        if !spec.allow_inline || spec.declared_len.is_some_and(|l| !fits_inline(l)) {
            sealer.writer = Some(self.blobs().create().await?);
        }
        let mut md5 = Md5Hasher::new();
        let mut hashers: Vec<(ChecksumAlgorithm, Hasher)> = spec
            .checksums
            .keys()
            .map(|&a| (a, Hasher::new(a)))
            .collect();
        let mut size: u64 = 0;

        let result: Result<(), ObjectError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(body_error)?;
                size += chunk.len() as u64;
                if size > config.max_put_size {
                    return Err(ObjectError::EntityTooLarge);
                }
                if spec.declared_len.is_some_and(|l| size > l) {
                    return Err(ObjectError::IncompleteBody);
                }
                for slice in chunk.chunks(SLICE) {
                    md5.update(slice);
                    for (_, h) in &mut hashers {
                        h.update(slice);
                    }
                    sealer.update(slice)?;
                    if sealer.writer.is_none() && sealer.out.len() as u64 > config.inline_limit {
                        sealer.writer = Some(self.blobs().create().await?);
                    }
                    sealer.flush(false).await?;
                }
            }
            if spec.declared_len.is_some_and(|l| size != l) {
                return Err(ObjectError::IncompleteBody);
            }
            sealer.finish()?;
            if sealer.writer.is_none() && sealer.out.len() as u64 > config.inline_limit {
                sealer.writer = Some(self.blobs().create().await?);
            }
            sealer.flush(true).await
        }
        .await;
        if let Err(e) = result {
            sealer.abort().await;
            return Err(e);
        }

        // The body has ended, so a trailing checksum is now readable.
        if let Some(late) = spec.late_checksum.take() {
            let algorithm = late.algorithm;
            match late.take() {
                Some(value) => {
                    spec.checksums.insert(algorithm, Some(value));
                }
                // A checksum announced in `x-amz-trailer` that never came leaves the body unverified: refuse it
                // rather than store what the client asked us to check.
                None => {
                    sealer.abort().await;
                    return Err(ObjectError::InvalidRequest(format!(
                        "The trailing checksum x-amz-checksum-{} announced in x-amz-trailer was not sent.",
                        algorithm.as_str().to_ascii_lowercase()
                    )));
                }
            }
        }
        let md5 = md5.finish();
        let checksums: BTreeMap<ChecksumAlgorithm, Vec<u8>> =
            hashers.into_iter().map(|(a, h)| (a, h.finish())).collect();
        let verified = verify(&md5, expected_md5.as_deref(), &checksums, &spec.checksums);
        if let Err(e) = verified {
            sealer.abort().await;
            return Err(e);
        }

        let body = match sealer.writer.take() {
            Some(writer) => {
                let id = writer.commit().await?;
                if let Some(hook) = &config.after_blob_commit {
                    hook();
                }
                SealedBody::Blob {
                    id,
                    cipher_len: sealer.cipher_len,
                }
            }
            None => SealedBody::Inline(std::mem::take(&mut sealer.out)),
        };
        Ok(Sealed {
            size,
            md5,
            checksums,
            body,
        })
    }
}

/// Checks Content-MD5 and every declared checksum against what was computed.
fn verify(
    md5: &[u8; 16],
    expected_md5: Option<&[u8]>,
    computed: &BTreeMap<ChecksumAlgorithm, Vec<u8>>,
    declared: &BTreeMap<ChecksumAlgorithm, Option<String>>,
) -> Result<(), ObjectError> {
    if expected_md5.is_some_and(|e| e != md5) {
        return Err(ObjectError::BadDigest(
            "The Content-MD5 you specified did not match what we received.".into(),
        ));
    }
    for (alg, want) in declared {
        let Some(want) = want else { continue };
        let got = computed.get(alg).map(|c| crate::checksum::b64(c));
        if got.as_deref() != Some(want.trim()) {
            return Err(ObjectError::BadDigest(format!(
                "The {} you specified did not match the calculated checksum.",
                alg.as_str()
            )));
        }
    }
    Ok(())
}

/// The envelope encryptor and where its output goes.
struct Sealer {
    encryptor: Option<envelope::Encryptor>,
    out: Vec<u8>,
    writer: Option<Box<dyn BlobWriter>>,
    cipher_len: u64,
}

impl Sealer {
    fn update(&mut self, plaintext: &[u8]) -> Result<(), ObjectError> {
        let enc = self
            .encryptor
            .as_mut()
            .ok_or_else(|| ObjectError::Internal("sealer already finished".into()))?;
        enc.update(plaintext, &mut self.out)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ObjectError> {
        let enc = self
            .encryptor
            .take()
            .ok_or_else(|| ObjectError::Internal("sealer already finished".into()))?;
        enc.finish(&mut self.out)?;
        Ok(())
    }

    /// Hands buffered ciphertext to the blob writer (all of it if `all`, else once a flush-sized
    /// piece is ready). Inline bodies stay buffered.
    async fn flush(&mut self, all: bool) -> Result<(), ObjectError> {
        if let Some(w) = &mut self.writer {
            if !self.out.is_empty() && (all || self.out.len() >= FLUSH) {
                w.write(&self.out).await?;
                self.cipher_len += self.out.len() as u64;
                self.out.clear();
            }
        }
        Ok(())
    }

    async fn abort(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort().await;
        }
    }
}
