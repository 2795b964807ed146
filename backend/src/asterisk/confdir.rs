//! Asterisk's configuration directory as sipwarden owns it: every revision in a directory of
//! its own, switched in by renaming one symbolic link, so Asterisk sees all files of a
//! revision or all files of the previous one — never a mix (invariant 6), even if the
//! process dies between any two system calls.
//!
//! ```text
//! /etc/asterisk/pjsip.conf      -> sipwarden/current/pjsip.conf   (made once)
//! /etc/asterisk/sipwarden/current -> rev-42                        (renamed over atomically)
//! /etc/asterisk/sipwarden/rev-42/pjsip.conf …                      (written, fsynced, then renamed into place)
//! /etc/asterisk/sipwarden/original/pjsip.conf                      (what was there before sipwarden, kept)
//! ```
//!
//! Why links and not a rename per file: `rename` is atomic for one file, but an apply
//! changes four, and a crash between two renames would leave Asterisk a pjsip.conf of one
//! revision and an extensions.conf of another. Asterisk follows the links when it reads
//! (and compares mtimes of the targets, which are new files each revision), and they are
//! relative, so they also resolve inside a container or chroot that mounts the directory
//! elsewhere.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// sipwarden's own subdirectory.
const OWN: &str = "sipwarden";
/// Largest file read back from the directory (a preview of a runaway file stays bounded).
const MAX_READ: u64 = 32 * 1024 * 1024;

/// The configuration directory.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    root: PathBuf,
}

fn revision_dir_name(revision: u64) -> String {
    format!("rev-{revision}")
}

fn fsync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Creates `link -> target` by making a temporary link and renaming it over `link`.
fn replace_with_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_extension("sipwarden-tmp");
    let _ = fs::remove_file(&tmp);
    symlink(target, &tmp)?;
    fs::rename(&tmp, link)
}

impl ConfigDir {
    /// The directory Asterisk reads (`/etc/asterisk`).
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn own(&self) -> PathBuf {
        self.root.join(OWN)
    }

