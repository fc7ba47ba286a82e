//! Which certificates may serve an alternate domain name (CNAME): one that chains to a trusted root (the system's,
//! plus the operator's `[edge] alias_ca_file`), is valid now, is for TLS servers, and covers the name — a wildcard
//! certificate covering exactly one label, as in TLS, and a wildcard alias needing the wildcard name itself. That
//! is what proves the distribution's owner controls the name; without it any account could claim any host name.
//!
//! Chain, validity and name matching are rustls-webpki's, on aws-lc-rs.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use crate::CfError;

/// The roots an alias's certificate must chain to.
#[derive(Debug, Clone, Default)]
pub struct AliasTrust {
    anchors: Vec<TrustAnchor<'static>>,
}

impl AliasTrust {
    /// No roots at all: every alias is refused (for tests that do not configure any).
    pub fn none() -> AliasTrust {
        AliasTrust::default()
    }

    /// The system's trusted roots (as `rustls-native-certs` finds them), plus the PEM certificates in `extra`.
    pub fn load(extra: Option<&Path>) -> Result<AliasTrust, String> {
        let mut trust = AliasTrust::none();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!("loading the system's trusted certificates for aliases: {e}");
        }
        for cert in native.certs {
            trust.add(&cert).ok();
        }
        if let Some(path) = extra {
            let pem =
                std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            trust
                .add_pem(&pem)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(trust)
    }

    /// Adds the PEM certificates in `pem` as roots.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<(), String> {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
            self.add(&cert)?;
            added += 1;
        }
        if added == 0 {
            return Err("no certificate found".into());
        }
        Ok(())
    }

    fn add(&mut self, cert: &CertificateDer<'_>) -> Result<(), String> {
        let anchor = webpki::anchor_from_trusted_cert(cert)
            .map_err(|e| format!("not a usable root certificate: {e}"))?;
        self.anchors.push(anchor.to_owned());
        Ok(())
    }

    /// Checks that the certificate `certificate_pem` (with its `chain_pem`) may serve every one of `aliases` at
    /// `now`, with CloudFront's error for the first failure.
    pub fn check(
        &self,
        certificate_pem: &str,
        chain_pem: Option<&str>,
        aliases: &[String],
        now: UnixTime,
    ) -> Result<(), CfError> {
        if aliases.is_empty() {
            return Ok(());
        }
        let invalid = || {
            CfError::client(
                "InvalidViewerCertificate",
                400,
                "The specified SSL certificate doesn't exist, isn't valid, or doesn't include a valid certificate chain.",
            )
        };
        let leaf =
            CertificateDer::from_pem_slice(certificate_pem.as_bytes()).map_err(|_| invalid())?;
        let intermediates: Vec<CertificateDer<'_>> = match chain_pem {
            Some(chain) => CertificateDer::pem_slice_iter(chain.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| invalid())?,
            None => Vec::new(),
        };
        let ee = webpki::EndEntityCert::try_from(&leaf).map_err(|_| invalid())?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| match e {
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                CfError::client(
                    "InvalidViewerCertificate",
                    400,
                    "The specified SSL certificate is expired or not yet valid.",
                )
            }
            _ => invalid(),
        })?;
        for alias in aliases {
            if !crate::certificate_covers(&leaf, alias) {
                return Err(CfError::client(
                    "InvalidViewerCertificate",
                    400,
                    format!("The certificate that is attached to your distribution doesn't cover the alternate domain name (CNAME) that you're trying to add: {alias}."),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ca {
        cert: rcgen::Certificate,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    fn ca() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let cert = params.self_signed(&key).unwrap();
        let issuer = rcgen::Issuer::new(params, key);
        Ca { cert, issuer }
    }

    fn leaf(ca: Option<&Ca>, names: &[&str], days: (i64, i64)) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(days.0);
        params.not_after = now + time::Duration::days(days.1);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        match ca {
            Some(ca) => params.signed_by(&key, &ca.issuer).unwrap().pem(),
            None => params.self_signed(&key).unwrap().pem(),
        }
    }

    fn trust(ca: &Ca) -> AliasTrust {
        let mut t = AliasTrust::none();
        t.add_pem(ca.cert.pem().as_bytes()).unwrap();
        t
    }

    fn check(t: &AliasTrust, pem: &str, aliases: &[&str]) -> Result<(), &'static str> {
        let aliases: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
        t.check(pem, None, &aliases, UnixTime::now())
            .map_err(|e| e.code())
    }

    #[test]
    fn chain_validity_and_names() {
        let ca = ca();
        let t = trust(&ca);
        let www = leaf(Some(&ca), &["www.example.com"], (-1, 30));
        assert_eq!(check(&t, &www, &["www.example.com"]), Ok(()));
        assert_eq!(check(&t, &www, &["WWW.Example.com"]), Ok(()));
        assert_eq!(
            check(&t, &www, &["api.example.com"]),
            Err("InvalidViewerCertificate")
        );
        // Untrusted: self-signed for the name, or trusted by nobody.
        let own = leaf(None, &["www.example.com"], (-1, 30));
        assert_eq!(
            check(&t, &own, &["www.example.com"]),
            Err("InvalidViewerCertificate")
        );
        assert_eq!(
            check(&AliasTrust::none(), &www, &["www.example.com"]),
            Err("InvalidViewerCertificate")
        );
        // Outside its validity.
        let old = leaf(Some(&ca), &["www.example.com"], (-30, -1));
        assert_eq!(
            check(&t, &old, &["www.example.com"]),
            Err("InvalidViewerCertificate")
        );
        let early = leaf(Some(&ca), &["www.example.com"], (1, 30));
        assert_eq!(
            check(&t, &early, &["www.example.com"]),
            Err("InvalidViewerCertificate")
        );
        // Wildcards: one label, and a wildcard alias needs the wildcard itself.
        let wild = leaf(Some(&ca), &["*.example.com"], (-1, 30));
        assert_eq!(
            check(&t, &wild, &["a.example.com", "*.example.com"]),
            Ok(())
        );
        assert_eq!(
            check(&t, &wild, &["a.b.example.com"]),
            Err("InvalidViewerCertificate")
        );
        assert_eq!(
            check(&t, &wild, &["example.com"]),
            Err("InvalidViewerCertificate")
        );
        assert_eq!(
            check(&t, &www, &["*.example.com"]),
            Err("InvalidViewerCertificate")
        );
        // No aliases, nothing to prove.
        assert_eq!(check(&AliasTrust::none(), &own, &[]), Ok(()));
        assert_eq!(
            check(&t, "garbage", &["www.example.com"]),
            Err("InvalidViewerCertificate")
        );
    }
}
