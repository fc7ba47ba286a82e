//! Digest file format v1: a signed statement "records first..=last exist and the last one hashes to H",
//! chained to the previous digest's signature as CloudTrail's digest files are.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::signer::DigestSigner;

/// The digest format version written by this build.
pub(crate) const DIGEST_VERSION: u32 = 1;

/// Domain-separation prefix of the signed message, so a digest signature can't be replayed as anything else.
const SIGN_DOMAIN: &[u8] = b"coffer-audit-digest/v1\n";

/// The signed part of a digest file. Field order here is the order on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DigestBody {
    pub(crate) digest_version: u32,
    /// 1, 2, 3… in the order digests were written; also the file name.
    pub(crate) digest_seq: u64,
    /// When the covered period began (the previous digest's end, or when the log was opened).
    pub(crate) digest_start_time: String,
    /// When this digest was made.
    pub(crate) digest_end_time: String,
    /// First record covered: the previous digest's `lastSeq + 1`, or 1.
    pub(crate) first_seq: u64,
    /// Last record covered.
    pub(crate) last_seq: u64,
    /// The record hash of `lastSeq`; through the chain it commits to every record up to it.
    pub(crate) last_record_hash: String,
    /// The previous digest's `signature` (hex), `null` for digest 1.
    pub(crate) previous_digest_signature: Option<String>,
    /// Hex SHA-256 of the signing public key's DER.
    pub(crate) public_key_fingerprint: String,
    /// Always `SHA256withRSA` (RSASSA-PKCS1-v1_5, SHA-256), CloudTrail's digest algorithm name.
    pub(crate) signature_algorithm: String,
}

/// A digest file as parsed: the exact body bytes (what the signature covers) and the signature.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DigestFile<'a> {
    #[serde(borrow)]
    pub(crate) body: &'a RawValue,
    pub(crate) signature: String,
}

/// The bytes the signature covers: `"coffer-audit-digest/v1\n" || body`.
pub(crate) fn signed_message(body_json: &str) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGN_DOMAIN.len() + body_json.len());
    msg.extend_from_slice(SIGN_DOMAIN);
    msg.extend_from_slice(body_json.as_bytes());
    msg
}

/// Serializes and signs `body`, returning the file bytes and the signature (hex).
pub(crate) fn encode(body: &DigestBody, signer: &DigestSigner) -> crate::Result<(Vec<u8>, String)> {
    let body_json = serde_json::to_string(body).map_err(|e| crate::Error::Encode(e.to_string()))?;
    let sig = hex::encode(signer.sign(&signed_message(&body_json))?);
    let file = format!("{{\"body\":{body_json},\"signature\":\"{sig}\"}}\n");
    Ok((file.into_bytes(), sig))
}

/// Digest file name: 16 zero-padded digits of `digestSeq` + `.json`.
pub(crate) fn file_name(digest_seq: u64) -> String {
    format!("{digest_seq:016}.json")
}
