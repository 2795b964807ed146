//! An uploaded configuration archive (tar, or tar compressed with gzip: what `tar czf` of
//! `/etc/asterisk` and FreePBX's backups give) read into memory for the audit.
//!
//! The archive comes from the network, so every bound is checked while reading, never after:
//! the bytes a gzip stream may expand to, the number of entries, the size of each file.
//! Only regular files count; names that climb out (`..`), absolute names and links are
//! skipped. The archive's leading directories (`etc/asterisk/`, `asterisk/`) are taken off,
//! so `pjsip.conf` is found however the administrator packed it.

use std::collections::BTreeMap;
use std::io::Read;

/// The largest upload accepted (compressed).
pub const MAX_UPLOAD_BYTES: usize = 8 << 20;
/// What the archive may expand to, all files together.
const MAX_EXPANDED_BYTES: u64 = 64 << 20;
/// Entries read at most (directories and skipped entries included).
const MAX_ENTRIES: usize = 5000;
/// One file's largest size.
const MAX_FILE_BYTES: u64 = 16 << 20;
/// Files that mark the configuration directory inside an archive.
const MARKERS: [&str; 5] = [
    "asterisk.conf",
    "pjsip.conf",
    "sip.conf",
    "extensions.conf",
    "manager.conf",
];

/// Why an upload cannot be audited; each says what to send instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error(
        "the upload is empty: send a tar or tar.gz archive of Asterisk's configuration directory"
    )]
    Empty,
    #[error(
        "the upload is neither a tar nor a gzip-compressed tar archive (a zip file? use `tar czf asterisk.tar.gz -C /etc/asterisk .`)"
    )]
    NotAnArchive,
    #[error("the archive is damaged: {0}")]
    Damaged(String),
    #[error("the archive expands to more than {} MiB; send only the configuration directory", MAX_EXPANDED_BYTES >> 20)]
    TooLarge,
    #[error(
        "the archive has more than {MAX_ENTRIES} entries; send only the configuration directory"
    )]
    TooManyEntries,
    #[error("the archive holds no Asterisk configuration (none of {})", MARKERS.join(", "))]
    NoConfiguration,
}

/// The configuration files of an archive (tar or tar.gz), by name relative to the
/// configuration directory: what the audit reads (`ConfigFiles` is the map's own).
pub fn read_archive(bytes: &[u8]) -> Result<BTreeMap<String, String>, ArchiveError> {
    if bytes.is_empty() {
        return Err(ArchiveError::Empty);
    }
    let exceeded = std::rc::Rc::new(std::cell::Cell::new(false));
    let result = if bytes.starts_with(&[0x1f, 0x8b]) {
        // The bound on the expanded size holds however small the upload was.
        from_tar(Bounded {
            inner: flate2::read::GzDecoder::new(bytes),
            left: MAX_EXPANDED_BYTES + 64 * 1024,
            exceeded: exceeded.clone(),
        })
    } else if bytes.get(257..262) == Some(b"ustar".as_slice()) {
        from_tar(bytes)
    } else {
        return Err(ArchiveError::NotAnArchive);
    };
    // Whatever the tar reader made of the stream cut short, the cause was its size.
    if exceeded.get() {
        return Err(ArchiveError::TooLarge);
    }
    result
}

fn from_tar(reader: impl Read) -> Result<BTreeMap<String, String>, ArchiveError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(damaged)?;
    let mut files = BTreeMap::new();
    let mut total: u64 = 0;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(ArchiveError::TooManyEntries);
        }
        let mut entry = entry.map_err(damaged)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let size = entry.header().size().map_err(damaged)?;
        total = total.saturating_add(size);
        if total > MAX_EXPANDED_BYTES {
            return Err(ArchiveError::TooLarge);
        }
        let Some(name) = entry.path().ok().and_then(|p| clean_name(&p)) else {
            continue;
        };
        if size > MAX_FILE_BYTES {
            continue;
        }
        let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry)
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut raw)
            .map_err(damaged)?;
        // Asterisk reads bytes; a file that is not UTF-8 is audited as it reads.
        files.insert(name, String::from_utf8_lossy(&raw).into_owned());
    }
    let root = configuration_root(&files).ok_or(ArchiveError::NoConfiguration)?;
    Ok(files
        .into_iter()
        .filter_map(|(name, text)| Some((name.strip_prefix(&root)?.to_owned(), text)))
        .collect())
}

