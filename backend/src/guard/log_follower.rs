//! Following a log file as a writer appends to it, the way `tail -F` does: from its end at
//! start (history was judged when it happened), across rotation (renamed away and a new file
//! created: the old one is read to its end first, then the new one from its start) and
//! truncation (copy-and-truncate rotation: read again from the start), while the file is
//! missing (waited for).
//!
//! Polling rather than inotify: one `read` and, when it returns nothing, one `stat` per turn
//! cost nothing measurable, work on every filesystem (bind mounts and overlay included, where
//! inotify misses writes from another mount namespace), and the pause (20 ms idle: 50 cheap
//! wake-ups a second) shrinks to [`BUSY_PAUSE`] while lines flow, which is when latency
//! matters (an attack). Measured against svcrack (`guard_watch_only`): with a 100 ms idle
//! pause 5 to 9 guesses reached Asterisk before the ban, with 20 ms exactly the threshold.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The pause after a turn that read something: an attack writes a line per guess.
pub const BUSY_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause of an idle file.
pub const IDLE_PAUSE: Duration = Duration::from_millis(20);
/// Longer lines are skipped whole (Asterisk's own lines stay far below; a longer one is
/// garbage or an attack on the reader's memory).
pub const MAX_LINE: usize = 16 * 1024;

/// What one turn found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Read this many bytes (whole lines went to the handler).
    Read(usize),
    /// Nothing new.
    Idle,
    /// The file is not there (or not readable); the reason says which.
    Missing(String),
}

/// A file followed by name.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    open: Option<Open>,
    /// Bytes of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// Inside a line longer than [`MAX_LINE`]: drop bytes up to its end.
    skipping: bool,
    /// Whether a turn has run: only the very first open starts at the end (a file that
    /// appears or replaces the old one later is new from its first byte).
    started: bool,
    /// Lines skipped for their length.
    pub long_lines: u64,
    /// Rotations and truncations seen.
    pub reopened: u64,
}

#[derive(Debug)]
struct Open {
    file: File,
    /// Device and inode: the identity that tells a rotated-in file from the one we read.
    id: (u64, u64),
    position: u64,
}

impl LogFollower {
    /// Follows `path`; the first turn starts at the end of what is there now.
    #[must_use]
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            open: None,
            partial: Vec::new(),
            skipping: false,
            started: false,
            long_lines: 0,
            reopened: 0,
        }
    }

    /// Whether the file is open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Reads what was appended since the last turn and hands each whole line (without its
    /// line end) to `line`.
    pub fn turn(&mut self, line: &mut impl FnMut(&[u8])) -> Turn {
        let first = !std::mem::replace(&mut self.started, true);
        if self.open.is_none() {
            match self.open_file(first) {
                Ok(open) => self.open = Some(open),
                Err(why) => return Turn::Missing(why),
            }
        }
        let read = self.read_appended(line);
        if read > 0 {
            return Turn::Read(read);
        }
        // Nothing new: has the file been truncated, or replaced under its name?
        match std::fs::metadata(&self.path) {
            Ok(meta) => {
                let Some(open) = &mut self.open else {
                    return Turn::Idle;
                };
                if (meta.dev(), meta.ino()) != open.id {
                    // Rotated: what was appended to the old file was read above; the new one
                    // is read from its start.
                    self.open = None;
                    self.reopened += 1;
                    self.drop_partial();
                    return self.turn(line);
                }
                if meta.len() < open.position {
                    open.position = 0;
                    if open.file.seek(SeekFrom::Start(0)).is_err() {
                        self.open = None;
                    }
                    self.reopened += 1;
                    self.partial.clear();
                    self.skipping = false;
                    let read = self.read_appended(line);
                    return if read > 0 {
                        Turn::Read(read)
                    } else {
                        Turn::Idle
                    };
                }
                Turn::Idle
            }
            // Renamed away and not created again yet: keep the old file (its writer may still
            // append to it) until a new one appears.
            Err(_) => Turn::Idle,
        }
    }

    fn open_file(&self, at_end: bool) -> Result<Open, String> {
        let mut file = File::open(&self.path).map_err(|e| crate::plain::io_error(&e))?;
        let meta = file.metadata().map_err(|e| crate::plain::io_error(&e))?;
        if !meta.is_file() {
            return Err("not a regular file".to_owned());
        }
        let position = if at_end {
            file.seek(SeekFrom::End(0))
                .map_err(|e| crate::plain::io_error(&e))?
        } else {
            0
        };
        Ok(Open {
            file,
            id: (meta.dev(), meta.ino()),
            position,
        })
    }

    fn read_appended(&mut self, line: &mut impl FnMut(&[u8])) -> usize {
        let Some(open) = &mut self.open else {
            return 0;
        };
        let mut chunk = [0u8; 64 * 1024];
        let mut total = 0;
        let mut failed = false;
        loop {
            let n = match open.file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Opened again (from its start) on the next turn.
                    failed = true;
                    break;
                }
            };
            open.position += n as u64;
            total += n;
            feed(
                &chunk[..n],
                &mut self.partial,
                &mut self.skipping,
                &mut self.long_lines,
                line,
            );
        }
        if failed {
            self.open = None;
        }
        total
    }

    /// A rotated-away file's last line without its line end is dropped: Asterisk ends every
    /// line it writes, except one it cut at its length limit, whose end may be an attacker's
    /// text (see `policy::guard::security_log`).
    fn drop_partial(&mut self) {
        self.partial.clear();
        self.skipping = false;
    }
}

