//! Small file-system helpers: directory fsync and atomic file replacement, which durability depends on.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// fsyncs a directory so that file creations and renames in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync the directory. A reader never sees a
/// half-written file, which matters for digests (a torn digest would look like tampering).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(Error::io(&tmp))?;
    f.write_all(bytes).map_err(Error::io(&tmp))?;
    f.sync_all().map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Segment file name for the segment whose first record is `seq`: 16 zero-padded digits + `.log`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:016}.log")
}

/// Parses a segment or digest file name (`<16 digits>.<ext>`) back to its number.
pub(crate) fn parse_numbered(name: &str, ext: &str) -> Option<u64> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    if stem.len() != 16 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Lists `<16 digits>.<ext>` files in `dir`, sorted by number. A missing directory is an empty list.
pub(crate) fn list_numbered(dir: &Path, ext: &str) -> Result<Vec<(u64, std::path::PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io {
                path: dir.into(),
                source: e,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io(dir))?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|n| parse_numbered(n, ext))
        {
            out.push((n, entry.path()));
        }
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}
