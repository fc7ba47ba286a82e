//! Imported ACM certificates: ImportCertificate (the private key must match the certificate; it is stored only
//! sealed by the root of trust), DescribeCertificate, ListCertificates, GetCertificate (never the key),
//! DeleteCertificate (refused while a distribution uses it), and [`CloudFront::certified_key`] for the edge.

use aws_lc_rs::signature::{self, KeyPair};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use zeroize::Zeroizing;

use crate::{key2, now, tables, txn_all, txn_put, CfError, CloudFront};
use crate::{Certificate, Distribution};

/// The largest PEM input accepted for a certificate, chain or key.
const MAX_PEM: usize = 32 * 1024;

/// What the edge needs to serve a distribution's alias over TLS. The key is zeroized when dropped.
pub struct CertifiedKey {
    pub certificate_pem: String,
    pub chain_pem: Option<String>,
    /// The private key in the PEM form it was imported in.
    pub private_key_pem: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey").finish_non_exhaustive()
    }
}

/// `arn:aws:acm:<region>:<account>:certificate/<id>`.
pub fn certificate_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:acm:{region}:{account}:certificate/{id}")
}

fn validation(message: impl Into<String>) -> CfError {
    CfError::client("ValidationException", 400, message)
}

fn not_found(arn: &str) -> CfError {
    CfError::client(
        "ResourceNotFoundException",
        400,
        format!("Could not find certificate {arn}."),
    )
}

/// (region, account, id) of a certificate ARN.
fn parse_arn(arn: &str) -> Result<(&str, &str, &str), CfError> {
    let bad = || {
        CfError::client(
            "InvalidArnException",
            400,
            format!("The ARN {arn} is not valid."),
        )
    };
    let rest = arn.strip_prefix("arn:aws:acm:").ok_or_else(bad)?;
    let mut parts = rest.splitn(3, ':');
    let (region, account, resource) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    let id = resource.strip_prefix("certificate/").ok_or_else(bad)?;
    if region.is_empty() || account.is_empty() || uuid::Uuid::parse_str(id).is_err() {
        return Err(bad());
    }
    Ok((region, account, id))
}

/// The public key bytes (as they appear in a certificate's SubjectPublicKeyInfo) of a PEM private key.
fn public_key_of(label: &str, der: &[u8]) -> Option<(Vec<u8>, &'static str)> {
    let ec = |der: &[u8]| {
        [
            (&signature::ECDSA_P256_SHA256_ASN1_SIGNING, "EC_prime256v1"),
            (&signature::ECDSA_P384_SHA384_ASN1_SIGNING, "EC_secp384r1"),
        ]
        .into_iter()
        .find_map(|(alg, name)| {
            signature::EcdsaKeyPair::from_private_key_der(alg, der)
                .or_else(|_| signature::EcdsaKeyPair::from_pkcs8(alg, der))
                .ok()
                .map(|k| (k.public_key().as_ref().to_vec(), name))
        })
    };
    let rsa = |k: signature::RsaKeyPair| {
        let name = match k.public_modulus_len() * 8 {
            1024 => "RSA_1024",
            2048 => "RSA_2048",
            3072 => "RSA_3072",
            4096 => "RSA_4096",
            _ => "RSA_2048",
        };
        (k.public_key().as_ref().to_vec(), name)
    };
    match label {
        "RSA PRIVATE KEY" => signature::RsaKeyPair::from_der(der).ok().map(rsa),
        "EC PRIVATE KEY" => ec(der),
        "PRIVATE KEY" => signature::RsaKeyPair::from_pkcs8(der)
            .ok()
            .map(rsa)
            .or_else(|| ec(der)),
        _ => None,
    }
}

fn signature_algorithm(oid: &str) -> &'static str {
    match oid {
        "1.2.840.113549.1.1.11" => "SHA256WITHRSA",
        "1.2.840.113549.1.1.12" => "SHA384WITHRSA",
        "1.2.840.113549.1.1.13" => "SHA512WITHRSA",
        "1.2.840.10045.4.3.2" => "SHA256WITHECDSA",
        "1.2.840.10045.4.3.3" => "SHA384WITHECDSA",
        "1.2.840.10045.4.3.4" => "SHA512WITHECDSA",
        _ => "UNKNOWN",
    }
}