    /// What Asterisk would read as `name` now (following links), if it exists.
    pub fn read_live(&self, name: &str) -> io::Result<Option<String>> {
        let path = self.root.join(name);
        match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
            Ok(m) if m.len() > MAX_READ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is larger than 32 MiB", path.display()),
                ));
            }
            Ok(_) => {}
        }
        let bytes = fs::read(&path)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The revision `current` points at, if sipwarden has switched one in.
    #[must_use]
    pub fn live_revision(&self) -> Option<u64> {
        let target = fs::read_link(self.own().join("current")).ok()?;
        target.to_str()?.strip_prefix("rev-")?.parse().ok()
    }

    /// Writes the files of `revision` into their own directory, each fsynced, and the
    /// directory renamed into place only when complete. Nothing Asterisk reads changes yet.
    pub fn stage(&self, revision: u64, files: &[(&str, &str)]) -> io::Result<()> {
        let own = self.own();
        fs::create_dir_all(&own)?;
        fs::set_permissions(&own, fs::Permissions::from_mode(0o750))?;
        let name = revision_dir_name(revision);
        let done = own.join(&name);
        let tmp = own.join(format!("{name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir(&tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o750))?;
        for (file, contents) in files {
            // Owner and group only: manager.conf carries AMI secrets; Asterisk reads as
            // the group when it runs as its own user.
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o640)
                .open(tmp.join(file))?;
            f.write_all(contents.as_bytes())?;
            f.sync_all()?;
        }
        fsync_dir(&tmp)?;
        if done.exists() {
            fs::remove_dir_all(&done)?;
        }
        fs::rename(&tmp, &done)?;
        fsync_dir(&own)
    }

    /// Makes `revision` (staged before) the one Asterisk reads: one rename of `current`.
    /// The first time, also replaces each of `names` in the directory by a link into
    /// `current`, keeping what was there in `sipwarden/original/`.
    pub fn switch_to(&self, revision: u64, names: &[&str]) -> io::Result<()> {
        let own = self.own();
        let target = PathBuf::from(revision_dir_name(revision));
        if !own.join(&target).is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("revision {revision} was never staged"),
            ));
        }
        replace_with_symlink(&target, &own.join("current"))?;
        fsync_dir(&own)?;
        // Links last: `current` exists by now, so no link ever dangles.
        for name in names {
            self.link(name)?;
        }
        fsync_dir(&self.root)
    }

    fn link(&self, name: &str) -> io::Result<()> {
        let link = self.root.join(name);
        let target = Path::new(OWN).join("current").join(name);
        match fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() && fs::read_link(&link)? == target => {
                return Ok(());
            }
            Ok(m) if m.is_file() => {
                let originals = self.own().join("original");
                fs::create_dir_all(&originals)?;
                let keep = originals.join(name);
                if !keep.exists() {
                    fs::copy(&link, &keep)?;
                    File::open(&keep)?.sync_all()?;
                }
            }
            _ => {}
        }
        replace_with_symlink(&target, &link)
    }

    /// Undoes sipwarden's takeover of `names` when no revision of its own was ever live:
    /// puts back the files that were there before (or removes the links).
    pub fn restore_originals(&self, names: &[&str]) -> io::Result<()> {
        let originals = self.own().join("original");
        for name in names {
            let link = self.root.join(name);
            let keep = originals.join(name);
            if keep.is_file() {
                let tmp = link.with_extension("sipwarden-tmp");
                fs::copy(&keep, &tmp)?;
                File::open(&tmp)?.sync_all()?;
                fs::rename(&tmp, &link)?;
            } else if fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
                fs::remove_file(&link)?;
            }
        }
        let _ = fs::remove_file(self.own().join("current"));
        fsync_dir(&self.root)
    }

    /// Removes revision directories other than `keep` (the database keeps every revision's
    /// files; the disk only needs the live one and the one to fall back to).
    pub fn prune(&self, keep: &[u64]) -> io::Result<()> {
        let Ok(entries) = fs::read_dir(self.own()) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(number) = name.strip_prefix("rev-") else {
                continue;
            };
            let number = number.trim_end_matches(".tmp");
            if number.parse::<u64>().is_ok_and(|n| !keep.contains(&n)) || name.ends_with(".tmp") {
                fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_swaps_every_file_at_once_and_keeps_the_originals() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pjsip.conf"), "hand-made").unwrap();
        let conf = ConfigDir::new(dir.path());
        conf.stage(1, &[("pjsip.conf", "one"), ("manager.conf", "m1")])
            .unwrap();
        assert_eq!(conf.read_live("pjsip.conf").unwrap().unwrap(), "hand-made");
        conf.switch_to(1, &["pjsip.conf", "manager.conf"]).unwrap();
        assert_eq!(conf.live_revision(), Some(1));
        assert_eq!(conf.read_live("pjsip.conf").unwrap().unwrap(), "one");
        conf.stage(2, &[("pjsip.conf", "two"), ("manager.conf", "m2")])
            .unwrap();
        assert_eq!(conf.read_live("manager.conf").unwrap().unwrap(), "m1");
        conf.switch_to(2, &["pjsip.conf", "manager.conf"]).unwrap();
        assert_eq!(conf.read_live("pjsip.conf").unwrap().unwrap(), "two");
        assert_eq!(conf.read_live("manager.conf").unwrap().unwrap(), "m2");
        conf.prune(&[2]).unwrap();
        assert!(!dir.path().join("sipwarden/rev-1").exists());
        conf.restore_originals(&["pjsip.conf", "manager.conf"])
            .unwrap();
        assert_eq!(conf.read_live("pjsip.conf").unwrap().unwrap(), "hand-made");
        assert_eq!(conf.read_live("manager.conf").unwrap(), None);
    }

    #[test]
    fn an_unstaged_revision_cannot_be_switched_in() {
        let dir = tempfile::tempdir().unwrap();
        let conf = ConfigDir::new(dir.path());
        assert!(conf.switch_to(7, &["pjsip.conf"]).is_err());
        assert_eq!(conf.live_revision(), None);
    }
}
