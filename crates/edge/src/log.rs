//! Access logs in CloudFront's standard log format: a `#Version`/`#Fields` header, then one tab-separated line per
//! request with the 33 standard fields. Lines are handed to a writer thread through a bounded queue, so a slow
//! disk never stalls a viewer; when the queue is full the line is dropped and counted.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use anyhow::Context;

/// CloudFront's standard log fields, in order.
pub const FIELDS: &str = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status \
cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header \
cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type \
cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type \
sc-content-type sc-content-len sc-range-start sc-range-end";

/// One request, as logged.
#[derive(Debug, Default, Clone)]
pub struct Entry {
    pub unix_ms: i64,
    pub location: String,
    pub sc_bytes: u64,
    pub client_ip: String,
    pub method: String,
    pub host: String,
    pub uri_stem: String,
    pub status: u16,
    pub referer: String,
    pub user_agent: String,
    pub query: String,
    pub cookie: String,
    pub result_type: String,
    pub request_id: String,
    pub host_header: String,
    pub protocol: String,
    pub cs_bytes: u64,
    pub time_taken: f64,
    pub ssl_protocol: String,
    pub ssl_cipher: String,
    pub protocol_version: String,
    pub client_port: u16,
    pub content_type: String,
    pub content_len: Option<u64>,
}

/// A viewer-controlled value as the log records it: every byte outside printable ASCII (controls, space, tab,
/// DEL, non-ASCII and non-UTF-8 bytes) percent-encoded, as CloudFront URL-encodes logged values — so no value can
/// add a field or a line. Pure.
pub fn escape(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x21..=0x7e).contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    escape(s.as_bytes())
}

impl Entry {
    pub fn line(&self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(self.unix_ms as i128 * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let date = format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day());
        let clock = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
        let len = self.content_len.map_or("-".to_owned(), |l| l.to_string());
        [
            date,
            clock,
            field(&self.location),
            self.sc_bytes.to_string(),
            field(&self.client_ip),
            field(&self.method),
            field(&self.host),
            field(&self.uri_stem),
            self.status.to_string(),
            field(&self.referer),
            field(&self.user_agent),
            field(&self.query),
            field(&self.cookie),
            field(&self.result_type),
            field(&self.request_id),
            field(&self.host_header),
            field(&self.protocol),
            self.cs_bytes.to_string(),
            format!("{:.3}", self.time_taken),
            "-".into(),
            field(&self.ssl_protocol),
            field(&self.ssl_cipher),
            field(&self.result_type),
            field(&self.protocol_version),
            "-".into(),
            "-".into(),
            self.client_port.to_string(),
            format!("{:.3}", self.time_taken),
            field(&self.result_type),
            field(&self.content_type),
            len,
            "-".into(),
            "-".into(),
        ]
        .join("\t")
    }
}

/// The writer thread's handle.
#[derive(Debug)]
pub struct AccessLog {
    tx: Option<SyncSender<String>>,
    dropped: AtomicU64,
}

impl AccessLog {
    /// A log that writes nothing.
    pub fn disabled() -> AccessLog {
        AccessLog {
            tx: None,
            dropped: AtomicU64::new(0),
        }
    }

    /// Appends to `path`, writing the header when the file is new.
    pub fn open(path: &Path) -> anyhow::Result<AccessLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let new = !path.exists();
        // Access logs hold viewers' addresses, paths and cookies: owner-only, also when an older file exists.
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} owner-only", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
        if new {
            writeln!(out, "#Version: 1.0\n#Fields: {FIELDS}")?;
            out.flush()?;
        }
        let (tx, rx) = sync_channel::<String>(65_536);
        std::thread::Builder::new()
            .name("edge-access-log".into())
            .spawn(move || loop {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(line) => {
                        if let Err(e) = writeln!(out, "{line}") {
                            tracing::warn!("access log: {e}");
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = out.flush();
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let _ = out.flush();
                        return;
                    }
                }
            })
            .context("starting the access log writer")?;
        Ok(AccessLog {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    pub fn record(&self, entry: &Entry) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(entry.line()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(10_000) {
                    tracing::warn!(
                        "the access log writer is behind; {} lines dropped so far",
                        n + 1
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_33_standard_fields() {
        let e = Entry {
            unix_ms: 1_700_000_000_123,
            method: "GET".into(),
            uri_stem: "/a b.txt".into(),
            status: 200,
            result_type: "Hit".into(),
            ..Entry::default()
        };
        let line = e.line();
        assert_eq!(line.split('\t').count(), FIELDS.split(' ').count());
        assert_eq!(FIELDS.split(' ').count(), 33);
        assert!(line.starts_with("2023-11-14\t22:13:20\t"));
        assert!(line.contains("/a%20b.txt"));
        // Viewer strings cannot add fields or lines.
        let forged = Entry {
            user_agent: "ua\tx\ny\r\u{7f}é".into(),
            ..e.clone()
        };
        let line = forged.line();
        assert_eq!(line.split('\t').count(), 33);
        assert!(!line.contains('\n') && !line.contains('\r'));
        assert!(line.contains("ua%09x%0Ay%0D%7F%C3%A9"));
        assert_eq!(escape(b"a\xffb"), "a%FFb");
    }
}
