//! The token side of opening: one initialized module per process, the token found by label, the user login, and
//! the root key found or generated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::{OpenError, Pkcs11Config};

/// The AES key length in bytes (AES-256).
const KEY_LEN: usize = 32;

/// The initialized module for `path`, loading and initializing it on first use.
///
/// PKCS#11 wants `C_Initialize` once per process and `C_Finalize` only when the process is done with the module,
/// so contexts are kept here for the life of the process and shared by every [`crate::Pkcs11Root`] on the module.
pub(crate) fn context(path: &Path) -> Result<Pkcs11, OpenError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = contexts.get(&key) {
        return Ok(ctx.clone());
    }
    let module_err = |source| OpenError::Module {
        path: path.to_owned(),
        source,
    };
    let ctx = Pkcs11::new(path).map_err(module_err)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another part of the process initialized it already (a test's own context, say); that is fine.
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(module_err(e)),
    }
    contexts.insert(key, ctx.clone());
    Ok(ctx)
}

/// The slot holding the one initialized token labelled `label`.
pub(crate) fn find(ctx: &Pkcs11, label: &str) -> Result<Slot, OpenError> {
    let pkcs11 = |source| OpenError::Pkcs11 {
        what: "listing tokens",
        source,
    };
    let mut found = Vec::new();
    let mut matching = Vec::new();
    for slot in ctx.get_slots_with_initialized_token().map_err(pkcs11)? {
        let info = ctx.get_token_info(slot).map_err(pkcs11)?;
        let this = info.label().trim_end().to_owned();
        if this == label {
            matching.push(slot);
        }
        found.push(format!("{this:?}"));
    }
    match matching.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(OpenError::TokenNotFound {
            label: label.to_owned(),
            found: if found.is_empty() {
                "none".into()
            } else {
                found.join(", ")
            },
        }),
        _ => Err(OpenError::AmbiguousToken(label.to_owned())),
    }
}

/// Logs the application in as the token's user. A login already held by this process (another root on the same
/// token) is fine: PKCS#11 login state belongs to the application, not the session.
pub(crate) fn login(
    session: &Session,
    label: &str,
    pin: &Zeroizing<String>,
) -> Result<(), OpenError> {
    let pin = AuthPin::from(pin.as_str().to_owned());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(source) => Err(OpenError::Login {
            label: label.to_owned(),
            source,
        }),
    }
}

/// Finds the AES key labelled `config.key_label`, or generates it if no key has that label. Returns the handle and
/// whether it was generated. An existing key must be a 256-bit AES key that can encrypt and decrypt and can never
/// be read out (sensitive, not extractable); anything else is refused rather than used.
pub(crate) fn find_or_generate_key(
    session: &Session,
    config: &Pkcs11Config,
) -> Result<(ObjectHandle, bool), OpenError> {
    let pkcs11 = |what| move |source| OpenError::Pkcs11 { what, source };
    let label = config.key_label.as_bytes().to_vec();
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(label.clone()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(pkcs11("searching for the root key"))?;
    match found.as_slice() {
        [] => {
            let key_len: std::ffi::c_ulong = KEY_LEN as std::ffi::c_ulong;
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Label(label),
                Attribute::ValueLen(key_len.into()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
                Attribute::Derive(false),
            ];
            let key = session
                .generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(pkcs11("generating the root key"))?;
            Ok((key, true))
        }
        [key] => {
            check_key(session, *key, config)?;
            Ok((*key, false))
        }
        _ => Err(OpenError::AmbiguousKey {
            token: config.token_label.clone(),
            key: config.key_label.clone(),
        }),
    }
}

fn check_key(session: &Session, key: ObjectHandle, config: &Pkcs11Config) -> Result<(), OpenError> {
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::ValueLen,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Encrypt,
                AttributeType::Decrypt,
            ],
        )
        .map_err(|source| OpenError::Pkcs11 {
            what: "reading the root key's attributes",
            source,
        })?;
    let mut problems = Vec::new();
    let (mut len, mut sensitive, mut extractable, mut encrypt, mut decrypt) =
        (None, false, true, false, false);
    for attr in attrs {
        match attr {
            Attribute::ValueLen(n) => len = Some(usize::from(n)),
            Attribute::Sensitive(b) => sensitive = b,
            Attribute::Extractable(b) => extractable = b,
            Attribute::Encrypt(b) => encrypt = b,
            Attribute::Decrypt(b) => decrypt = b,
            _ => {}
        }
    }
    if len != Some(KEY_LEN) {
        problems.push(format!("it is not AES-256 (CKA_VALUE_LEN {len:?})"));
    }
    if !sensitive {
        problems.push("it is not sensitive (CKA_SENSITIVE false)".into());
    }
    if extractable {
        problems.push("it can be extracted (CKA_EXTRACTABLE true)".into());
    }
    if !(encrypt && decrypt) {
        problems.push("it may not encrypt and decrypt".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(OpenError::UnsuitableKey {
            token: config.token_label.clone(),
            key: config.key_label.clone(),
            reason: problems.join("; "),
        })
    }
}
