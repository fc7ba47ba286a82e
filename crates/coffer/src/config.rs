//! Configuration: command-line flags, their `COFFER_*` environment equivalents, and a TOML file, merged into
//! validated settings. Flags and environment win over the file; the file wins over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

/// The TOML configuration file. Unknown keys are rejected so a typo never silently falls back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    /// `api = "127.0.0.1:9000"`, or an `[api]` table with `listen` and the listener's limits.
    #[serde(default, deserialize_with = "api_file_config")]
    pub api: ApiFileConfig,
    pub region: Option<String>,
    #[serde(default)]
    pub audit: AuditFileConfig,
    #[serde(default)]
    pub kms: KmsFileConfig,
    #[serde(default)]
    pub s3: S3FileConfig,
    #[serde(default)]
    pub edge: EdgeFileConfig,
}

/// `[api]`: the API listener — its address and its limits against slow, idle and too many clients. For
/// compatibility, `api` may also be just the address (`api = "127.0.0.1:9000"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFileConfig {
    /// The address to listen on (default `127.0.0.1:9000`).
    pub listen: Option<String>,
    /// A request head must be complete within this many milliseconds (default 10000).
    pub header_timeout_ms: Option<u64>,
    /// Keep-alive and response-write idle limit in milliseconds (default 75000).
    pub idle_timeout_ms: Option<u64>,
    /// The longest pause in a request body, in milliseconds (default 30000).
    pub body_timeout_ms: Option<u64>,
    /// Connections open at once (default 512); more are answered 503 and closed.
    pub max_connections: Option<usize>,
}

/// Reads `api` as either a string (the address) or the `[api]` table, keeping the table's unknown-key errors.
fn api_file_config<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ApiFileConfig, D::Error> {
    struct Either;
    impl<'de> serde::de::Visitor<'de> for Either {
        type Value = ApiFileConfig;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an address like \"127.0.0.1:9000\" or an [api] table")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ApiFileConfig, E> {
            Ok(ApiFileConfig {
                listen: Some(v.to_owned()),
                ..ApiFileConfig::default()
            })
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            map: A,
        ) -> Result<ApiFileConfig, A::Error> {
            ApiFileConfig::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Either)
}

