//! The decrypting body stream of a GET: the sealed pieces of a version (one envelope, or one per
//! multipart part), opened lazily, verified segment by segment, only the touched segments read.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use blob::{BlobId, BlobReader};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt as _;
use zeroize::Zeroizing;

use crate::{ObjectError, Objects};

/// The plaintext of an object (or a range of it) as a stream of chunks.
///
/// Every byte it yields has been authenticated. A tampered, truncated or missing body ends the
/// stream with an `Err`; since earlier chunks may already have been sent, an HTTP server must
/// then abort the response instead of ending it cleanly.
pub struct ObjectStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, ObjectError>> + Send>>,
    /// Plaintext bytes the stream yields when it succeeds (`Content-Length`).
    pub content_length: u64,
    /// The inclusive range served, when a range was asked for (`Content-Range`).
    pub range: Option<(u64, u64)>,
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("content_length", &self.content_length)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl Stream for ObjectStream {
    type Item = Result<Bytes, ObjectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl ObjectStream {
    /// Reads the whole stream into memory (tests and small objects only).
    pub async fn collect_bytes(mut self) -> Result<Vec<u8>, ObjectError> {
        let mut out = Vec::with_capacity(
            usize::try_from(self.content_length)
                .unwrap_or(0)
                .min(1 << 26),
        );
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

/// Where one envelope's bytes are.
#[derive(Clone)]
pub(crate) enum Source {
    Inline(Bytes),
    Blob(BlobId),
}

/// One envelope to decrypt, and which of its plaintext bytes to release.
pub(crate) struct Piece {
    pub source: Source,
    pub cipher_len: u64,
    pub plain_len: u64,
    pub aad: Vec<u8>,
    /// Inclusive plaintext range within this piece; `None` for all of it.
    pub range: Option<(u64, u64)>,
}

enum Chunks {
    Memory(Option<Bytes>),
    Blob(BlobReader),
}

impl Chunks {
    async fn next(&mut self) -> Option<Result<Bytes, ObjectError>> {
        match self {
            Chunks::Memory(b) => b.take().map(Ok),
            Chunks::Blob(r) => r
                .chunk()
                .await
                .map(|c| c.map_err(|e| ObjectError::Corrupt(e.to_string()))),
        }
    }
}

struct Current {
    chunks: Chunks,
    decryptor: Option<envelope::Decryptor>,
}

struct ReadState {
    objects: Objects,
    key: Zeroizing<[u8; 32]>,
    pieces: VecDeque<Piece>,
    current: Option<Current>,
    remaining: u64,
}

impl Objects {
    /// A stream over `pieces`; the first piece is opened before returning, so a missing or
    /// unreadable body (or a wrong key) is reported here rather than mid-stream.
    pub(crate) async fn decrypt_stream(
        &self,
        key: &[u8; 32],
        pieces: Vec<Piece>,
        content_length: u64,
        range: Option<(u64, u64)>,
    ) -> Result<ObjectStream, ObjectError> {
        let mut state = ReadState {
            objects: self.clone(),
            key: Zeroizing::new(*key),
            pieces: pieces.into(),
            current: None,
            remaining: content_length,
        };
        if let Some(first) = state.pieces.pop_front() {
            state.current = Some(open(&state.objects, &state.key, first).await?);
        }
        let inner = futures_util::stream::try_unfold(state, |mut st| async move {
            let next = st.next_chunk().await?;
            Ok(next.map(|b| (b, st)))
        });
        Ok(ObjectStream {
            inner: Box::pin(inner),
            content_length,
            range,
        })
    }
}

async fn read(
    objects: &Objects,
    source: &Source,
    offset: u64,
    len: u64,
) -> Result<Chunks, ObjectError> {
    match source {
        Source::Inline(b) => {
            let end = offset
                .checked_add(len)
                .filter(|&e| e <= b.len() as u64)
                .ok_or_else(|| {
                    ObjectError::Corrupt("inline body shorter than its record".into())
                })?;
            Ok(Chunks::Memory(Some(b.slice(offset as usize..end as usize))))
        }
        Source::Blob(id) => match objects.blobs().read(id, offset, len).await {
            Ok(r) => Ok(Chunks::Blob(r)),
            Err(e @ (blob::Error::NotFound(_) | blob::Error::OutOfRange { .. })) => {
                Err(ObjectError::Corrupt(e.to_string()))
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// Opens one envelope: reads and checks its header first (so a wrong key or a damaged header is
/// reported before any byte is streamed), then streams exactly the segments the range needs. A
/// whole-object read is the range of all bytes, which verifies the final segment too.
async fn open(objects: &Objects, key: &[u8; 32], piece: Piece) -> Result<Current, ObjectError> {
    if piece.plain_len == 0 {
        // One empty final segment: small enough to verify right here.
        let mut chunks = read(objects, &piece.source, 0, piece.cipher_len).await?;
        let mut dec = envelope::Decryptor::new(key, &piece.aad);
        let mut out = Vec::new();
        while let Some(c) = chunks.next().await {
            dec.update(&c?, &mut out)?;
        }
        dec.finish(&mut out)?;
        return Ok(Current {
            chunks: Chunks::Memory(None),
            decryptor: None,
        });
    }
    let mut header = Vec::with_capacity(envelope::HEADER_LEN);
    let mut chunks = read(objects, &piece.source, 0, envelope::HEADER_LEN as u64).await?;
    while let Some(c) = chunks.next().await {
        header.extend_from_slice(&c?);
    }
    let parsed = envelope::Header::parse(&header)?;
    let seg = parsed.segment_size();
    if envelope::ciphertext_len(piece.plain_len, seg) != Some(piece.cipher_len) {
        return Err(ObjectError::Corrupt(
            "stored length does not match the envelope".into(),
        ));
    }
    let (a, b) = piece.range.unwrap_or((0, piece.plain_len - 1));
    let plan = envelope::plan_range(piece.plain_len, seg, a, b)?;
    let decryptor = envelope::Decryptor::starting_at(key, &piece.aad, &header, &plan)?;
    let chunks = read(objects, &piece.source, plan.cipher_offset, plan.cipher_len).await?;
    Ok(Current {
        chunks,
        decryptor: Some(decryptor),
    })
}

impl ReadState {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ObjectError> {
        loop {
            if self.current.is_none() {
                match self.pieces.pop_front() {
                    Some(p) => self.current = Some(open(&self.objects, &self.key, p).await?),
                    None => {
                        return if self.remaining == 0 {
                            Ok(None)
                        } else {
                            Err(ObjectError::Corrupt("object body ended early".into()))
                        };
                    }
                }
            }
            let cur = self.current.as_mut().expect("opened above");
            let mut out = Vec::new();
            match cur.chunks.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    cur.decryptor
                        .as_mut()
                        .ok_or_else(|| ObjectError::Corrupt("data after the final segment".into()))?
                        .update(&chunk, &mut out)?;
                }
                None => {
                    if let Some(dec) = cur.decryptor.take() {
                        dec.finish(&mut out)?;
                    }
                    self.current = None;
                }
            }
            if !out.is_empty() {
                let n = out.len() as u64;
                if n > self.remaining {
                    return Err(ObjectError::Corrupt(
                        "object body longer than its record".into(),
                    ));
                }
                self.remaining -= n;
                return Ok(Some(Bytes::from(out)));
            }
        }
    }
}
