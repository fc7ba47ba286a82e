//! Cache policies: AWS's managed CachingOptimized and CachingDisabled (with AWS's exact settings, readable by
//! every account, never changeable) and each account's custom ones. Names are unique in an account; a policy a
//! distribution uses cannot be deleted.

use time::macros::datetime;

use crate::{check_if_match, key2, new_etag, now, tables, txn_all, txn_put, CfError, CloudFront};
use crate::{CacheKeyParameters, CachePolicy, CachePolicyConfig, Distribution, KeyBehavior};

/// The managed CachingOptimized policy.
pub const CACHING_OPTIMIZED_ID: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// The managed CachingDisabled policy.
pub const CACHING_DISABLED_ID: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

/// AWS's managed policies, with the settings AWS documents for them.
pub(crate) fn managed() -> [CachePolicy; 2] {
    let modified = datetime!(2020-10-31 00:00:00 UTC);
    [
        CachePolicy {
            id: CACHING_OPTIMIZED_ID.into(),
            etag: "E23ZP02F085DFQ".into(),
            last_modified: modified,
            managed: true,
            config: CachePolicyConfig {
                comment: Some(
                    "Policy with caching enabled. Supports Gzip and Brotli compression.".into(),
                ),
                name: "Managed-CachingOptimized".into(),
                default_ttl: Some(86400),
                max_ttl: Some(31_536_000),
                min_ttl: 1,
                parameters: CacheKeyParameters {
                    enable_accept_encoding_gzip: true,
                    enable_accept_encoding_brotli: Some(true),
                    headers: KeyBehavior::none(),
                    cookies: KeyBehavior::none(),
                    query_strings: KeyBehavior::none(),
                },
            },
        },
        CachePolicy {
            id: CACHING_DISABLED_ID.into(),
            etag: "E23ZP02F085DFQ".into(),
            last_modified: modified,
            managed: true,
            config: CachePolicyConfig {
                comment: Some("Policy with caching disabled".into()),
                name: "Managed-CachingDisabled".into(),
                default_ttl: Some(0),
                max_ttl: Some(0),
                min_ttl: 0,
                parameters: CacheKeyParameters {
                    enable_accept_encoding_gzip: false,
                    enable_accept_encoding_brotli: Some(false),
                    headers: KeyBehavior::none(),
                    cookies: KeyBehavior::none(),
                    query_strings: KeyBehavior::none(),
                },
            },
        },
    ]
}

fn validate(c: &CachePolicyConfig) -> Result<(), CfError> {
    if c.name.is_empty() || c.name.len() > 128 || c.name.starts_with("Managed-") {
        return Err(CfError::invalid(
            "The name of a cache policy must be 1 to 128 characters long and must not start with Managed-.",
        ));
    }
    let default = c.default_ttl.unwrap_or(86400.max(c.min_ttl));
    let max = c.max_ttl.unwrap_or(31_536_000.max(default));
    if c.min_ttl < 0 || !(c.min_ttl <= default && default <= max) {
        return Err(CfError::invalid(
            "The TTLs of a cache policy must satisfy 0 <= MinTTL <= DefaultTTL <= MaxTTL.",
        ));
    }
    let p = &c.parameters;
    for (what, b, allowed) in [
        ("HeaderBehavior", &p.headers, &["none", "whitelist"][..]),
        (
            "CookieBehavior",
            &p.cookies,
            &["none", "whitelist", "allExcept", "all"][..],
        ),
        (
            "QueryStringBehavior",
            &p.query_strings,
            &["none", "whitelist", "allExcept", "all"][..],
        ),
    ] {
        if !allowed.contains(&b.behavior.as_str()) {
            return Err(CfError::invalid(format!("Invalid {what} {}.", b.behavior)));
        }
    }
    if max == 0
        && (p.enable_accept_encoding_gzip
            || p.enable_accept_encoding_brotli == Some(true)
            || p.headers.behavior != "none"
            || p.cookies.behavior != "none"
            || p.query_strings.behavior != "none")
    {
        return Err(CfError::invalid(
            "A cache policy with caching disabled (MaxTTL 0) cannot add headers, cookies, query strings or encodings to the cache key.",
        ));
    }
    Ok(())
}

fn already_exists() -> CfError {
    CfError::client(
        "CachePolicyAlreadyExists",
        409,
        "A cache policy with this name already exists. You must provide a unique name.",
    )
}

