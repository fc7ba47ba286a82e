//! The root of trust: whatever seals secrets at rest. A key file (`RootKey`) today; a PKCS#11 token, whose key
//! never leaves the HSM, implements the same trait.

use zeroize::Zeroizing;

use crate::{RootKey, SealError};

/// Seals and opens secrets (secret access keys, KMS key material) under the deployment's root key.
///
/// `aad` names what the secret belongs to (an access key id, a key ARN and material version), so a sealed value
/// moved onto another record fails to open. Implementations must be safe to call from many threads at once.
pub trait RootOfTrust: Send + Sync + 'static {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError>;
    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError>;
    /// A short description for logs and the banner (never key bytes), e.g. `key file` or `pkcs11 token "coffer"`.
    fn describe(&self) -> String;
}

impl RootOfTrust for RootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(crate::seal(self, aad, plaintext))
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        crate::open(self, aad, sealed)
    }

    fn describe(&self) -> String {
        "key file".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn root_key_is_a_root_of_trust() {
        let root: Arc<dyn RootOfTrust> = Arc::new(RootKey::generate());
        let sealed = root.seal(b"what", b"secret").unwrap();
        assert_eq!(&root.open(b"what", &sealed).unwrap()[..], b"secret");
        assert!(root.open(b"other", &sealed).is_err());
        assert_eq!(root.describe(), "key file");
    }
}
