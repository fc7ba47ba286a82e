//! HTTPS for viewers: the certificate is chosen by SNI (a distribution's imported ACM certificate for the aliases
//! it covers, else — for its own `<id>.<edge domain>` too — the edge's default certificate), and so is the
//! protocol floor (`TLSv1.3_2025` allows TLS 1.3 only; every
//! older MinimumProtocolVersion means TLS 1.2 and 1.3, the only versions rustls speaks).
//!
//! The default certificate is read from the edge directory, or made self-signed with rcgen on first start.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cloudfront_model::EdgeCertificate;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::state::Current;

/// Builds a rustls key from PEM certificate, chain and private key.
pub fn certified_key(c: &EdgeCertificate) -> anyhow::Result<CertifiedKey> {
    let mut chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(c.certificate_pem.as_bytes())
            .collect::<Result<_, _>>()
            .context("the certificate is not PEM")?;
    if let Some(extra) = &c.chain_pem {
        for cert in CertificateDer::pem_slice_iter(extra.as_bytes()) {
            chain.push(cert.context("the chain is not PEM")?);
        }
    }
    anyhow::ensure!(!chain.is_empty(), "no certificate");
    let key = PrivateKeyDer::from_pem_slice(c.private_key_pem.as_bytes())
        .context("the private key is not PEM")?;
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .context("unsupported private key")?;
    Ok(CertifiedKey::new(chain, signer))
}

/// Loads `<dir>/default.crt` and `default.key`, or makes a self-signed certificate for `names` and stores it
/// (key mode 0600).
pub fn default_certificate(dir: &Path, names: &[String]) -> anyhow::Result<CertifiedKey> {
    let (crt, key) = (dir.join("default.crt"), dir.join("default.key"));
    crate::cache::private_dir(dir)?;
    if !crt.exists() || !key.exists() {
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .context("generating the default certificate")?;
        write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&crt, made.cert.pem())
            .with_context(|| format!("writing {}", crt.display()))?;
        tracing::info!(
            "generated a self-signed default certificate for {} at {}",
            names.join(", "),
            crt.display()
        );
    }
    let c = EdgeCertificate {
        certificate_pem: std::fs::read_to_string(&crt)
            .with_context(|| format!("reading {}", crt.display()))?,
        chain_pem: None,
        private_key_pem: std::fs::read_to_string(&key)
            .with_context(|| format!("reading {}", key.display()))?,
    };
    certified_key(&c).with_context(|| format!("loading {}", crt.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Picks a certificate by SNI.
#[derive(Debug)]
struct SniResolver {
    current: Arc<Current>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|name| self.current.get().alias_tls(name).map(|t| t.key.clone()));
        Some(chosen.unwrap_or_else(|| self.default.clone()))
    }
}

/// Accepts TLS connections with per-distribution certificates and protocol floors.
#[derive(Clone)]
pub struct Acceptor {
    current: Arc<Current>,
    modern: Arc<ServerConfig>,
    tls13_only: Arc<ServerConfig>,
}

impl Acceptor {
    pub fn new(current: Arc<Current>, default: CertifiedKey) -> anyhow::Result<Acceptor> {
        let resolver = Arc::new(SniResolver {
            current: current.clone(),
            default: Arc::new(default),
        });
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = |versions: &[&'static rustls::SupportedProtocolVersion]| -> anyhow::Result<Arc<ServerConfig>> {
            let mut c = ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .context("TLS protocol versions")?
                .with_no_client_auth()
                .with_cert_resolver(resolver.clone());
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Ok(Arc::new(c))
        };
        Ok(Acceptor {
            modern: config(&[&rustls::version::TLS13, &rustls::version::TLS12])?,
            tls13_only: config(&[&rustls::version::TLS13])?,
            current,
        })
    }

    /// Completes the handshake with the configuration the SNI's distribution asks for.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
        let tls13 = start
            .client_hello()
            .server_name()
            .and_then(|n| self.current.get().alias_tls(n).map(|t| t.tls13_only))
            .unwrap_or(false);
        let config = if tls13 {
            &self.tls13_only
        } else {
            &self.modern
        };
        start.into_stream(config.clone()).await
    }
}

/// The negotiated protocol and cipher suite of a connection, in CloudFront's log spelling.
pub fn describe(conn: &rustls::ServerConnection) -> (String, String) {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "-",
    };
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "-".into());
    (version.to_owned(), suite)
}