fn time_of(t: x509_parser::time::ASN1Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Everything ImportCertificate learns from its inputs, before it is stored.
struct Parsed {
    domain_name: String,
    sans: Vec<String>,
    serial: String,
    subject: String,
    issuer: String,
    key_algorithm: String,
    signature_algorithm: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

fn parse_import(
    cert_pem: &[u8],
    key_pem: &[u8],
    chain_pem: Option<&[u8]>,
) -> Result<Parsed, CfError> {
    if cert_pem.len() > MAX_PEM
        || key_pem.len() > MAX_PEM
        || chain_pem.is_some_and(|c| c.len() > MAX_PEM)
    {
        return Err(validation(
            "The certificate, chain or private key is too large.",
        ));
    }
    let bad_cert = || validation("Could not validate the certificate with the certificate chain.");
    let pems: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| validation("The certificate is not a PEM-encoded X.509 certificate."))?;
    let [pem] = pems.as_slice() else {
        return Err(validation(
            "The certificate field must contain exactly one certificate.",
        ));
    };
    if pem.label != "CERTIFICATE" {
        return Err(validation(
            "The certificate is not a PEM-encoded X.509 certificate.",
        ));
    }
    let cert = pem.parse_x509().map_err(|_| bad_cert())?;
    if let Some(chain) = chain_pem {
        for p in x509_parser::pem::Pem::iter_from_buffer(chain) {
            let p = p.map_err(|_| validation("The certificate chain is not PEM-encoded."))?;
            if p.label != "CERTIFICATE" || p.parse_x509().is_err() {
                return Err(validation(
                    "The certificate chain must contain only PEM-encoded X.509 certificates.",
                ));
            }
        }
    }
    let keys: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(key_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| validation("The private key is not PEM-encoded."))?;
    let [key] = keys.as_slice() else {
        return Err(validation(
            "The private key field must contain exactly one private key.",
        ));
    };
    let contents = Zeroizing::new(key.contents.clone());
    let (public, key_algorithm) = public_key_of(&key.label, &contents)
        .ok_or_else(|| validation("The private key is not supported."))?;
    if public.as_slice() != cert.public_key().subject_public_key.data.as_ref() {
        return Err(validation(
            "The private key does not match the public key in the certificate.",
        ));
    }
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            if let GeneralName::DNSName(d) = name {
                sans.push((*d).to_owned());
            }
        }
    }
    let domain_name = subject_cn
        .clone()
        .or_else(|| sans.first().cloned())
        .ok_or_else(|| validation("The certificate names no domain (no common name and no DNS subject alternative name)."))?;
    if sans.is_empty() {
        sans.push(domain_name.clone());
    }
    Ok(Parsed {
        domain_name,
        sans,
        serial: cert.raw_serial_as_string(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        key_algorithm: key_algorithm.to_owned(),
        signature_algorithm: signature_algorithm(
            &cert.signature_algorithm.algorithm.to_id_string(),
        )
        .to_owned(),
        not_before: time_of(cert.validity().not_before),
        not_after: time_of(cert.validity().not_after),
    })
}

impl CloudFront {
    /// ImportCertificate (or re-import into `existing_arn`). The private key is sealed with the ARN as associated
    /// data before it is stored; it never reaches the store in plaintext.
    pub async fn import_certificate(
        &self,
        account: &str,
        region: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
        chain_pem: Option<&[u8]>,
        existing_arn: Option<&str>,
    ) -> Result<Certificate, CfError> {
        let parsed = parse_import(cert_pem, key_pem, chain_pem)?;
        let (id, created) = match existing_arn {
            Some(arn) => {
                let c = self.certificate(account, arn)?;
                (c.id, c.created)
            }
            None => (uuid::Uuid::new_v4().to_string(), now()),
        };
        let arn = certificate_arn(region, account, &id);
        let sealed = self.root().seal(arn.as_bytes(), key_pem)?;
        let record = Certificate {
            arn,
            account: account.to_owned(),
            region: region.to_owned(),
            id,
            domain_name: parsed.domain_name,
            subject_alternative_names: parsed.sans,
            serial: parsed.serial,
            subject: parsed.subject,
            issuer: parsed.issuer,
            key_algorithm: parsed.key_algorithm,
            signature_algorithm: parsed.signature_algorithm,
            not_before: parsed.not_before,
            not_after: parsed.not_after,
            created,
            imported: now(),
            certificate_pem: String::from_utf8_lossy(cert_pem).trim().to_owned() + "\n",
            chain_pem: chain_pem.map(|c| String::from_utf8_lossy(c).trim().to_owned() + "\n"),
            sealed_key: hex::encode(sealed),
        };
        let account = account.to_owned();
        let trust = self.config().alias_trust.clone();
        self.write(move |txn| {
            // A re-imported certificate must still prove every alias of the distributions that use it.
            for d in txn_all::<Distribution>(txn, tables::DISTRIBUTIONS, &account)?
                .iter()
                .filter(|d| uses_certificate(d, &record.arn))
            {
                trust
                    .check(
                        &record.certificate_pem,
                        record.chain_pem.as_deref(),
                        &d.config.aliases,
                        rustls_pki_types::UnixTime::now(),
                    )
                    .map_err(|e| {
                        validation(format!(
                            "The certificate is in use by distribution {} and cannot serve its alternate domain names: {e}",
                            d.id
                        ))
                    })?;
            }
            txn_put(txn, tables::CERTIFICATES, &account, &record.id, &record)?;
            Ok(record)
        })
        .await
    }