/// `[edge]`: the in-process edge node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeFileConfig {
    /// Viewer HTTP listener, or `off` (default `127.0.0.1:8080`).
    pub http: Option<String>,
    /// Viewer HTTPS listener, or `off` (default `127.0.0.1:8443`).
    pub https: Option<String>,
    /// Distributions are named `<id>.<domain>` (default `cloudfront.localhost`).
    pub domain: Option<String>,
    /// Memory cache size in MiB (default 256).
    pub cache_memory_mb: Option<usize>,
    /// Disk cache size in MiB (default 1024; 0 turns the disk tier off).
    pub cache_disk_mb: Option<usize>,
    /// Write CloudFront standard access logs to `<data-dir>/edge/access.log` (default true).
    pub access_log: Option<bool>,
    /// Extra CA certificates (PEM) to trust for HTTPS custom origins, besides the system's.
    pub origin_ca_file: Option<PathBuf>,
    /// Internal networks (CIDR) custom origins may reach, e.g. `["127.0.0.0/8"]` for an origin on this host.
    /// Default none: only public addresses. The deployment's own listeners stay refused.
    pub origin_allow_networks: Option<Vec<String>>,
    /// Milliseconds a viewer has to send a request's head (default 10000).
    pub header_timeout_ms: Option<u64>,
    /// Milliseconds a viewer has to complete the TLS handshake (default 10000).
    pub tls_handshake_timeout_ms: Option<u64>,
    /// Milliseconds an idle keep-alive connection (or an unread response) is kept (default 60000).
    pub idle_timeout_ms: Option<u64>,
    /// Open viewer connections over both listeners; more are closed at once (default 4096).
    pub max_connections: Option<usize>,
    /// Extra CA certificates (PEM) an alternate domain name's certificate may chain to, besides the system's.
    pub alias_ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3FileConfig {
    /// Record S3 data events (object reads and writes) in the audit trail; on unless set to false. Management
    /// events are always recorded.
    pub data_events: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFileConfig {
    /// `per-event` (fsync before each response, shared by concurrent requests) or `interval`.
    pub sync: Option<String>,
    /// With `sync = "interval"`: the longest time between fsyncs, in milliseconds.
    pub interval_ms: Option<u64>,
    /// How often a signed digest is written, in seconds.
    pub digest_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsFileConfig {
    /// The root of trust on a PKCS#11 token instead of the `keys/root.key` file.
    pub pkcs11: Option<Pkcs11FileConfig>,
}

/// `[kms.pkcs11]`, or the `COFFER_PKCS11_*` environment variables: every field is required once any is given.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11FileConfig {
    pub module: Option<PathBuf>,
    pub token_label: Option<String>,
    pub pin_file: Option<PathBuf>,
    pub key_label: Option<String>,
}

impl Pkcs11FileConfig {
    /// `COFFER_PKCS11_MODULE`, `COFFER_PKCS11_TOKEN_LABEL`, `COFFER_PKCS11_PIN_FILE`, `COFFER_PKCS11_KEY_LABEL`;
    /// empty values count as unset.
    pub fn from_env() -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let text = |name| var(name).map(|v| v.to_string_lossy().into_owned());
        Self {
            module: var("COFFER_PKCS11_MODULE").map(PathBuf::from),
            token_label: text("COFFER_PKCS11_TOKEN_LABEL"),
            pin_file: var("COFFER_PKCS11_PIN_FILE").map(PathBuf::from),
            key_label: text("COFFER_PKCS11_KEY_LABEL"),
        }
    }

    fn is_empty(&self) -> bool {
        self.module.is_none()
            && self.token_label.is_none()
            && self.pin_file.is_none()
            && self.key_label.is_none()
    }

    /// Merges `over` (the environment) over `file`; `None` when neither names a PKCS#11 root of trust.
    pub fn resolve(file: Option<Self>, over: Self) -> anyhow::Result<Option<hsm::Pkcs11Config>> {
        if file.is_none() && over.is_empty() {
            return Ok(None);
        }
        let file = file.unwrap_or_default();
        let merged = Self {
            module: over.module.or(file.module),
            token_label: over.token_label.or(file.token_label),
            pin_file: over.pin_file.or(file.pin_file),
            key_label: over.key_label.or(file.key_label),
        };
        match merged {
            Self {
                module: Some(module),
                token_label: Some(token_label),
                pin_file: Some(pin_file),
                key_label: Some(key_label),
            } => Ok(Some(hsm::Pkcs11Config {
                module,
                token_label,
                pin_file,
                key_label,
            })),
            m => {
                let missing: Vec<&str> = [
                    ("module", m.module.is_none()),
                    ("token_label", m.token_label.is_none()),
                    ("pin_file", m.pin_file.is_none()),
                    ("key_label", m.key_label.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect();
                bail!(
                    "kms.pkcs11 needs module, token_label, pin_file and key_label (or COFFER_PKCS11_*); missing: {}",
                    missing.join(", ")
                )
            }
        }
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in config file {}", path.display()))
    }
}

/// The audit trail's durability setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSync {
    PerEvent,
    Interval(Duration),
}

/// Settings for `coffer serve`, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub api: SocketAddr,
    /// The API listener's timeouts and connection cap.
    pub api_limits: api::server::Limits,
    pub region: String,
    pub audit_sync: AuditSync,
    pub digest_interval: Duration,
    /// The root of trust on a PKCS#11 token; `None` for the key file.
    pub pkcs11: Option<hsm::Pkcs11Config>,
    /// Whether S3 object reads and writes are audited (data events).
    pub s3_data_events: bool,
    pub edge_http: Option<SocketAddr>,
    pub edge_https: Option<SocketAddr>,
    pub edge_domain: String,
    pub edge_cache: edge::CacheConfig,
    pub edge_access_log: bool,
    pub edge_origin_ca_file: Option<PathBuf>,
    pub edge_origin_allow_networks: Vec<edge::IpNet>,
    pub edge_limits: edge::ListenerLimits,
    pub edge_alias_ca_file: Option<PathBuf>,
}

