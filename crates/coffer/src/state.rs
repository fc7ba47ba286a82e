//! The data directory: where each piece of state lives, and opening it all (root key, metadata store, IAM,
//! audit log).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use crypto::RootKey;

/// Paths inside the data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The deployment root key (32 bytes, mode 0600). Every sealed secret depends on it.
    pub fn root_key(&self) -> PathBuf {
        self.keys_dir().join("root.key")
    }

    /// Which root of trust sealed this directory's secrets: `file`, or `pkcs11 <token>/<key>`. Written on first
    /// start, checked on every start, so a directory is never opened under a root that cannot open its secrets.
    pub fn root_of_trust_marker(&self) -> PathBuf {
        self.keys_dir().join("root-of-trust")
    }

    /// The audit trail's digest-signing key (PKCS#8, mode 0600).
    pub fn audit_key(&self) -> PathBuf {
        self.keys_dir().join("audit-signing.p8")
    }

    pub fn meta_db(&self) -> PathBuf {
        self.root.join("meta.redb")
    }

    /// Encrypted object bodies too large to keep inline in the metadata store.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// The first account's root credentials, in the shared-credentials file format (mode 0600).
    pub fn root_credentials(&self) -> PathBuf {
        self.root.join("root-credentials")
    }

    /// The directory of the admin socket (mode 0700): binding inside it means the socket is never reachable
    /// by anyone else, not even between its creation and a chmod.
    pub fn admin_dir(&self) -> PathBuf {
        self.root.join("admin")
    }

    /// The running server's admin socket (mode 0600, in [`Layout::admin_dir`]), used by `coffer account create`.
    pub fn admin_socket(&self) -> PathBuf {
        self.admin_dir().join("admin.sock")
    }

    /// The edge identity's access key (shared-credentials format, profile `edge`, mode 0600), for edge nodes.
    pub fn edge_credentials(&self) -> PathBuf {
        self.root.join("edge-credentials")
    }

    /// The in-process edge's own files: default certificate, disk cache, access log, `edge-endpoints`.
    pub fn edge_dir(&self) -> PathBuf {
        self.root.join("edge")
    }

    /// Written after binding: the API endpoint's URL, so scripts using port 0 can find it. Owner-only like
    /// every file here, though it holds nothing secret: scripts that read it run as the owner.
    pub fn endpoint_file(&self) -> PathBuf {
        self.root.join("api-endpoint")
    }
}

/// Creates `dir` (and missing parents) owner-only from the start (mode 0700 at creation, so there is no window
/// in which others could enter it), and restricts it if it already existed with looser permissions.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