/// A reader that ends (with an error) after `left` bytes, and says that it did.
struct Bounded<R> {
    inner: R,
    left: u64,
    exceeded: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            self.exceeded.set(true);
            return Err(std::io::Error::other(
                "the archive expands beyond its limit",
            ));
        }
        let room = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn damaged(e: std::io::Error) -> ArchiveError {
    ArchiveError::Damaged(e.to_string())
}

/// `./etc/asterisk/pjsip.conf` as `etc/asterisk/pjsip.conf`; `None` for a name that is
/// absolute, climbs out or is not UTF-8 (never read: it is nothing a configuration
/// directory holds).
fn clean_name(path: &std::path::Path) -> Option<String> {
    use std::path::Component;
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The directory (with its trailing `/`, or empty) holding the configuration: the shallowest
/// one with a marker file.
fn configuration_root(files: &BTreeMap<String, String>) -> Option<String> {
    files
        .keys()
        .filter_map(|name| {
            let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
            MARKERS.contains(&file).then(|| {
                if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                }
            })
        })
        .min_by_key(|dir| (dir.matches('/').count(), dir.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *body).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_packed_etc_asterisk_is_read_relative_to_its_configuration_directory() {
        let tar = tar_of(&[
            ("./etc/asterisk/pjsip.conf", b"[1001]\ntype=endpoint\n"),
            ("./etc/asterisk/custom/extra.conf", b"; extra\n"),
            ("./etc/hosts", b"127.0.0.1 localhost\n"),
        ]);
        for bytes in [tar.clone(), gzip(&tar)] {
            let files = read_archive(&bytes).unwrap();
            assert_eq!(
                files.keys().collect::<Vec<_>>(),
                ["custom/extra.conf", "pjsip.conf"],
                "files outside the configuration directory are left out"
            );
            assert!(files["pjsip.conf"].contains("type=endpoint"));
        }
    }

    #[test]
    fn names_that_climb_out_are_never_read() {
        // The builder refuses `..` itself, so the name is written into the header by hand.
        let mut header = tar::Header::new_gnu();
        let evil = b"../../etc/shadow";
        header.as_old_mut().name[..evil.len()].copy_from_slice(evil);
        header.set_size(4);
        header.set_mode(0o644);
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        builder.append(&header, &b"root"[..]).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_cksum();
        builder
            .append_data(&mut header, "sip.conf", &b""[..])
            .unwrap();
        let files = read_archive(&builder.into_inner().unwrap()).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["sip.conf"]);
    }

    #[test]
    fn uploads_that_are_not_archives_or_too_big_are_refused_with_a_reason() {
        assert_eq!(read_archive(b"").unwrap_err(), ArchiveError::Empty);
        assert_eq!(
            read_archive(b"PK\x03\x04 a zip file").unwrap_err(),
            ArchiveError::NotAnArchive
        );
        assert_eq!(
            read_archive(&tar_of(&[("notes.txt", b"hello")])).unwrap_err(),
            ArchiveError::NoConfiguration
        );
        // A gzip bomb: 80 MiB of zeros in a few KiB.
        let zeros = vec![0u8; 80 << 20];
        let bomb = gzip(&tar_of(&[("pjsip.conf", &zeros)]));
        assert!(bomb.len() < 200_000);
        assert_eq!(read_archive(&bomb).unwrap_err(), ArchiveError::TooLarge);
        let mut cut = gzip(&tar_of(&[("pjsip.conf", &[b';'; 4096])]));
        cut.truncate(cut.len() / 2);
        assert!(
            matches!(read_archive(&cut), Err(ArchiveError::Damaged(_))),
            "a cut upload is damaged, not too large"
        );
    }
}
