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
    pub api: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub audit: AuditFileConfig,
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
    pub region: String,
    pub audit_sync: AuditSync,
    pub digest_interval: Duration,
}

/// The values given on the command line or in the environment (`None` where not given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub api: Option<String>,
    pub region: Option<String>,
}

impl ServeConfig {
    pub fn resolve(file: FileConfig, over: Overrides) -> anyhow::Result<Self> {
        let data_dir = over
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./coffer-data"));
        let api_text = over
            .api
            .or(file.api)
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
        Ok(Self {
            data_dir,
            api,
            region,
            audit_sync,
            digest_interval,
        })
    }
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
            api: Some("nope".into()),
            ..Default::default()
        };
        assert!(ServeConfig::resolve(bad, Overrides::default()).is_err());
        let bad: FileConfig = toml::from_str("[audit]\nsync = \"sometimes\"").unwrap();
        assert!(ServeConfig::resolve(bad, Overrides::default()).is_err());
    }
}
