//! Origin access controls: how a distribution signs its requests to an S3 origin (SigV4, always / never /
//! no-override). Names are unique in an account; an OAC used by a distribution cannot be deleted.

use crate::{
    check_if_match, key2, new_etag, new_id, tables, txn_all, txn_put, CfError, CloudFront,
};
use crate::{Distribution, Oac, OacConfig};

fn validate(c: &OacConfig) -> Result<(), CfError> {
    if c.name.is_empty() || c.name.len() > 64 {
        return Err(CfError::invalid(
            "The name of an origin access control must be 1 to 64 characters long.",
        ));
    }
    if c.signing_protocol != "sigv4" {
        return Err(CfError::invalid(format!(
            "Unsupported SigningProtocol {}; the only supported value is sigv4.",
            c.signing_protocol
        )));
    }
    if !matches!(
        c.signing_behavior.as_str(),
        "always" | "never" | "no-override"
    ) {
        return Err(CfError::invalid(format!(
            "Invalid SigningBehavior {}; valid values are always, never and no-override.",
            c.signing_behavior
        )));
    }
    if c.origin_type != "s3" {
        return Err(CfError::invalid(format!(
            "Unsupported OriginAccessControlOriginType {}; the supported value is s3.",
            c.origin_type
        )));
    }
    Ok(())
}

fn name_taken(txn: &meta::Txn, account: &str, name: &str, except: &str) -> Result<bool, CfError> {
    Ok(txn_all::<Oac>(txn, tables::OACS, account)?
        .iter()
        .any(|o| o.config.name == name && o.id != except))
}

fn already_exists() -> CfError {
    CfError::client(
        "OriginAccessControlAlreadyExists",
        409,
        "An origin access control with the same name already exists.",
    )
}

impl CloudFront {
    /// CreateOriginAccessControl.
    pub async fn create_oac(&self, account: &str, config: OacConfig) -> Result<Oac, CfError> {
        validate(&config)?;
        let account = account.to_owned();
        self.write(move |txn| {
            if name_taken(txn, &account, &config.name, "")? {
                return Err(already_exists());
            }
            let oac = Oac {
                id: new_id('E'),
                etag: new_etag(),
                config,
            };
            txn_put(txn, tables::OACS, &account, &oac.id, &oac)?;
            Ok(oac)
        })
        .await
    }

    /// GetOriginAccessControl.
    pub fn oac(&self, account: &str, id: &str) -> Result<Oac, CfError> {
        self.read(tables::OACS, account, id)?
            .ok_or_else(CfError::no_such_oac)
    }

    /// ListOriginAccessControls: every OAC of the account, by id.
    pub fn list_oacs(&self, account: &str) -> Result<Vec<Oac>, CfError> {
        self.read_all(tables::OACS, account)
    }

    /// UpdateOriginAccessControl.
    pub async fn update_oac(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
        config: OacConfig,
    ) -> Result<Oac, CfError> {
        validate(&config)?;
        let (account, id, if_match) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
        );
        self.write(move |txn| {
            let mut oac: Oac = txn
                .get_json(tables::OACS, &key2(&account, &id))?
                .ok_or_else(CfError::no_such_oac)?;
            check_if_match(&oac.etag, if_match.as_deref())?;
            if name_taken(txn, &account, &config.name, &id)? {
                return Err(already_exists());
            }
            oac.config = config;
            oac.etag = new_etag();
            txn_put(txn, tables::OACS, &account, &id, &oac)?;
            Ok(oac)
        })
        .await
    }

    /// DeleteOriginAccessControl: refused while a distribution's origin uses it.
    pub async fn delete_oac(
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
            let oac: Oac = txn
                .get_json(tables::OACS, &key2(&account, &id))?
                .ok_or_else(CfError::no_such_oac)?;
            check_if_match(&oac.etag, if_match.as_deref())?;
            let in_use = txn_all::<Distribution>(txn, tables::DISTRIBUTIONS, &account)?
                .iter()
                .any(|d| d.config.origins.iter().any(|o| o.origin_access_control_id == id));
            if in_use {
                return Err(CfError::client(
                    "OriginAccessControlInUse",
                    409,
                    "Cannot delete this origin access control because it's in use by one or more origins.",
                ));
            }
            txn.delete(tables::OACS, key2(&account, &id));
            Ok(())
        })
        .await
    }
}
