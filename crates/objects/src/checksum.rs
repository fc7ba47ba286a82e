//! Digests computed while a body streams: the MD5 ETag and S3's additional checksums.

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use crc_fast::{CrcAlgorithm, Digest as CrcDigest};
use md5::{Digest as _, Md5};

use crate::model::ChecksumAlgorithm;

/// One running checksum.
pub(crate) enum Hasher {
    /// Boxed: the SIMD CRC state is several times the size of a SHA context.
    Crc(Box<CrcDigest>, usize),
    Sha(digest::Context),
}

impl Hasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Hasher {
        match algorithm {
            ChecksumAlgorithm::Crc32 => {
                Hasher::Crc(Box::new(CrcDigest::new(CrcAlgorithm::Crc32IsoHdlc)), 4)
            }
            ChecksumAlgorithm::Crc32c => {
                Hasher::Crc(Box::new(CrcDigest::new(CrcAlgorithm::Crc32Iscsi)), 4)
            }
            ChecksumAlgorithm::Crc64Nvme => {
                Hasher::Crc(Box::new(CrcDigest::new(CrcAlgorithm::Crc64Nvme)), 8)
            }
            ChecksumAlgorithm::Sha1 => {
                Hasher::Sha(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            ChecksumAlgorithm::Sha256 => Hasher::Sha(digest::Context::new(&digest::SHA256)),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc(d, _) => d.update(data),
            Hasher::Sha(c) => c.update(data),
        }
    }

    /// The raw big-endian digest bytes.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc(d, width) => d.finalize().to_be_bytes()[8 - width..].to_vec(),
            Hasher::Sha(c) => c.finish().as_ref().to_vec(),
        }
    }
}

/// Base64 as S3 prints checksums.
pub(crate) fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text.trim()).ok()
}

/// The checksum of a whole object made of parts with these raw CRCs and plaintext sizes
/// (`FULL_OBJECT` multipart checksums), by CRC combination.
pub(crate) fn combine_crc(
    algorithm: ChecksumAlgorithm,
    parts: &[(Vec<u8>, u64)],
) -> Option<Vec<u8>> {
    let (crc, width) = match algorithm {
        ChecksumAlgorithm::Crc32 => (CrcAlgorithm::Crc32IsoHdlc, 4),
        ChecksumAlgorithm::Crc32c => (CrcAlgorithm::Crc32Iscsi, 4),
        ChecksumAlgorithm::Crc64Nvme => (CrcAlgorithm::Crc64Nvme, 8),
        _ => return None,
    };
    let mut acc: Option<u64> = None;
    for (raw, len) in parts {
        let mut be = [0u8; 8];
        be[8 - width..].copy_from_slice(raw.get(..width)?);
        let value = u64::from_be_bytes(be);
        acc = Some(match acc {
            None => value,
            Some(a) => crc_fast::checksum_combine(crc, a, value, *len),
        });
    }
    Some(acc?.to_be_bytes()[8 - width..].to_vec())
}

/// Checksum of the concatenated raw part checksums (`COMPOSITE` multipart checksums).
pub(crate) fn composite(algorithm: ChecksumAlgorithm, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut h = Hasher::new(algorithm);
    for p in parts {
        h.update(p);
    }
    h.finish()
}

/// The running MD5 of a body (the ETag of a single-part object, `Content-MD5` verification).
pub(crate) struct Md5Hasher(Md5);

impl Md5Hasher {
    pub fn new() -> Self {
        Md5Hasher(Md5::new())
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

/// MD5 of `data` in one go (multipart ETags).
pub(crate) fn md5(data: &[u8]) -> [u8; 16] {
    let mut h = Md5Hasher::new();
    h.update(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = Hasher::new(alg);
        h.update(data);
        b64(&h.finish())
    }

    /// Values as S3 and the AWS SDKs print them for "hello world".
    #[test]
    fn known_values() {
        let d = b"hello world";
        assert_eq!(of(ChecksumAlgorithm::Crc32, d), "DUoRhQ==");
        assert_eq!(of(ChecksumAlgorithm::Crc32c, d), "yZRlqg==");
        assert_eq!(
            of(ChecksumAlgorithm::Sha1, d),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            of(ChecksumAlgorithm::Sha256, d),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert_eq!(of(ChecksumAlgorithm::Crc64Nvme, d), "jSnVw/bqjr4=");
        assert_eq!(hex::encode(md5(d)), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    }

    #[test]
    fn crc_combination_equals_whole() {
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let whole = of(alg, b"hello world, twice over");
            let parts: Vec<(Vec<u8>, u64)> = [&b"hello wor"[..], b"ld, twice", b" over"]
                .iter()
                .map(|p| {
                    let mut h = Hasher::new(alg);
                    h.update(p);
                    (h.finish(), p.len() as u64)
                })
                .collect();
            assert_eq!(b64(&combine_crc(alg, &parts).unwrap()), whole, "{alg:?}");
        }
    }
}
