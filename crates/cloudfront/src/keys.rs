//! Public keys (PEM RSA keys, validated) and key groups, which cache behaviors trust for signed URLs and
//! cookies. A key in a key group, or a key group a distribution trusts, cannot be deleted.

use x509_parser::prelude::FromDer;

use crate::{
    check_if_match, key2, new_etag, new_id, now, tables, txn_all, txn_put, CfError, CloudFront,
};
use crate::{KeyGroup, KeyGroupConfig, PublicKey, PublicKeyConfig};

/// The most public keys in one key group (AWS's quota).
const MAX_KEYS_PER_GROUP: usize = 5;

/// Checks that `pem` is one PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding an RSA key of 2048 bits or more, or
/// an ECDSA P-256 key, the kinds CloudFront accepts.
pub(crate) fn validate_public_key(pem: &str) -> Result<(), CfError> {
    let bad = || {
        CfError::invalid("Invalid Public Key: the key must be a PEM-encoded RSA (2048 bits or more) or ECDSA P-256 public key.")
    };
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes()).map_err(|_| bad())?;
    if parsed.label != "PUBLIC KEY" {
        return Err(bad());
    }
    let (_, spki) =
        x509_parser::x509::SubjectPublicKeyInfo::from_der(&parsed.contents).map_err(|_| bad())?;
    match spki.parsed().map_err(|_| bad())? {
        x509_parser::public_key::PublicKey::RSA(rsa) if rsa.key_size() >= 2048 => Ok(()),
        x509_parser::public_key::PublicKey::EC(ec) if ec.key_size() == 256 => Ok(()),
        _ => Err(bad()),
    }
}

fn no_such_public_key() -> CfError {
    CfError::client(
        "NoSuchPublicKey",
        404,
        "The specified public key does not exist.",
    )
}

fn no_such_key_group() -> CfError {
    CfError::client(
        "NoSuchResource",
        404,
        "A resource that was specified in the request does not exist.",
    )
}

impl CloudFront {
    /// CreatePublicKey: idempotent on CallerReference (the same configuration returns the same key).
    pub async fn create_public_key(
        &self,
        account: &str,
        config: PublicKeyConfig,
    ) -> Result<PublicKey, CfError> {
        if config.name.is_empty() || config.name.len() > 128 || config.caller_reference.is_empty() {
            return Err(CfError::invalid(
                "A public key needs a Name (1 to 128 characters) and a CallerReference.",
            ));
        }
        validate_public_key(&config.encoded_key)?;
        let account = account.to_owned();
        self.write(move |txn| {
            for k in txn_all::<PublicKey>(txn, tables::PUBLIC_KEYS, &account)? {
                if k.config.caller_reference == config.caller_reference {
                    if k.config == config {
                        return Ok(k);
                    }
                    return Err(CfError::client(
                        "PublicKeyAlreadyExists",
                        409,
                        "The specified public key already exists.",
                    ));
                }
                if k.config.name == config.name {
                    return Err(CfError::client(
                        "PublicKeyAlreadyExists",
                        409,
                        "A public key with this name already exists.",
                    ));
                }
            }
            let k = PublicKey {
                id: new_id('K'),
                etag: new_etag(),
                created: now(),
                config,
            };
            txn_put(txn, tables::PUBLIC_KEYS, &account, &k.id, &k)?;
            Ok(k)
        })
        .await
    }

    /// GetPublicKey.
    pub fn public_key(&self, account: &str, id: &str) -> Result<PublicKey, CfError> {
        self.read(tables::PUBLIC_KEYS, account, id)?
            .ok_or_else(no_such_public_key)
    }

    /// ListPublicKeys.
    pub fn list_public_keys(&self, account: &str) -> Result<Vec<PublicKey>, CfError> {
        self.read_all(tables::PUBLIC_KEYS, account)
    }

