//! Pure cryptographic building blocks: the deployment root key, sealing secrets under it, and randomness.
//!
//! Everything that must never reach disk in plaintext (secret access keys today; KMS key material later) is
//! sealed here with AES-256-GCM under the root key, with associated data naming what the secret belongs to, so a
//! sealed value copied onto another record fails to open.

mod root;
mod seal;

pub use root::RootOfTrust;
pub use seal::{open, seal, SealError, SEAL_VERSION};

use zeroize::{Zeroize, ZeroizeOnDrop};

/// The 256-bit deployment root key. Held only in memory, wiped on drop, and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RootKey([u8; 32]);

impl RootKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(random_array())
    }

    /// The key bytes, for writing the key file; callers must not keep copies.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

/// Random bytes from the system CSPRNG. Failure of the system RNG is unrecoverable, so this panics then.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill_random(&mut out);
    out
}

/// Fills `buf` from the system CSPRNG.
pub fn fill_random(buf: &mut [u8]) {
    use aws_lc_rs::rand::SecureRandom;
    aws_lc_rs::rand::SystemRandom::new()
        .fill(buf)
        .expect("the system random number generator failed");
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Constant-time equality of two byte strings.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
