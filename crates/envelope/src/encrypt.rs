//! The streaming encryptor: plaintext slices of any size in, header and sealed segments out, in constant memory.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::format::{Header, SegmentSize, NONCE_PREFIX_LEN, SALT_LEN};
use crate::keys::{ObjectKeys, KEY_LEN};
use crate::segment::SegmentCipher;
use crate::Error;

/// Encrypts one object. Feed plaintext with [`update`](Self::update) in slices of any size and call
/// [`finish`](Self::finish) once; the bytes appended to `out` across all calls are the envelope.
///
/// Memory is one segment of buffered plaintext (wiped on drop), whatever the object size. A segment is sealed as
/// soon as it is known not to be the last one, which is when the first byte after it arrives; slices longer
/// than a segment skip the internal buffer: they are copied once into `out` and sealed there in place.
pub struct Encryptor {
    cipher: SegmentCipher,
    header: Option<[u8; crate::HEADER_LEN]>,
    segment_size: SegmentSize,
    /// Plaintext of the current, not yet sealed segment; never longer than a segment.
    pending: Zeroizing<Vec<u8>>,
    next_segment: u64,
    failed: Option<Error>,
}

impl Encryptor {
    /// A new object under `data_key`, with a fresh random salt and nonce prefix from the system CSPRNG.
    ///
    /// `associated_data` names the object (bucket, key, version); the same bytes must be given to decrypt.
    /// Failure of the system random number generator is unrecoverable, so this panics then.
    pub fn new(
        data_key: &[u8; KEY_LEN],
        associated_data: &[u8],
        segment_size: SegmentSize,
    ) -> Self {
        let rng = SystemRandom::new();
        let mut salt = [0u8; SALT_LEN];
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        rng.fill(&mut salt)
            .and_then(|()| rng.fill(&mut prefix))
            .expect("the system random number generator failed");
        Self::with_salt_and_prefix(data_key, associated_data, segment_size, salt, prefix)
    }

    /// A new object with caller-chosen salt and nonce prefix: deterministic output for golden files and test
    /// vectors. Production code uses [`new`](Self::new): reusing a salt and prefix under one key reuses nonces.
    pub fn with_salt_and_prefix(
        data_key: &[u8; KEY_LEN],
        associated_data: &[u8],
        segment_size: SegmentSize,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Self {
        let keys = ObjectKeys::derive(data_key, &salt);
        let header = Header {
            segment_size,
            salt,
            nonce_prefix,
            commitment: keys.commitment,
        };
        Self {
            cipher: SegmentCipher::new(&keys, &header, associated_data),
            header: Some(header.encode()),
            segment_size,
            pending: Zeroizing::new(Vec::with_capacity(segment_size.plain())),
            next_segment: 0,
            failed: None,
        }
    }

    pub fn segment_size(&self) -> SegmentSize {
        self.segment_size
    }

    /// Encrypts `plaintext`, appending whatever is ready (the header first, then every completed segment) to
    /// `out`. Fails only with [`Error::TooLarge`], after which the encryptor stays failed.
    pub fn update(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.emit_header(out);
        let size = self.segment_size.plain();
        while !plaintext.is_empty() {
            if self.pending.len() == size {
                // More plaintext follows, so the buffered full segment is not the last one.
                self.seal_pending(false, out)?;
            }
            if self.pending.is_empty() && plaintext.len() > size {
                let (segment, rest) = plaintext.split_at(size);
                self.seal(false, segment, out)?;
                plaintext = rest;
                continue;
            }
            let take = (size - self.pending.len()).min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
        }
        Ok(())
    }

    /// Seals the final segment (empty if the object is empty or nothing is buffered) and appends it to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.emit_header(out);
        self.seal_pending(true, out)
    }

    fn emit_header(&mut self, out: &mut Vec<u8>) {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        let sealed = seal_counted(
            &self.cipher,
            &mut self.next_segment,
            &mut self.failed,
            last,
            &self.pending,
            out,
        );
        // The allocation is reused for the next segment; its bytes are wiped when the encryptor drops.
        self.pending.clear();
        sealed
    }

    fn seal(&mut self, last: bool, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        seal_counted(
            &self.cipher,
            &mut self.next_segment,
            &mut self.failed,
            last,
            plaintext,
            out,
        )
    }
}

/// Seals segment `*next` and advances the counter, or records the failure so the encryptor stays failed.
fn seal_counted(
    cipher: &SegmentCipher,
    next: &mut u64,
    failed: &mut Option<Error>,
    last: bool,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match cipher.seal(*next, last, plaintext, out) {
        Ok(()) => {
            *next += 1;
            Ok(())
        }
        Err(e) => {
            *failed = Some(e.clone());
            Err(e)
        }
    }
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("segment_size", &self.segment_size.get())
            .field("next_segment", &self.next_segment)
            .finish_non_exhaustive()
    }
}