fn name_taken(txn: &meta::Txn, account: &str, name: &str, except: &str) -> Result<bool, CfError> {
    Ok(
        txn_all::<CachePolicy>(txn, tables::CACHE_POLICIES, account)?
            .iter()
            .any(|p| p.config.name == name && p.id != except),
    )
}

fn illegal_managed() -> CfError {
    CfError::client(
        "IllegalUpdate",
        400,
        "Managed cache policies cannot be changed.",
    )
}

impl CloudFront {
    /// CreateCachePolicy.
    pub async fn create_cache_policy(
        &self,
        account: &str,
        config: CachePolicyConfig,
    ) -> Result<CachePolicy, CfError> {
        validate(&config)?;
        let account = account.to_owned();
        self.write(move |txn| {
            if name_taken(txn, &account, &config.name, "")? {
                return Err(already_exists());
            }
            let p = CachePolicy {
                id: uuid::Uuid::new_v4().to_string(),
                etag: new_etag(),
                last_modified: now(),
                managed: false,
                config,
            };
            txn_put(txn, tables::CACHE_POLICIES, &account, &p.id, &p)?;
            Ok(p)
        })
        .await
    }

    /// GetCachePolicy: a managed policy or one of the account's.
    pub fn cache_policy(&self, account: &str, id: &str) -> Result<CachePolicy, CfError> {
        if let Some(p) = managed().into_iter().find(|p| p.id == id) {
            return Ok(p);
        }
        self.read(tables::CACHE_POLICIES, account, id)?
            .ok_or_else(CfError::no_such_cache_policy)
    }

    /// ListCachePolicies: managed first, then custom; `kind` is `managed`, `custom` or `None` for both.
    pub fn list_cache_policies(
        &self,
        account: &str,
        kind: Option<&str>,
    ) -> Result<Vec<CachePolicy>, CfError> {
        let mut out = Vec::new();
        if kind != Some("custom") {
            out.extend(managed());
        }
        if kind != Some("managed") {
            out.extend(self.read_all::<CachePolicy>(tables::CACHE_POLICIES, account)?);
        }
        Ok(out)
    }

    /// UpdateCachePolicy.
    pub async fn update_cache_policy(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
        config: CachePolicyConfig,
    ) -> Result<CachePolicy, CfError> {
        if managed().iter().any(|p| p.id == id) {
            return Err(illegal_managed());
        }
        validate(&config)?;
        let (account, id, if_match) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
        );
        self.write(move |txn| {
            let mut p: CachePolicy = txn
                .get_json(tables::CACHE_POLICIES, &key2(&account, &id))?
                .ok_or_else(CfError::no_such_cache_policy)?;
            check_if_match(&p.etag, if_match.as_deref())?;
            if name_taken(txn, &account, &config.name, &id)? {
                return Err(already_exists());
            }
            p.config = config;
            p.etag = new_etag();
            p.last_modified = now();
            txn_put(txn, tables::CACHE_POLICIES, &account, &id, &p)?;
            Ok(p)
        })
        .await
    }

    /// DeleteCachePolicy: managed policies are refused (`IllegalDelete`), and so are policies in use.
    pub async fn delete_cache_policy(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), CfError> {
        if managed().iter().any(|p| p.id == id) {
            return Err(CfError::client(
                "IllegalDelete",
                400,
                "Managed cache policies cannot be deleted.",
            ));
        }
        let (account, id, if_match) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
        );
        self.write(move |txn| {
            let p: CachePolicy = txn
                .get_json(tables::CACHE_POLICIES, &key2(&account, &id))?
                .ok_or_else(CfError::no_such_cache_policy)?;
            check_if_match(&p.etag, if_match.as_deref())?;
            let in_use = txn_all::<Distribution>(txn, tables::DISTRIBUTIONS, &account)?.iter().any(|d| {
                std::iter::once(&d.config.default_cache_behavior)
                    .chain(&d.config.cache_behaviors)
                    .any(|b| b.cache_policy_id.as_deref() == Some(id.as_str()))
            });
            if in_use {
                return Err(CfError::client(
                    "CachePolicyInUse",
                    409,
                    "Cannot delete the cache policy because it is attached to one or more cache behaviors.",
                ));
            }
            txn.delete(tables::CACHE_POLICIES, key2(&account, &id));
            Ok(())
        })
        .await
    }
}
