//! Reading the token's user PIN from a file that only its owner can read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::OpenError;

/// Reads the PIN, ignoring surrounding whitespace (a trailing newline from `echo`). Refuses a file that group or
/// others may read, as the key-file root refuses such a key file, and an empty PIN.
pub(crate) fn read(path: &Path) -> Result<Zeroizing<String>, OpenError> {
    let err = |reason: String| OpenError::PinFile {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(err(format!(
            "readable by group or others (mode {mode:o}); it must be 0600 or 0400"
        )));
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let pin = text.trim();
    if pin.is_empty() {
        return Err(err("is empty".into()));
    }
    Ok(Zeroizing::new(pin.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn trims_and_checks_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        fs::write(&path, "  1234\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("readable by group or others"), "{e}");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).unwrap().as_str(), "1234");

        fs::write(&path, " \n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("empty"));
        assert!(read(&dir.path().join("missing")).is_err());
    }
}