/// The values given on the command line or in the environment (`None` where not given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub api: Option<String>,
    pub region: Option<String>,
    pub edge_http: Option<String>,
    pub edge_https: Option<String>,
    pub pkcs11: Pkcs11FileConfig,
}

impl ServeConfig {
    pub fn resolve(file: FileConfig, over: Overrides) -> anyhow::Result<Self> {
        let edge_limits = edge_limits(&file.edge)?;
        let data_dir = over
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./coffer-data"));
        let api_limits = api_limits(&file.api)?;
        let api_text = over
            .api
            .or(file.api.listen)
            .unwrap_or_else(|| "127.0.0.1:9000".into());
        let api: SocketAddr = api_text
            .parse()
            .with_context(|| format!("--api {api_text:?} is not an address like 127.0.0.1:9000"))?;
        let region = over
            .region
            .or(file.region)
            .unwrap_or_else(|| "us-east-1".into());
        if ids_region_ok(&region).is_err() {
            bail!("--region {region:?} is not a valid region name (like us-east-1)");
        }
        let audit_sync = match file.audit.sync.as_deref().unwrap_or("per-event") {
            "per-event" => AuditSync::PerEvent,
            "interval" => AuditSync::Interval(Duration::from_millis(
                file.audit.interval_ms.unwrap_or(100).max(1),
            )),
            other => bail!("audit.sync must be \"per-event\" or \"interval\", not {other:?}"),
        };
        let digest_interval =
            Duration::from_secs(file.audit.digest_interval_secs.unwrap_or(3600).max(1));
        let pkcs11 = Pkcs11FileConfig::resolve(file.kms.pkcs11, over.pkcs11)?;
        let edge_http = crate::edge::listener(
            &over
                .edge_http
                .or(file.edge.http)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            "--edge-http",
        )?;
        let edge_https = crate::edge::listener(
            &over
                .edge_https
                .or(file.edge.https)
                .unwrap_or_else(|| "127.0.0.1:8443".into()),
            "--edge-https",
        )?;
        let edge_domain = file
            .edge
            .domain
            .unwrap_or_else(|| "cloudfront.localhost".into());
        if edge_domain.is_empty() || edge_domain.contains(['/', ':', ' ']) {
            bail!("edge.domain {edge_domain:?} is not a domain name");
        }
        let mut edge_cache = edge::CacheConfig::default();
        if let Some(mb) = file.edge.cache_memory_mb {
            edge_cache.memory_bytes = mb.max(1) * 1024 * 1024;
        }
        if let Some(mb) = file.edge.cache_disk_mb {
            edge_cache.disk_bytes = mb * 1024 * 1024;
        }
        Ok(Self {
            data_dir,
            api,
            api_limits,
            region,
            audit_sync,
            digest_interval,
            pkcs11,
            s3_data_events: file.s3.data_events.unwrap_or(true),
            edge_http,
            edge_https,
            edge_domain,
            edge_cache,
            edge_access_log: file.edge.access_log.unwrap_or(true),
            edge_origin_ca_file: file.edge.origin_ca_file,
            edge_origin_allow_networks: edge::parse_networks(
                &file.edge.origin_allow_networks.unwrap_or_default(),
            )
            .context("edge.origin_allow_networks")?,
            edge_limits,
            edge_alias_ca_file: file.edge.alias_ca_file,
        })
    }
}

