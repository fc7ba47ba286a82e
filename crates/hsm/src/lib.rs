//! A PKCS#11 root of trust: secrets are sealed with AES-256-GCM by a key that lives on a hardware (or software)
//! security module and never leaves it.
//!
//! [`Pkcs11Root::open`] loads the module, finds the token by label, logs in as the user with the PIN from a
//! private file, and finds the AES key by label — generating it on the token (sensitive, non-extractable) on first
//! use. Sealed values are `version(1) = 2 ‖ iv(12) ‖ ciphertext ‖ tag(16)`; the distinct version byte means a value
//! sealed by the key-file root (version 1) is refused here without a round trip to the token, and vice versa.

mod pin;
mod token;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use crypto::SealError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use zeroize::Zeroizing;

/// The format version written as the first byte of every value sealed by a PKCS#11 root.
pub const PKCS11_SEAL_VERSION: u8 = 2;

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Sessions kept open. Root-of-trust calls are rare (callers cache what they open), so a few sessions are plenty;
/// more than one keeps a slow token call on one thread from stalling every other.
const POOL_SIZE: usize = 4;

/// Where the root key lives: the module to load, the token and key labels, and the user PIN's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    pub token_label: String,
    /// A file holding the user PIN (surrounding whitespace ignored); it must not be readable by group or others.
    pub pin_file: PathBuf,
    /// The AES key's `CKA_LABEL`; generated on the token when no key has it.
    pub key_label: String,
}

/// Opening the root of trust failed. The messages name what to fix; none carries the PIN.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("loading the PKCS#11 module {}: {source}", path.display())]
    Module {
        path: PathBuf,
        source: cryptoki::error::Error,
    },
    #[error("PIN file {}: {reason}", path.display())]
    PinFile { path: PathBuf, reason: String },
    #[error("no initialized PKCS#11 token is labelled {label:?} (tokens found: {found})")]
    TokenNotFound { label: String, found: String },
    #[error("more than one PKCS#11 token is labelled {0:?}; labels must be unique")]
    AmbiguousToken(String),
    #[error("logging in to PKCS#11 token {label:?} as the user: {source}")]
    Login {
        label: String,
        source: cryptoki::error::Error,
    },
    #[error("more than one AES key on token {token:?} is labelled {key:?}; labels must be unique")]
    AmbiguousKey { token: String, key: String },
    #[error("key {key:?} on token {token:?} cannot be the root key: {reason}")]
    UnsuitableKey {
        token: String,
        key: String,
        reason: String,
    },
    #[error("PKCS#11 {what}: {source}")]
    Pkcs11 {
        what: &'static str,
        source: cryptoki::error::Error,
    },
}

/// A logged-in session and the root key's handle in it.
struct Slot {
    session: Session,
    key: ObjectHandle,
}

/// The root of trust on a PKCS#11 token. Safe to share between threads: each call takes one session of a small
/// pool for itself, since a PKCS#11 session must not run two operations at once.
pub struct Pkcs11Root {
    token_label: String,
    key_label: String,
    key_created: bool,
    sessions: Vec<Mutex<Slot>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Pkcs11Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Root")
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Root {
    /// Loads the module, logs in to the token and finds (or, on first use, generates) the root key.
    pub fn open(config: &Pkcs11Config) -> Result<Self, OpenError> {
        let pin = pin::read(&config.pin_file)?;
        let ctx = token::context(&config.module)?;
        let slot = token::find(&ctx, &config.token_label)?;
        let pkcs11 = |what| move |source| OpenError::Pkcs11 { what, source };

        let first = ctx
            .open_rw_session(slot)
            .map_err(pkcs11("opening a session"))?;
        token::login(&first, &config.token_label, &pin)?;
        drop(pin);
        let (key, key_created) = token::find_or_generate_key(&first, config)?;

        let mut sessions = vec![Mutex::new(Slot {
            session: first,
            key,
        })];
        // The login above holds for every session this process opens on the token, so the others need no PIN.
        for _ in 1..POOL_SIZE {
            let session = ctx
                .open_rw_session(slot)
                .map_err(pkcs11("opening a session"))?;
            sessions.push(Mutex::new(Slot { session, key }));
        }
        Ok(Self {
            token_label: config.token_label.clone(),
            key_label: config.key_label.clone(),
            key_created,
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    pub fn token_label(&self) -> &str {
        &self.token_label
    }

    pub fn key_label(&self) -> &str {
        &self.key_label
    }

    /// Whether [`open`](Self::open) generated the key (first use of this label on this token).
    pub fn key_created(&self) -> bool {
        self.key_created
    }

    /// A free session if there is one, else waits for one.
    fn slot(&self) -> MutexGuard<'_, Slot> {
        let start = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        for i in 0..self.sessions.len() {
            match self.sessions[(start + i) % self.sessions.len()].try_lock() {
                Ok(guard) => return guard,
                // A panic cannot leave a PKCS#11 operation half done here: each call below is one C_Encrypt or
                // C_Decrypt, which the token finishes or terminates itself.
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.sessions[start]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The GCM tag length in bits, as the PKCS#11 `CK_ULONG` the mechanism parameters take.
fn tag_bits() -> cryptoki::types::Ulong {
    let bits: std::ffi::c_ulong = 128;
    bits.into()
}

impl crypto::RootOfTrust for Pkcs11Root {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        // The IV comes from the operating system's CSPRNG: a fresh random 96-bit IV per value, as for the key
        // file, so uniqueness does not depend on the token's generator.
        let iv: [u8; IV_LEN] = crypto::random_array();
        let mut iv_param = iv;
        let params = GcmParams::new(&mut iv_param, aad, tag_bits()).map_err(|_| SealError)?;
        let slot = self.slot();
        let body = slot
            .session
            .encrypt(&Mechanism::AesGcm(params), slot.key, plaintext)
            .map_err(|_| SealError)?;
        drop(slot);
        if body.len() != plaintext.len() + TAG_LEN {
            return Err(SealError);
        }
        let mut out = Vec::with_capacity(1 + IV_LEN + body.len());
        out.push(PKCS11_SEAL_VERSION);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&body);
        Ok(out)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < 1 + IV_LEN + TAG_LEN || sealed[0] != PKCS11_SEAL_VERSION {
            return Err(SealError);
        }
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&sealed[1..1 + IV_LEN]);
        let params = GcmParams::new(&mut iv, aad, tag_bits()).map_err(|_| SealError)?;
        let slot = self.slot();
        let plaintext = slot
            .session
            .decrypt(&Mechanism::AesGcm(params), slot.key, &sealed[1 + IV_LEN..])
            .map(Zeroizing::new)
            .map_err(|_| SealError)?;
        drop(slot);
        if plaintext.len() != sealed.len() - 1 - IV_LEN - TAG_LEN {
            return Err(SealError);
        }
        Ok(plaintext)
    }

    fn describe(&self) -> String {
        format!(
            "pkcs11 token {:?}, key {:?}",
            self.token_label, self.key_label
        )
    }
}
