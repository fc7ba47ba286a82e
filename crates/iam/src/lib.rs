//! The identity engine: accounts, IAM users, access keys, roles, customer-managed and inline policies, and STS
//! sessions — persisted through `meta`, with secret access keys sealed under the deployment root key.
//!
//! The engine knows nothing about HTTP or wire formats; `iam-api` maps requests onto it and the dispatcher asks it
//! who a caller is ([`Iam::authenticate`]) and which identity policies apply to them ([`Iam::identity_policies`]).

mod accounts;
mod caller;
mod error;
mod keys;
mod managed;
mod model;
mod roles;
mod sts;
mod users;

pub use caller::{Caller, CallerKind, Credentials};
pub use error::IamError;
pub use model::{
    AccessKey, AccessKeyStatus, Account, ManagedPolicy, PolicyVersion, Role, Session, User,
};
pub use sts::{AssumeRoleInput, IssuedSession};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crypto::RootOfTrust;
use meta::Store;
use policy::Policy;

/// The identity policies that apply to one principal, shared by every request it makes.
pub type PolicySet = Arc<[Arc<Policy>]>;

/// Table names, one per record family. Keys are documented beside each record type in `model.rs`.
pub(crate) mod tables {
    pub const ACCOUNTS: &str = "iam.accounts";
    pub const ACCOUNT_NAMES: &str = "iam.account_names";
    pub const USERS: &str = "iam.users";
    pub const ACCESS_KEYS: &str = "iam.access_keys";
    pub const ROLES: &str = "iam.roles";
    pub const USER_POLICIES: &str = "iam.user_policies";
    pub const ROLE_POLICIES: &str = "iam.role_policies";
    pub const MANAGED_POLICIES: &str = "iam.managed_policies";
    pub const ATTACHMENTS: &str = "iam.attachments";
    pub const SESSIONS: &str = "iam.sessions";
}

/// The identity engine. Cheap to clone.
#[derive(Clone)]
pub struct Iam {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    root: Arc<dyn RootOfTrust>,
    /// Bumped after every committed write; cache entries remember the generation they were read at, so a write
    /// makes every older entry stale without having to know which entries it affects.
    generation: AtomicU64,
    credentials: RwLock<HashMap<String, (u64, Arc<Credentials>)>>,
    policies: RwLock<HashMap<String, (u64, PolicySet)>>,
}

impl Iam {
    pub fn new(store: Store, root: Arc<dyn RootOfTrust>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                root,
                generation: AtomicU64::new(0),
                credentials: RwLock::new(HashMap::new()),
                policies: RwLock::new(HashMap::new()),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn root(&self) -> &dyn RootOfTrust {
        self.inner.root.as_ref()
    }

    /// Seals a secret access key under the root of trust, bound to its access key id.
    pub(crate) fn seal_secret(
        &self,
        access_key_id: &str,
        secret: &str,
    ) -> Result<Vec<u8>, IamError> {
        self.root()
            .seal(&caller::secret_aad(access_key_id), secret.as_bytes())
            .map_err(|_| IamError::Internal("the root of trust failed to seal a secret".into()))
    }

    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Marks every cached credential and policy set stale; called after each committed write.
    pub(crate) fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs a write transaction and invalidates the caches once it has committed.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, IamError>
    where
        F: FnOnce(&mut meta::Txn) -> Result<R, IamError> + Send + 'static,
        R: Send + 'static,
    {
        let out = self.inner.store.transact_async(f).await;
        self.invalidate();
        out
    }
}

/// The current time, truncated to whole seconds as IAM reports it.
pub(crate) fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Random bytes for ids.
pub(crate) fn random16() -> [u8; 16] {
    crypto::random_array()
}
