//! aws-chunked streaming bodies (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`,
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`): per-chunk signature chaining and the trailer signature.
//!
//! The verifier is a push-style state machine so the S3 front end can stream: it feeds each
//! chunk header, the chunk's bytes as they arrive, and the end of the chunk, and never buffers data.

use aws_lc_rs::{constant_time, digest};

use crate::canonical::{
    hmac_sha256, sha256_hex, EMPTY_SHA256, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
};
use crate::{Error, ParsedAuth};

const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";
/// A chunk header larger than this is not a chunk header; stops a peer from making us buffer a line.
pub(crate) const MAX_CHUNK_HEADER_LEN: usize = 4096;

fn incomplete(message: impl Into<String>) -> Error {
    Error::IncompleteBody {
        message: message.into(),
    }
}

/// `hex-size[;chunk-signature=hex]`, the line before each chunk's data (without the CRLF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkHeader {
    pub size: u64,
    pub signature: Option<String>,
}

impl ChunkHeader {
    pub fn parse(line: &[u8]) -> Result<Self, Error> {
        if line.len() > MAX_CHUNK_HEADER_LEN {
            return Err(incomplete("chunk header too long"));
        }
        let line =
            std::str::from_utf8(line).map_err(|_| incomplete("chunk header is not ASCII"))?;
        let (size, ext) = match line.split_once(';') {
            Some((size, ext)) => (size, Some(ext)),
            None => (line, None),
        };
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(incomplete(format!("invalid chunk size {size:?}")));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| incomplete("invalid chunk size"))?;
        let signature = match ext {
            None => None,
            Some(ext) => match ext.split_once('=') {
                Some(("chunk-signature", sig)) if !sig.is_empty() => Some(sig.to_owned()),
                _ => return Err(incomplete(format!("invalid chunk extension {ext:?}"))),
            },
        };
        Ok(ChunkHeader { size, signature })
    }
}

/// The string to sign of one chunk.
fn chunk_string_to_sign(amz_date: &str, scope: &str, previous: &str, data_hash: &str) -> String {
    format!("{CHUNK_ALGORITHM}\n{amz_date}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{data_hash}")
}

/// Trailer headers as they are signed: `name:value\n` each, lowercase names, trimmed values.
fn canonical_trailers(trailers: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in trailers {
        out.push_str(&name.to_ascii_lowercase());
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out
}

fn trailer_string_to_sign(
    amz_date: &str,
    scope: &str,
    previous: &str,
    trailers: &[(String, String)],
) -> String {
    let hash = sha256_hex(canonical_trailers(trailers).as_bytes());
    format!("{TRAILER_ALGORITHM}\n{amz_date}\n{scope}\n{previous}\n{hash}")
}

/// Checks the chunk signatures of an aws-chunked body in order, each chained to the previous
/// one, starting from the request's own signature.
pub struct ChunkVerifier {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
    signed: bool,
    trailer: bool,
    current: Option<Current>,
    finished: bool,
}

struct Current {
    remaining: u64,
    last: bool,
    signature: Option<String>,
    hash: digest::Context,
}

impl std::fmt::Debug for ChunkVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkVerifier")
            .field("scope", &self.scope)
            .field("signed", &self.signed)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl ChunkVerifier {
    /// `payload_hash` is the request's declared `x-amz-content-sha256` (one of the `STREAMING-…`
    /// values); `signing_key` is the one [`crate::Verifier::signing_key`] gives for `auth`'s scope.
    pub fn new(
        signing_key: [u8; 32],
        auth: &ParsedAuth,
        payload_hash: &str,
    ) -> Result<Self, Error> {
        let (signed, trailer) = match payload_hash {
            STREAMING_PAYLOAD => (true, false),
            STREAMING_PAYLOAD_TRAILER => (true, true),
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => (false, true),
            other => {
                return Err(incomplete(format!(
                    "{other:?} is not an aws-chunked payload"
                )))
            }
        };
        Ok(ChunkVerifier {
            key: signing_key,
            amz_date: auth.amz_date(),
            scope: auth.credential_scope(),
            previous: auth.signature.clone(),
            signed,
            trailer,
            current: None,
            finished: false,
        })
    }

    /// Whether a trailer section follows the final chunk.
    pub fn expects_trailer(&self) -> bool {
        self.trailer
    }

    /// Starts a chunk. A signed stream requires a signature on every chunk; an unsigned one forbids it.
    pub fn begin_chunk(&mut self, header: ChunkHeader) -> Result<(), Error> {
        if self.finished || self.current.is_some() {
            return Err(incomplete("chunk header out of sequence"));
        }
        if header.signature.is_some() != self.signed {
            return Err(incomplete(if self.signed {
                "chunk is missing its chunk-signature"
            } else {
                "unexpected chunk-signature in an unsigned stream"
            }));
        }
        self.current = Some(Current {
            remaining: header.size,
            last: header.size == 0,
            signature: header.signature,
            hash: digest::Context::new(&digest::SHA256),
        });
        Ok(())
    }

    /// Feeds bytes of the current chunk (any split).
    pub fn update(&mut self, data: &[u8]) -> Result<(), Error> {
        let current = self
            .current
            .as_mut()
            .ok_or_else(|| incomplete("chunk data without a chunk header"))?;
        if data.len() as u64 > current.remaining {
            return Err(incomplete("chunk data longer than its declared size"));
        }
        current.remaining -= data.len() as u64;
        if self.signed {
            current.hash.update(data);
        }
        Ok(())
    }

    /// Ends the current chunk and checks its signature. Returns `true` for the final (empty) chunk.
    pub fn end_chunk(&mut self) -> Result<bool, Error> {
        let current = self
            .current
            .take()
            .ok_or_else(|| incomplete("chunk end without a chunk header"))?;
        if current.remaining != 0 {
            return Err(incomplete("chunk shorter than its declared size"));
        }
        if let Some(provided) = current.signature {
            let data_hash = hex::encode(current.hash.finish().as_ref());
            let sts = chunk_string_to_sign(&self.amz_date, &self.scope, &self.previous, &data_hash);
            let computed = hex::encode(hmac_sha256(&self.key, sts.as_bytes()));
            if constant_time::verify_slices_are_equal(computed.as_bytes(), provided.as_bytes())
                .is_err()
            {
                return Err(Error::mismatch(String::new(), sts, &provided));
            }
            self.previous = computed;
        }
        if current.last {
            self.finished = true;
        }
        Ok(current.last)
    }

    /// Checks the trailer after the final chunk. Signed streams need `x-amz-trailer-signature`;
    /// `trailers` exclude that line itself.
    pub fn verify_trailer(
        &mut self,
        trailers: &[(String, String)],
        signature: Option<&str>,
    ) -> Result<(), Error> {
        if !self.finished {
            return Err(incomplete("trailer before the final chunk"));
        }
        if !self.trailer {
            return Err(incomplete("this payload type has no trailer"));
        }
        match (self.signed, signature) {
            (false, None) => Ok(()),
            (false, Some(_)) => Err(incomplete(
                "unexpected trailer signature in an unsigned stream",
            )),
            (true, None) => Err(incomplete("missing x-amz-trailer-signature")),
            (true, Some(provided)) => {
                let sts =
                    trailer_string_to_sign(&self.amz_date, &self.scope, &self.previous, trailers);
                let computed = hex::encode(hmac_sha256(&self.key, sts.as_bytes()));
                constant_time::verify_slices_are_equal(computed.as_bytes(), provided.as_bytes())
                    .map_err(|_| Error::mismatch(String::new(), sts, provided))?;
                self.previous = computed;
                Ok(())
            }
        }
    }
}

/// Trailer headers of an aws-chunked body, `(name, value)` in order.
pub type Trailers = Vec<(String, String)>;

/// Decodes and verifies a whole aws-chunked body held in memory; returns the payload and the
/// trailers. The streaming front end drives [`ChunkVerifier`] directly instead.
pub fn decode_aws_chunked(
    body: &[u8],
    verifier: &mut ChunkVerifier,
) -> Result<(Vec<u8>, Trailers), Error> {
    let mut rest = body;
    let mut payload = Vec::with_capacity(body.len());
    let take_line = |rest: &mut &[u8]| -> Result<Vec<u8>, Error> {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| incomplete("missing CRLF"))?;
        let line = rest[..end].to_vec();
        *rest = &rest[end + 2..];
        Ok(line)
    };
    loop {
        let header = ChunkHeader::parse(&take_line(&mut rest)?)?;
        let size = usize::try_from(header.size).map_err(|_| incomplete("chunk too large"))?;
        verifier.begin_chunk(header)?;
        if rest.len() < size {
            return Err(incomplete("body ends inside a chunk"));
        }
        verifier.update(&rest[..size])?;
        payload.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        let last = verifier.end_chunk()?;
        if last {
            break;
        }
        if !rest.starts_with(b"\r\n") {
            return Err(incomplete("missing CRLF after chunk data"));
        }
        rest = &rest[2..];
    }
    let mut trailers = Vec::new();
    let mut trailer_signature = None;
    if verifier.expects_trailer() {
        loop {
            let line = take_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            let line = String::from_utf8(line).map_err(|_| incomplete("trailer is not UTF-8"))?;
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| incomplete("trailer line without ':'"))?;
            if name.eq_ignore_ascii_case("x-amz-trailer-signature") {
                trailer_signature = Some(value.trim().to_owned());
            } else {
                trailers.push((name.to_owned(), value.to_owned()));
            }
        }
        verifier.verify_trailer(&trailers, trailer_signature.as_deref())?;
    } else if !take_line(&mut rest)?.is_empty() {
        return Err(incomplete("garbage after the final chunk"));
    }
    if !rest.is_empty() {
        return Err(incomplete("bytes after the end of the aws-chunked body"));
    }
    Ok((payload, trailers))
}

/// Produces aws-chunked bodies (for tests and our own clients), chaining from a seed signature.
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// `seed_signature` is the request signature `sign_request` returned.
    pub fn new(signing_key: [u8; 32], amz_date: &str, scope: &str, seed_signature: &str) -> Self {
        ChunkSigner {
            key: signing_key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            previous: seed_signature.to_owned(),
        }
    }

    /// The signature of the next chunk (pass an empty slice for the final chunk).
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        let sts = chunk_string_to_sign(
            &self.amz_date,
            &self.scope,
            &self.previous,
            &sha256_hex(data),
        );
        self.previous = hex::encode(hmac_sha256(&self.key, sts.as_bytes()));
        self.previous.clone()
    }

    /// One framed signed chunk; an empty `data` gives the final chunk (without the closing CRLF
    /// when a trailer follows, which [`ChunkSigner::encode_trailer`] then writes).
    pub fn encode_chunk(&mut self, data: &[u8], trailer_follows: bool) -> Vec<u8> {
        let signature = self.sign_chunk(data);
        let mut out = format!("{:x};chunk-signature={signature}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        if !data.is_empty() || !trailer_follows {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Trailer lines plus `x-amz-trailer-signature` and the closing blank line.
    pub fn encode_trailer(&mut self, trailers: &[(String, String)]) -> Vec<u8> {
        let sts = trailer_string_to_sign(&self.amz_date, &self.scope, &self.previous, trailers);
        self.previous = hex::encode(hmac_sha256(&self.key, sts.as_bytes()));
        let mut out = String::new();
        for (name, value) in trailers {
            out.push_str(&format!("{name}:{value}\r\n"));
        }
        out.push_str(&format!(
            "x-amz-trailer-signature:{}\r\n\r\n",
            self.previous
        ));
        out.into_bytes()
    }
}