/// The listener's limits: the defaults of [`api::server::Limits`], overridden by `[api]`; zero is refused.
fn api_limits(file: &ApiFileConfig) -> anyhow::Result<api::server::Limits> {
    let mut limits = api::server::Limits::default();
    let ms = |key: &str, v: Option<u64>, default: Duration| -> anyhow::Result<Duration> {
        match v {
            None => Ok(default),
            Some(0) => bail!("api.{key} must be at least 1"),
            Some(n) => Ok(Duration::from_millis(n)),
        }
    };
    limits.header_timeout = ms(
        "header_timeout_ms",
        file.header_timeout_ms,
        limits.header_timeout,
    )?;
    limits.idle_timeout = ms("idle_timeout_ms", file.idle_timeout_ms, limits.idle_timeout)?;
    limits.body_timeout = ms("body_timeout_ms", file.body_timeout_ms, limits.body_timeout)?;
    match file.max_connections {
        None => {}
        Some(0) => bail!("api.max_connections must be at least 1"),
        Some(n) => limits.max_connections = n,
    }
    Ok(limits)
}

/// `[edge]`'s listener limits over the defaults; zero is refused (it would disable the edge).
fn edge_limits(e: &EdgeFileConfig) -> anyhow::Result<edge::ListenerLimits> {
    let mut limits = edge::ListenerLimits::default();
    let ms = |v: Option<u64>, name: &str, into: &mut Duration| -> anyhow::Result<()> {
        match v {
            Some(0) => bail!("edge.{name} must be at least 1"),
            Some(n) => *into = Duration::from_millis(n),
            None => {}
        }
        Ok(())
    };
    ms(
        e.header_timeout_ms,
        "header_timeout_ms",
        &mut limits.header_read_timeout,
    )?;
    ms(
        e.tls_handshake_timeout_ms,
        "tls_handshake_timeout_ms",
        &mut limits.tls_handshake_timeout,
    )?;
    ms(
        e.idle_timeout_ms,
        "idle_timeout_ms",
        &mut limits.idle_timeout,
    )?;
    match e.max_connections {
        Some(0) => bail!("edge.max_connections must be at least 1"),
        Some(n) => limits.max_connections = n,
        None => {}
    }
    Ok(limits)
}