    /// DeletePublicKey: refused while a key group holds it (`PublicKeyInUse`).
    pub async fn delete_public_key(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), CfError> {
        let (account, id, if_match) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
        );
        self.write(move |txn| {
            let k: PublicKey = txn
                .get_json(tables::PUBLIC_KEYS, &key2(&account, &id))?
                .ok_or_else(no_such_public_key)?;
            check_if_match(&k.etag, if_match.as_deref())?;
            if txn_all::<KeyGroup>(txn, tables::KEY_GROUPS, &account)?
                .iter()
                .any(|g| g.config.items.contains(&id))
            {
                return Err(CfError::client(
                    "PublicKeyInUse",
                    409,
                    "The specified public key is in use.",
                ));
            }
            txn.delete(tables::PUBLIC_KEYS, key2(&account, &id));
            Ok(())
        })
        .await
    }

    fn validate_key_group(
        txn: &meta::Txn,
        account: &str,
        c: &KeyGroupConfig,
        except: &str,
    ) -> Result<(), CfError> {
        if c.name.is_empty() || c.name.len() > 128 {
            return Err(CfError::invalid(
                "The name of a key group must be 1 to 128 characters long.",
            ));
        }
        if c.items.is_empty() {
            return Err(CfError::invalid(
                "A key group must contain at least one public key.",
            ));
        }
        if c.items.len() > MAX_KEYS_PER_GROUP {
            return Err(CfError::client(
                "TooManyPublicKeysInKeyGroup",
                400,
                "The number of public keys in this key group is more than the maximum allowed.",
            ));
        }
        for k in &c.items {
            if txn.get(tables::PUBLIC_KEYS, &key2(account, k))?.is_none() {
                return Err(no_such_public_key());
            }
        }
        if txn_all::<KeyGroup>(txn, tables::KEY_GROUPS, account)?
            .iter()
            .any(|g| g.config.name == c.name && g.id != except)
        {
            return Err(CfError::client(
                "KeyGroupAlreadyExists",
                409,
                "A key group with this name already exists.",
            ));
        }
        Ok(())
    }

    /// CreateKeyGroup: every key must exist; names are unique.
    pub async fn create_key_group(
        &self,
        account: &str,
        config: KeyGroupConfig,
    ) -> Result<KeyGroup, CfError> {
        let account = account.to_owned();
        self.write(move |txn| {
            Self::validate_key_group(txn, &account, &config, "")?;
            let g = KeyGroup {
                id: uuid::Uuid::new_v4().to_string(),
                etag: new_etag(),
                last_modified: now(),
                config,
            };
            txn_put(txn, tables::KEY_GROUPS, &account, &g.id, &g)?;
            Ok(g)
        })
        .await
    }

    /// GetKeyGroup.
    pub fn key_group(&self, account: &str, id: &str) -> Result<KeyGroup, CfError> {
        self.read(tables::KEY_GROUPS, account, id)?
            .ok_or_else(no_such_key_group)
    }

    /// ListKeyGroups.
    pub fn list_key_groups(&self, account: &str) -> Result<Vec<KeyGroup>, CfError> {
        self.read_all(tables::KEY_GROUPS, account)
    }

    /// DeleteKeyGroup: refused while a distribution trusts it (`ResourceInUse`).
    pub async fn delete_key_group(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), CfError> {
        let (account, id, if_match) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
        );
        self.write(move |txn| {
            let g: KeyGroup = txn
                .get_json(tables::KEY_GROUPS, &key2(&account, &id))?
                .ok_or_else(no_such_key_group)?;
            check_if_match(&g.etag, if_match.as_deref())?;
            let in_use = Self::distributions_in_txn(txn, &account)?.iter().any(|d| {
                std::iter::once(&d.config.default_cache_behavior)
                    .chain(&d.config.cache_behaviors)
                    .any(|b| {
                        b.trusted_key_groups
                            .as_ref()
                            .is_some_and(|t| t.items.contains(&id))
                    })
            });
            if in_use {
                return Err(CfError::client(
                    "ResourceInUse",
                    409,
                    "Cannot delete this resource because it is in use.",
                ));
            }
            txn.delete(tables::KEY_GROUPS, key2(&account, &id));
            Ok(())
        })
        .await
    }
}
