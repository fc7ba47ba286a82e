//! The data directory: where each piece of state lives, and opening it all (root key, metadata store, IAM,
//! audit log).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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

    /// The audit trail's digest-signing key (PKCS#8, mode 0600).
    pub fn audit_key(&self) -> PathBuf {
        self.keys_dir().join("audit-signing.p8")
    }

    pub fn meta_db(&self) -> PathBuf {
        self.root.join("meta.redb")
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// The first account's root credentials, in the shared-credentials file format (mode 0600).
    pub fn root_credentials(&self) -> PathBuf {
        self.root.join("root-credentials")
    }

    /// The running server's admin socket (mode 0600), used by `coffer account create`.
    pub fn admin_socket(&self) -> PathBuf {
        self.root.join("admin.sock")
    }

    /// Written after binding: the API endpoint's URL, so scripts using port 0 can find it.
    pub fn endpoint_file(&self) -> PathBuf {
        self.root.join("api-endpoint")
    }
}

/// Creates `dir` (and parents) readable only by the owner.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
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

/// The metadata store, the root of trust, and the identity engine over them.
pub struct Opened {
    pub store: meta::Store,
    pub root: Arc<dyn crypto::RootOfTrust>,
    pub iam: iam::Iam,
}

/// Opens the metadata store (taking redb's exclusive lock) and the identity engine.
pub fn open_state(layout: &Layout) -> anyhow::Result<Opened> {
    private_dir(layout.root())?;
    let root_key = load_or_create_root_key(layout)?;
    let backend = meta::RedbBackend::open(layout.meta_db())
        .with_context(|| format!("opening {}", layout.meta_db().display()))?;
    let store = meta::Store::new(backend).context("starting the metadata committer")?;
    let root: Arc<dyn crypto::RootOfTrust> = Arc::new(root_key);
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