fn ids_region_ok(region: &str) -> Result<(), ()> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_precedence() {
        let c = ServeConfig::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./coffer-data"));
        assert_eq!(c.api.to_string(), "127.0.0.1:9000");
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.audit_sync, AuditSync::PerEvent);
        assert!(
            c.s3_data_events,
            "S3 data events are audited unless turned off"
        );
        let quiet: FileConfig = toml::from_str("[s3]\ndata_events = false\n").unwrap();
        assert!(
            !ServeConfig::resolve(quiet, Overrides::default())
                .unwrap()
                .s3_data_events
        );
        assert!(toml::from_str::<FileConfig>("[s3]\ndata_event = false\n").is_err());

        let file: FileConfig = toml::from_str(
            "api = \"127.0.0.1:9100\"\nregion = \"eu-west-1\"\n[audit]\nsync = \"interval\"\ninterval_ms = 50\n",
        )
        .unwrap();
        let c = ServeConfig::resolve(
            file,
            Overrides {
                region: Some("ap-south-1".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.api.to_string(), "127.0.0.1:9100");
        assert_eq!(c.region, "ap-south-1");
        assert_eq!(c.audit_sync, AuditSync::Interval(Duration::from_millis(50)));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<FileConfig>("dta_dir = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[audit]\nsynk = \"x\"").is_err());
        let bad = FileConfig {
            api: ApiFileConfig {
                listen: Some("nope".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(ServeConfig::resolve(bad, Overrides::default()).is_err());
        let bad: FileConfig = toml::from_str("[audit]\nsync = \"sometimes\"").unwrap();
        assert!(ServeConfig::resolve(bad, Overrides::default()).is_err());
        assert!(toml::from_str::<FileConfig>("[kms.pkcs11]\nmodul = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[kms]\npkcs12 = {}").is_err());
    }

    #[test]
    fn api_listener_address_and_limits() {
        let c = ServeConfig::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.api_limits, api::server::Limits::default());
        assert_eq!(c.api_limits.header_timeout, Duration::from_secs(10));
        assert_eq!(c.api_limits.idle_timeout, Duration::from_secs(75));
        assert_eq!(c.api_limits.body_timeout, Duration::from_secs(30));
        assert_eq!(c.api_limits.max_connections, 512);

        // The table form, with the address and every limit.
        let file: FileConfig = toml::from_str(
            "[api]\nlisten = \"127.0.0.1:9200\"\nheader_timeout_ms = 500\nidle_timeout_ms = 2000\n\
             body_timeout_ms = 700\nmax_connections = 3\n",
        )
        .unwrap();
        let c = ServeConfig::resolve(file, Overrides::default()).unwrap();
        assert_eq!(c.api.to_string(), "127.0.0.1:9200");
        assert_eq!(
            c.api_limits,
            api::server::Limits {
                header_timeout: Duration::from_millis(500),
                idle_timeout: Duration::from_millis(2000),
                body_timeout: Duration::from_millis(700),
                max_connections: 3,
            }
        );
        // The flag still wins over the file.
        let file: FileConfig = toml::from_str("[api]\nlisten = \"127.0.0.1:9200\"\n").unwrap();
        let c = ServeConfig::resolve(
            file,
            Overrides {
                api: Some("127.0.0.1:9300".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.api.to_string(), "127.0.0.1:9300");
        // Typos and zeros are refused.
        let e = toml::from_str::<FileConfig>("[api]\nheader_timeout = 5\n").unwrap_err();
        assert!(e.to_string().contains("header_timeout"), "{e}");
        assert!(toml::from_str::<FileConfig>("api = 5\n").is_err());
        for zero in ["max_connections = 0", "idle_timeout_ms = 0"] {
            let file: FileConfig = toml::from_str(&format!("[api]\n{zero}\n")).unwrap();
            assert!(
                ServeConfig::resolve(file, Overrides::default()).is_err(),
                "{zero}"
            );
        }
    }

    #[test]
    fn edge_security_keys() {
        let file: FileConfig = toml::from_str(
            "[edge]\norigin_allow_networks = [\"127.0.0.0/8\", \"::1\"]\nheader_timeout_ms = 3000\nmax_connections = 7\n",
        )
        .unwrap();
        let c = ServeConfig::resolve(file, Overrides::default()).unwrap();
        assert_eq!(c.edge_origin_allow_networks.len(), 2);
        assert_eq!(c.edge_limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(c.edge_limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.edge_limits.max_connections, 7);
        for bad in [
            "[edge]\norigin_allow_networks = [\"nope\"]",
            "[edge]\nidle_timeout_ms = 0",
            "[edge]\nmax_connections = 0",
        ] {
            let file: FileConfig = toml::from_str(bad).unwrap();
            assert!(
                ServeConfig::resolve(file, Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn pkcs11_from_file_and_environment() {
        let c = ServeConfig::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.pkcs11, None);

        let file: FileConfig = toml::from_str(
            "[kms.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin_file = \"/pin\"\nkey_label = \"k\"\n",
        )
        .unwrap();
        let over = Overrides {
            pkcs11: Pkcs11FileConfig {
                key_label: Some("from-env".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = ServeConfig::resolve(file, over).unwrap();
        assert_eq!(
            c.pkcs11,
            Some(hsm::Pkcs11Config {
                module: "/m.so".into(),
                token_label: "t".into(),
                pin_file: "/pin".into(),
                key_label: "from-env".into(),
            })
        );

        // The environment alone is enough, but it must be complete, as must the table.
        let over = Overrides {
            pkcs11: Pkcs11FileConfig {
                module: Some("/m.so".into()),
                token_label: Some("t".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = ServeConfig::resolve(FileConfig::default(), over).unwrap_err();
        assert!(
            e.to_string().contains("missing: pin_file, key_label"),
            "{e}"
        );
        let file: FileConfig = toml::from_str("[kms.pkcs11]\n").unwrap();
        let e = ServeConfig::resolve(file, Overrides::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("missing: module, token_label, pin_file, key_label"),
            "{e}"
        );
    }
}