    /// The certificate `arn` of `account`: `InvalidArnException` for a malformed ARN, `ResourceNotFoundException`
    /// when it is not this account's.
    pub fn certificate(&self, account: &str, arn: &str) -> Result<Certificate, CfError> {
        let (_, owner, id) = parse_arn(arn)?;
        if owner != account {
            return Err(not_found(arn));
        }
        self.read::<Certificate>(tables::CERTIFICATES, account, id)?
            .filter(|c| c.arn == arn)
            .ok_or_else(|| not_found(arn))
    }

    /// The certificate a distribution's ViewerCertificate names, as the writing transaction sees it; CloudFront
    /// takes certificates only from us-east-1.
    pub(crate) fn certificate_in_txn(
        &self,
        txn: &meta::Txn,
        account: &str,
        arn: &str,
    ) -> Result<Certificate, CfError> {
        let (region, owner, id) = parse_arn(arn)?;
        if owner != account || region != "us-east-1" {
            return Err(not_found(arn));
        }
        txn.get_json::<Certificate>(tables::CERTIFICATES, &key2(account, id))?
            .filter(|c| c.arn == arn)
            .ok_or_else(|| not_found(arn))
    }

    /// ListCertificates: the account's certificates of `region`.
    pub fn list_certificates(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Vec<Certificate>, CfError> {
        Ok(self
            .read_all::<Certificate>(tables::CERTIFICATES, account)?
            .into_iter()
            .filter(|c| c.region == region)
            .collect())
    }

    /// Distributions of the account whose ViewerCertificate names `arn` (DescribeCertificate's InUseBy).
    pub fn certificate_users(&self, account: &str, arn: &str) -> Result<Vec<String>, CfError> {
        Ok(self
            .list_distributions(account)?
            .into_iter()
            .filter(|d| uses_certificate(d, arn))
            .map(|d| d.arn)
            .collect())
    }

    /// DeleteCertificate: refused while a distribution uses it (`ResourceInUseException`).
    pub async fn delete_certificate(&self, account: &str, arn: &str) -> Result<(), CfError> {
        let c = self.certificate(account, arn)?;
        let account = account.to_owned();
        self.write(move |txn| {
            if txn_all::<Distribution>(txn, tables::DISTRIBUTIONS, &account)?
                .iter()
                .any(|d| uses_certificate(d, &c.arn))
            {
                return Err(CfError::client(
                    "ResourceInUseException",
                    400,
                    format!("Certificate {} is in use by CloudFront.", c.arn),
                ));
            }
            txn.delete(tables::CERTIFICATES, key2(&account, &c.id));
            Ok(())
        })
        .await
    }

    /// The certificate, chain and unsealed private key a distribution serves its aliases with, for the edge's
    /// TLS handshakes; `None` when it uses the default certificate.
    pub fn certified_key(&self, d: &Distribution) -> Result<Option<CertifiedKey>, CfError> {
        let Some(arn) = d
            .config
            .viewer_certificate
            .as_ref()
            .and_then(|v| v.acm_certificate_arn.as_deref())
        else {
            return Ok(None);
        };
        let c = self.certificate(&d.account, arn)?;
        let sealed = hex::decode(&c.sealed_key)
            .map_err(|_| CfError::Internal("a sealed key is not hex".into()))?;
        let key = self.root().open(c.arn.as_bytes(), &sealed)?;
        Ok(Some(CertifiedKey {
            certificate_pem: c.certificate_pem,
            chain_pem: c.chain_pem,
            private_key_pem: key,
        }))
    }
}

fn uses_certificate(d: &Distribution, arn: &str) -> bool {
    d.config
        .viewer_certificate
        .as_ref()
        .and_then(|v| v.acm_certificate_arn.as_deref())
        == Some(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        let arn = certificate_arn(
            "us-east-1",
            "123456789012",
            "8f1e2d3c-4b5a-4697-8877-665544332211",
        );
        assert_eq!(parse_arn(&arn).unwrap().1, "123456789012");
        assert_eq!(
            parse_arn("arn:aws:acm:us-east-1:1:certificate/x")
                .unwrap_err()
                .code(),
            "InvalidArnException"
        );
    }

    #[test]
    fn garbage_is_a_validation_error() {
        let e = parse_import(b"nope", b"nope", None).err().unwrap();
        assert_eq!(e.code(), "ValidationException");
    }
}
