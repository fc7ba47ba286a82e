//! The PKCS#11 root of trust against a real SoftHSM2 token, created in a temporary directory for this run.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, when the module is initialized, and a process initializes a module once, so
//! everything here runs in one test function against one token.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crypto::RootOfTrust;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
use hsm::{OpenError, Pkcs11Config, Pkcs11Root, PKCS11_SEAL_VERSION};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "coffer-test";
const PIN: &str = "4711-user";

fn softhsm_available() -> bool {
    let util = Command::new("softhsm2-util").arg("--version").output();
    if util.is_err() {
        eprintln!("SKIPPED: softhsm2-util is not installed (apt-get install softhsm2; scripts/test does this)");
        return false;
    }
    if !Path::new(MODULE).exists() {
        eprintln!("SKIPPED: the SoftHSM2 module {MODULE} is absent (apt-get install softhsm2)");
        return false;
    }
    true
}

/// Writes a SoftHSM2 configuration whose token directory is `dir/tokens`, points this process at it, and
/// initializes a token labelled [`TOKEN`] with the user PIN [`PIN`].
fn make_token(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // Only this test function runs in this binary, so nothing else reads the environment concurrently.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "4711-so",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "softhsm2-util --init-token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pin_file = dir.join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    pin_file
}

#[test]
fn softhsm_root_of_trust() {
    if !softhsm_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pin_file = make_token(dir.path());
    let config = Pkcs11Config {
        module: MODULE.into(),
        token_label: TOKEN.into(),
        pin_file: pin_file.clone(),
        key_label: "coffer-root".into(),
    };

    // First open generates the key; its description names token and key, never key bytes.
    let first = Pkcs11Root::open(&config).unwrap();
    assert!(first.key_created());
    assert_eq!(
        first.describe(),
        r#"pkcs11 token "coffer-test", key "coffer-root""#
    );

    // Round trips, including empty and larger values; each seal uses a fresh IV.
    for pt in [&b""[..], b"secret access key", &[7u8; 4096][..]] {
        let sealed = first.seal(b"akid-1", pt).unwrap();
        assert_eq!(sealed[0], PKCS11_SEAL_VERSION);
        assert_eq!(sealed.len(), 1 + 12 + pt.len() + 16);
        assert_eq!(&first.open(b"akid-1", &sealed).unwrap()[..], pt);
    }
    let a = first.seal(b"aad", b"same").unwrap();
    let b = first.seal(b"aad", b"same").unwrap();
    assert_ne!(a, b, "two seals of the same value must differ (fresh IV)");

    // Wrong associated data, any flipped byte, truncation and the key file's format all fail to open.
    let sealed = first.seal(b"akid-1", b"secret").unwrap();
    assert!(first.open(b"akid-2", &sealed).is_err());
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert!(first.open(b"akid-1", &bad).is_err(), "flipped byte {i}");
    }
    assert!(first.open(b"akid-1", &sealed[..sealed.len() - 1]).is_err());
    assert!(first.open(b"akid-1", &sealed[..20]).is_err());
    let file_sealed = crypto::seal(&crypto::RootKey::generate(), b"akid-1", b"secret");
    assert!(first.open(b"akid-1", &file_sealed).is_err());
    // Failures leave the sessions usable.
    assert_eq!(&first.open(b"akid-1", &sealed).unwrap()[..], b"secret");

    // Reopening finds the same key: values sealed by the first root open with the second, and back.
    let second = Pkcs11Root::open(&config).unwrap();
    assert!(!second.key_created());
    assert_eq!(&second.open(b"akid-1", &sealed).unwrap()[..], b"secret");
    let back = second.seal(b"x", b"from the second").unwrap();
    assert_eq!(&first.open(b"x", &back).unwrap()[..], b"from the second");

    // A different key label is a different key: it cannot open the first key's values.
    let other = Pkcs11Root::open(&Pkcs11Config {
        key_label: "another".into(),
        ..config.clone()
    })
    .unwrap();
    assert!(other.key_created());
    assert!(other.open(b"akid-1", &sealed).is_err());

    // Many threads at once through more threads than sessions.
    let shared: Arc<dyn RootOfTrust> = Arc::new(second);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let root = shared.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let aad = format!("{t}/{i}");
                    let pt = format!("value {t} {i}");
                    let s = root.seal(aad.as_bytes(), pt.as_bytes()).unwrap();
                    assert_eq!(&root.open(aad.as_bytes(), &s).unwrap()[..], pt.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }

    // The key cannot be read out of the token, and it was created sensitive and non-extractable.
    assert_key_not_extractable(&pin_file);

    // Configuration mistakes are refused with messages that say what is wrong.
    let wrong_token = Pkcs11Root::open(&Pkcs11Config {
        token_label: "nope".into(),
        ..config.clone()
    })
    .unwrap_err();
    assert!(matches!(wrong_token, OpenError::TokenNotFound { .. }));
    assert!(
        wrong_token.to_string().contains("\"coffer-test\""),
        "{wrong_token}"
    );
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open_pin = Pkcs11Root::open(&config).unwrap_err();
    assert!(
        open_pin.to_string().contains("readable by group or others"),
        "{open_pin}"
    );
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing_module = Pkcs11Root::open(&Pkcs11Config {
        module: dir.path().join("no-such-module.so"),
        ..config.clone()
    })
    .unwrap_err();
    assert!(matches!(missing_module, OpenError::Module { .. }));
}

/// Opens the token with cryptoki directly, as any other application could, and tries to read the key's value.
fn assert_key_not_extractable(pin_file: &Path) {
    let ctx = Pkcs11::new(MODULE).unwrap();
    // The root already initialized the module in this process.
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    let pin = std::fs::read_to_string(pin_file).unwrap();
    // Already logged in through the root's sessions: login state belongs to the process.
    let _ = session.login(
        cryptoki::session::UserType::User,
        Some(&cryptoki::types::AuthPin::from(pin.trim().to_owned())),
    );
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(b"coffer-root".to_vec()),
        ])
        .unwrap();
    assert_eq!(keys.len(), 1, "the key was generated once");
    let info = session
        .get_attribute_info(keys[0], &[AttributeType::Value])
        .unwrap();
    assert!(
        matches!(info[0], AttributeInfo::Sensitive),
        "CKA_VALUE must be refused, got {info:?}"
    );
    let values = session
        .get_attributes(keys[0], &[AttributeType::Value])
        .unwrap();
    assert!(values.is_empty(), "CKA_VALUE was returned");
    let flags = session
        .get_attributes(
            keys[0],
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Token,
                AttributeType::ValueLen,
            ],
        )
        .unwrap();
    for attr in flags {
        match attr {
            Attribute::Sensitive(b) => assert!(b),
            Attribute::Extractable(b) => assert!(!b),
            Attribute::Token(b) => assert!(b),
            Attribute::ValueLen(n) => assert_eq!(usize::from(n), 32),
            other => panic!("unexpected {other:?}"),
        }
    }
}
