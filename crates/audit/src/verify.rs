//! Offline verification of a log directory: every record's hash and chain link, sequence continuity across
//! segments, and every digest's signature and agreement with the records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::digest::{signed_message, DigestBody, DigestFile, DIGEST_VERSION};
use crate::error::{Error, Result};
use crate::fsutil::list_numbered;
use crate::record::GENESIS_PREV;
use crate::segment::{scan, Check};
use crate::signer::{fingerprint, verify_signature};

/// What a successful [`verify`] checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Records checked.
    pub records: u64,
    /// Sequence number of the last record (0 for an empty log).
    pub last_seq: u64,
    /// Digest files checked.
    pub digests: usize,
    /// Last record covered by a signed digest (0 if none).
    pub digested_through: u64,
    /// Records after the last digest: intact and chained, but not yet vouched for by a signature.
    pub undigested_records: u64,
}

/// Verifies the log in `dir` against the digest-signing public key (DER `RSAPublicKey`).
///
/// Returns the first problem found. Record problems are reported before digest problems, and a torn final
/// record ([`Error::TornTail`], what a crash leaves) only if nothing worse was found, so that tampering is never
/// masked by a crash. Reads every byte once, sequentially.
pub fn verify(dir: &Path, public_key_der: &[u8]) -> Result<VerifyReport> {
    let digests = load_digests(&dir.join("digests"), public_key_der);
    // Record hashes the digests need, filled in while scanning.
    let mut wanted: HashMap<u64, Option<[u8; 32]>> = HashMap::new();
    if let Ok(ds) = &digests {
        for (_, body) in ds {
            wanted.insert(body.last_seq, None);
        }
    }

    let segments = list_numbered(&dir.join("segments"), "log")?;
    let mut next_seq = 1;
    let mut prev = GENESIS_PREV;
    let mut torn = None;
    for (i, (first_seq, path)) in segments.iter().enumerate() {
        if *first_seq != next_seq {
            return Err(Error::SegmentMisplaced {
                segment: path.clone(),
                reason: format!(
                    "starts at seq {first_seq} but seq {next_seq} comes next (records missing)"
                ),
            });
        }
        let scanned = scan(path, *first_seq, prev, Check::Full, |seq, hash| {
            if let Some(slot) = wanted.get_mut(&seq) {
                *slot = Some(*hash);
            }
        })?;
        if let Some(offset) = scanned.torn_at {
            let expected_seq = scanned.info.last_seq + 1;
            if i + 1 != segments.len() {
                return Err(Error::RecordCorrupt {
                    segment: path.clone(),
                    offset,
                    expected_seq,
                    reason: "incomplete record in a sealed segment".into(),
                });
            }
            torn = Some(Error::TornTail {
                segment: path.clone(),
                offset,
                expected_seq,
            });
        }
        next_seq = scanned.info.last_seq + 1;
        prev = scanned.info.last_hash;
    }
    let last_seq = next_seq - 1;

    let digests = digests?;
    let mut digested_through = 0;
    for (path, body) in &digests {
        let mismatch = |reason: String| Error::DigestMismatch {
            digest: path.clone(),
            reason,
        };
        if body.last_seq > last_seq {
            return Err(mismatch(format!(
                "covers records through seq {} but the log ends at seq {last_seq}",
                body.last_seq
            )));
        }
        if wanted
            .get(&body.last_seq)
            .copied()
            .flatten()
            .map(hex::encode)
            .as_deref()
            != Some(&body.last_record_hash)
        {
            return Err(mismatch(format!(
                "hash of record seq {} differs from the signed one",
                body.last_seq
            )));
        }
        digested_through = body.last_seq;
    }
    if let Some(e) = torn {
        return Err(e);
    }
    Ok(VerifyReport {
        segments: segments.len(),
        records: last_seq,
        last_seq,
        digests: digests.len(),
        digested_through,
        undigested_records: last_seq - digested_through,
    })
}

/// Parses and signature-checks every digest and checks the digest chain, oldest first.
fn load_digests(dir: &Path, public_key_der: &[u8]) -> Result<Vec<(PathBuf, DigestBody)>> {
    let key_fingerprint = fingerprint(public_key_der);
    let mut out: Vec<(PathBuf, DigestBody)> = Vec::new();
    let mut prev_sig: Option<String> = None;
    for (n, path) in list_numbered(dir, "json")? {
        let invalid = |reason: String| Error::DigestInvalid {
            digest: path.clone(),
            reason,
        };
        let mismatch = |reason: String| Error::DigestMismatch {
            digest: path.clone(),
            reason,
        };
        let expected_n = out.len() as u64 + 1;
        if n != expected_n {
            return Err(mismatch(format!("digest {expected_n} is missing")));
        }
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        if bytes.last() != Some(&b'\n') {
            return Err(invalid("file does not end in a newline".into()));
        }
        let file: DigestFile<'_> =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not a digest: {e}")))?;
        let canonical = format!(
            "{{\"body\":{},\"signature\":\"{}\"}}\n",
            file.body.get(),
            file.signature
        );
        if canonical.as_bytes() != bytes.as_slice() {
            return Err(invalid("file is not in canonical form".into()));
        }
        let sig =
            hex::decode(&file.signature).map_err(|_| invalid("signature is not hex".into()))?;
        if !verify_signature(public_key_der, &signed_message(file.body.get()), &sig) {
            return Err(invalid(
                "signature does not verify with the given public key".into(),
            ));
        }
        let body: DigestBody = serde_json::from_str(file.body.get())
            .map_err(|e| invalid(format!("body is not a digest: {e}")))?;
        if body.digest_version != DIGEST_VERSION {
            return Err(invalid(format!(
                "unsupported digest version {}",
                body.digest_version
            )));
        }
        if body.public_key_fingerprint != key_fingerprint {
            return Err(invalid(
                "signed by a different key than the one given".into(),
            ));
        }
        if body.digest_seq != n {
            return Err(mismatch(format!(
                "file name says digest {n}, body says {}",
                body.digest_seq
            )));
        }
        if body.previous_digest_signature != prev_sig {
            return Err(mismatch(
                "previous digest signature does not match the previous digest".into(),
            ));
        }
        let expected_first = out.last().map_or(1, |(_, b)| b.last_seq + 1);
        if body.first_seq != expected_first || body.last_seq < body.first_seq {
            return Err(mismatch(format!(
                "covers seq {}..={} but should start at seq {expected_first}",
                body.first_seq, body.last_seq
            )));
        }
        prev_sig = Some(file.signature.clone());
        out.push((path.clone(), body));
    }
    Ok(out)
}
