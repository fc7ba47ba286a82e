//! Whether a certificate covers an alternate domain name (CNAME), by TLS's rules: rustls-webpki's name matching
//! for a host name (a wildcard certificate name covers exactly one label), and for a wildcard alias
//! (`*.example.com`, which serves every direct subdomain) the certificate must name that wildcard itself. The
//! control plane also checks the chain and validity before it accepts an alias; the edge serves an alias only
//! while its certificate covers it. Pure.

use rustls_pki_types::{CertificateDer, ServerName};

/// Whether the certificate `leaf_der` (DER) covers `alias`. Anything unparsable covers nothing.
pub fn certificate_covers(leaf_der: &[u8], alias: &str) -> bool {
    let der = CertificateDer::from(leaf_der);
    let Ok(ee) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    if alias.starts_with("*.") {
        return ee.valid_dns_names().any(|n| n.eq_ignore_ascii_case(alias));
    }
    match ServerName::try_from(alias) {
        Ok(name @ ServerName::DnsName(_)) => ee.verify_is_valid_for_subject_name(&name).is_ok(),
        _ => false,
    }
}
