//! The configurations written for the audit and import tests (`policy/tests/fixtures/audit`):
//! where they are, a copy adapted to a lab, and the archive an administrator would upload.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The corpus configuration directory `name` (`weak-chan-sip`, `freepbx`, `hardened-pjsip`).
#[must_use]
pub fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policy/tests/fixtures/audit")
        .join(name)
}

/// A copy of corpus `name` with each `(from, to)` text replaced in every file (a lab's
/// networks for the office's), in a directory that is removed when dropped.
pub fn adapted(name: &str, replacements: &[(&str, &str)]) -> Result<tempfile::TempDir> {
    let copy = tempfile::tempdir()?;
    for entry in std::fs::read_dir(dir(name))? {
        let entry = entry?;
        let mut text = std::fs::read_to_string(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        for (from, to) in replacements {
            text = text.replace(from, to);
        }
        std::fs::write(copy.path().join(entry.file_name()), text)?;
    }
    Ok(copy)
}

/// `tar czf` of a configuration directory with its entries under `prefix`, as an
/// administrator packs `/etc/asterisk` (`etc/asterisk/pjsip.conf`, …).
pub fn packed(dir: &Path, prefix: &str) -> Result<Vec<u8>> {
    let out = Command::new("tar")
        .args(["czf", "-", "--transform"])
        .arg(format!("s,^\\.,{prefix},"))
        .arg("-C")
        .arg(dir)
        .arg(".")
        .output()?;
    if !out.status.success() {
        bail!("tar: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}