/// Writes `bytes` to a new file with mode 0600, durably (temp file, fsync, rename, fsync directory).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Loads the root key, creating it on first start.
pub fn load_or_create_root_key(layout: &Layout) -> anyhow::Result<RootKey> {
    let path = layout.root_key();
    match fs::read(&path) {
        Ok(bytes) => {
            let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                bail!(
                    "{} is readable by others (mode {mode:o}); it must be 0600",
                    path.display()
                );
            }
            let Ok(arr) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                bail!("{} is not a 32-byte key", path.display());
            };
            let key = RootKey::from_bytes(arr);
            let mut bytes = bytes;
            zeroize::Zeroize::zeroize(&mut bytes);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            private_dir(&layout.keys_dir())?;
            let key = RootKey::generate();
            write_private(&path, key.expose())?;
            tracing::info!("created the deployment root key at {}", path.display());
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The marker recorded for a root of trust (see [`Layout::root_of_trust_marker`]).
fn root_of_trust_name(pkcs11: Option<&hsm::Pkcs11Config>) -> String {
    match pkcs11 {
        None => "file".into(),
        Some(c) => format!("pkcs11 {}/{}", c.token_label, c.key_label),
    }
}

/// Opens the root of trust the configuration names — the key file, or the key on a PKCS#11 token — after checking
/// it is the one this data directory was initialized with. Refuses rather than create a new root key for a
/// directory that already holds secrets, since they could never be opened again.
pub fn open_root(
    layout: &Layout,
    pkcs11: Option<&hsm::Pkcs11Config>,
) -> anyhow::Result<Arc<dyn crypto::RootOfTrust>> {
    private_dir(&layout.keys_dir())?;
    let wanted = root_of_trust_name(pkcs11);
    let marker = layout.root_of_trust_marker();
    let recorded = match fs::read_to_string(&marker) {
        Ok(text) => Some(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", marker.display())),
    };
    let key_file_exists = layout.root_key().exists();
    // Directories from before the marker existed had only the key file.
    let recorded = recorded.or_else(|| key_file_exists.then(|| "file".to_owned()));
    match &recorded {
        Some(r) if *r != wanted => bail!(
            "the data directory {} was initialized with the root of trust \"{r}\" but is being opened with \"{wanted}\"; \
             its secrets can only be opened by the root of trust that sealed them, so start it with the same \
             root-of-trust configuration ([kms.pkcs11] or COFFER_PKCS11_*) it was created with",
            layout.root().display()
        ),
        Some(_) => {}
        None if layout.meta_db().exists() => bail!(
            "the data directory {} holds state but no record of its root of trust ({} and {} are missing); \
             refusing to create a new root key that could not open its secrets",
            layout.root().display(),
            marker.display(),
            layout.root_key().display()
        ),
        None => {}
    }
    let first_start = recorded.is_none();
    let root: Arc<dyn crypto::RootOfTrust> = match pkcs11 {
        None if !first_start && !key_file_exists => bail!(
            "the root key {} is missing; the data directory was initialized with it, and its secrets cannot be \
             opened without it (restore it from a backup)",
            layout.root_key().display()
        ),
        None => Arc::new(load_or_create_root_key(layout)?),
        Some(config) => {
            let root = hsm::Pkcs11Root::open(config).with_context(|| {
                format!(
                    "opening the root of trust on PKCS#11 token {:?}",
                    config.token_label
                )
            })?;
            if root.key_created() {
                tracing::info!(
                    "generated the deployment root key {:?} on PKCS#11 token {:?}; it never leaves the token",
                    config.key_label,
                    config.token_label
                );
            }
            Arc::new(root)
        }
    };
    if !marker.exists() {
        write_private(&marker, format!("{wanted}\n").as_bytes())?;
    }
    Ok(root)
}

/// The metadata store, the root of trust, and the identity engine over them.
pub struct Opened {
    pub store: meta::Store,
    pub root: Arc<dyn crypto::RootOfTrust>,
    pub iam: iam::Iam,
}

/// Opens the data directory for a tool without a configuration file (`coffer account create` with no server
/// running): the root of trust is the key file, or the PKCS#11 token the `COFFER_PKCS11_*` variables name.
pub fn open_state(layout: &Layout) -> anyhow::Result<Opened> {
    let pkcs11 = crate::config::Pkcs11FileConfig::resolve(
        None,
        crate::config::Pkcs11FileConfig::from_env(),
    )?;
    open_state_with(layout, pkcs11.as_ref())
}

/// Opens the root of trust, the metadata store (taking redb's exclusive lock) and the identity engine.
pub fn open_state_with(
    layout: &Layout,
    pkcs11: Option<&hsm::Pkcs11Config>,
) -> anyhow::Result<Opened> {
    private_dir(layout.root())?;
    let root = open_root(layout, pkcs11)?;
    let backend = meta::RedbBackend::open(layout.meta_db())
        .with_context(|| format!("opening {}", layout.meta_db().display()))?;
    let store = meta::Store::new(backend).context("starting the metadata committer")?;
    let iam = iam::Iam::new(store.clone(), root.clone());
    Ok(Opened { store, root, iam })
}

/// Renders credentials in the AWS shared-credentials file format.
pub fn credentials_file(profile: &str, access_key_id: &str, secret: &str, account: &str) -> String {
    format!(
        "# coffer account {account}\n[{profile}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"
    )
}

/// Opens the audit log with the configured durability.
pub fn open_audit(
    layout: &Layout,
    sync: crate::config::AuditSync,
    digest_interval: std::time::Duration,
) -> anyhow::Result<Arc<audit::AuditLog>> {
    private_dir(&layout.keys_dir())?;
    let signer = audit::DigestSigner::load_or_create(&layout.audit_key())
        .map_err(|e| anyhow::anyhow!("audit signing key: {e}"))?;
    let mut config = audit::AuditConfig::default();
    config.sync = match sync {
        crate::config::AuditSync::PerEvent => audit::SyncMode::PerEvent,
        crate::config::AuditSync::Interval(d) => audit::SyncMode::Interval(d),
    };
    config.digest_interval = digest_interval;
    let log = audit::AuditLog::open(&layout.audit_dir(), config, signer)
        .map_err(|e| anyhow::anyhow!("opening the audit log: {e}"))?;
    Ok(Arc::new(log))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkcs11(token: &str, key: &str) -> hsm::Pkcs11Config {
        hsm::Pkcs11Config {
            module: "/nonexistent/libpkcs11.so".into(),
            token_label: token.into(),
            pin_file: "/nonexistent/pin".into(),
            key_label: key.into(),
        }
    }

    fn err(r: anyhow::Result<Arc<dyn crypto::RootOfTrust>>) -> String {
        format!("{:#}", r.err().expect("expected an error"))
    }

    #[test]
    fn key_file_root_is_recorded_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("data"));
        let root = open_root(&layout, None).unwrap();
        assert_eq!(root.describe(), "key file");
        let mode = fs::metadata(layout.root_key())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            fs::read_to_string(layout.root_of_trust_marker()).unwrap(),
            "file\n"
        );
        let sealed = root.seal(b"akid", b"secret").unwrap();
        let again = open_root(&layout, None).unwrap();
        assert_eq!(&again.open(b"akid", &sealed).unwrap()[..], b"secret");

        // The same directory opened with a token is refused before the module is even loaded.
        let e = err(open_root(&layout, Some(&pkcs11("t", "k"))));
        assert!(
            e.contains("initialized with the root of trust \"file\"")
                && e.contains("\"pkcs11 t/k\""),
            "{e}"
        );

        // A key file others may read is refused.
        fs::set_permissions(layout.root_key(), fs::Permissions::from_mode(0o640)).unwrap();
        assert!(err(open_root(&layout, None)).contains("readable by others"));

        // A lost key file is an error, never silently replaced by a new key.
        fs::remove_file(layout.root_key()).unwrap();
        let e = err(open_root(&layout, None));
        assert!(e.contains("is missing"), "{e}");
        assert!(!layout.root_key().exists());
    }

    #[test]
    fn private_dirs_are_owner_only_from_creation() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let nested = dir.path().join("a/b");
        private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        fs::set_permissions(&nested, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        assert!(private_dir(&file).is_err());
    }

    #[test]
    fn directories_from_before_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        private_dir(&layout.keys_dir()).unwrap();
        write_private(&layout.root_key(), RootKey::generate().expose()).unwrap();
        open_root(&layout, None).unwrap();
        assert_eq!(
            fs::read_to_string(layout.root_of_trust_marker()).unwrap(),
            "file\n"
        );

        // State without any record of its root of trust: refuse to invent one.
        let bare = Layout::new(&dir.path().join("bare"));
        private_dir(bare.root()).unwrap();
        fs::write(bare.meta_db(), b"").unwrap();
        let e = err(open_root(&bare, None));
        assert!(e.contains("no record of its root of trust"), "{e}");
        assert!(!bare.root_key().exists());
    }

    #[test]
    fn token_root_is_refused_for_another_root() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        private_dir(&layout.keys_dir()).unwrap();
        write_private(&layout.root_of_trust_marker(), b"pkcs11 t/k\n").unwrap();
        let e = err(open_root(&layout, None));
        assert!(
            e.contains("initialized with the root of trust \"pkcs11 t/k\"")
                && e.contains("\"file\""),
            "{e}"
        );
        assert!(!layout.root_key().exists(), "no key file may be created");
        let e = err(open_root(&layout, Some(&pkcs11("t", "other"))));
        assert!(e.contains("\"pkcs11 t/other\""), "{e}");
        // The right labels get as far as loading the module.
        let e = err(open_root(&layout, Some(&pkcs11("t", "k"))));
        assert!(
            e.contains("PIN file") || e.contains("PKCS#11 module"),
            "{e}"
        );
    }

    /// The whole path against a real SoftHSM2 token, when SoftHSM2 is installed (`scripts/test` installs it).
    /// One function only: SoftHSM reads `SOFTHSM2_CONF` once per process.
    #[test]
    fn softhsm_token_as_the_root_of_trust() {
        const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
        if std::process::Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_err()
            || !Path::new(MODULE).exists()
        {
            eprintln!("SKIPPED: SoftHSM2 (softhsm2-util, {MODULE}) is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        fs::write(
            &conf,
            format!("directories.tokendir = {}\n", tokens.display()),
        )
        .unwrap();
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let status = std::process::Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", "coffer-unit"])
            .args(["--pin", "1234", "--so-pin", "5678"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let pin_file = dir.path().join("pin");
        write_private(&pin_file, b"1234\n").unwrap();
        let config = hsm::Pkcs11Config {
            module: MODULE.into(),
            token_label: "coffer-unit".into(),
            pin_file,
            key_label: "root".into(),
        };

        let layout = Layout::new(&dir.path().join("data"));
        let root = open_root(&layout, Some(&config)).unwrap();
        assert_eq!(
            root.describe(),
            "pkcs11 token \"coffer-unit\", key \"root\""
        );
        assert!(!layout.root_key().exists(), "no key file with a token root");
        assert_eq!(
            fs::read_to_string(layout.root_of_trust_marker()).unwrap(),
            "pkcs11 coffer-unit/root\n"
        );
        let sealed = root.seal(b"akid", b"secret").unwrap();
        let again = open_root(&layout, Some(&config)).unwrap();
        assert_eq!(&again.open(b"akid", &sealed).unwrap()[..], b"secret");

        let e = err(open_root(&layout, None));
        assert!(e.contains("\"pkcs11 coffer-unit/root\""), "{e}");
        assert!(!layout.root_key().exists());
    }
}