/// Splits `bytes` into lines, carrying an unfinished one over in `partial`.
fn feed(
    mut bytes: &[u8],
    partial: &mut Vec<u8>,
    skipping: &mut bool,
    long_lines: &mut u64,
    line: &mut impl FnMut(&[u8]),
) {
    while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
        let (head, rest) = (&bytes[..end], &bytes[end + 1..]);
        if *skipping {
            *skipping = false;
        } else if partial.is_empty() {
            if head.len() <= MAX_LINE {
                line(trim_cr(head));
            } else {
                *long_lines += 1;
            }
        } else if partial.len() + head.len() <= MAX_LINE {
            partial.extend_from_slice(head);
            line(trim_cr(partial));
        } else {
            *long_lines += 1;
        }
        partial.clear();
        bytes = rest;
    }
    if *skipping || bytes.is_empty() {
        return;
    }
    if partial.len() + bytes.len() > MAX_LINE {
        partial.clear();
        *skipping = true;
        *long_lines += 1;
    } else {
        partial.extend_from_slice(bytes);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(f: &mut LogFollower) -> Vec<String> {
        let mut out = Vec::new();
        f.turn(&mut |l| out.push(String::from_utf8_lossy(l).into_owned()));
        out
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn it_starts_at_the_end_and_hands_over_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("security.log");
        append(&log, "old line\n");
        let mut f = LogFollower::new(&log);
        assert!(lines(&mut f).is_empty(), "history is not replayed");
        append(&log, "one\r\ntw");
        assert_eq!(lines(&mut f), ["one"]);
        append(&log, "o\nthree\n");
        assert_eq!(lines(&mut f), ["two", "three"]);
        assert_eq!(f.turn(&mut |_| {}), Turn::Idle);
    }

    #[test]
    fn a_rotated_file_is_read_to_its_end_then_the_new_one_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("security.log");
        append(&log, "");
        let mut f = LogFollower::new(&log);
        assert!(lines(&mut f).is_empty());
        append(&log, "before rotation\n");
        // logrotate's default: rename, then the writer (still holding the old file) may
        // write once more before it reopens, then a new file appears.
        std::fs::rename(&log, dir.path().join("security.log.1")).unwrap();
        append(
            &dir.path().join("security.log.1"),
            "late write to the old file\n",
        );
        assert_eq!(
            lines(&mut f),
            ["before rotation", "late write to the old file"]
        );
        assert!(lines(&mut f).is_empty(), "no new file yet: waiting");
        append(&log, "first of the new file\n");
        assert_eq!(lines(&mut f), ["first of the new file"]);
        assert_eq!(f.reopened, 1);
    }

    #[test]
    fn a_truncated_file_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("security.log");
        append(&log, "");
        let mut f = LogFollower::new(&log);
        lines(&mut f);
        append(&log, "a fairly long line before the truncation\n");
        assert_eq!(lines(&mut f).len(), 1);
        // copytruncate: the same file, emptied, then written again (shorter than before).
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .unwrap();
        append(&log, "after\n");
        assert_eq!(lines(&mut f), ["after"]);
        assert_eq!(f.reopened, 1);
    }

    #[test]
    fn a_missing_file_is_waited_for_and_then_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("later.log");
        let mut f = LogFollower::new(&log);
        assert!(
            matches!(f.turn(&mut |_| {}), Turn::Missing(why) if why.contains("does not exist"))
        );
        // Created after we started: all of it is new.
        append(&log, "x\n");
        assert_eq!(lines(&mut f), ["x"]);
        append(&log, "y\n");
        assert_eq!(lines(&mut f), ["y"]);
    }

    #[test]
    fn over_long_lines_are_skipped_whole() {
        let mut partial = Vec::new();
        let (mut skipping, mut long) = (false, 0);
        let mut seen = Vec::new();
        let big = vec![b'x'; MAX_LINE + 10];
        feed(
            &big[..MAX_LINE - 5],
            &mut partial,
            &mut skipping,
            &mut long,
            &mut |l| {
                seen.push(l.len());
            },
        );
        feed(
            &big[..20],
            &mut partial,
            &mut skipping,
            &mut long,
            &mut |l| {
                seen.push(l.len());
            },
        );
        feed(
            b"tail\nok\n",
            &mut partial,
            &mut skipping,
            &mut long,
            &mut |l| {
                seen.push(l.len());
            },
        );
        assert_eq!(seen, [2]);
        assert_eq!(long, 1);
    }
}
