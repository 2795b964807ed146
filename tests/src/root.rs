//! Deciding whether a test that needs root and system tools runs, skips, or fails.
//!
//! On a developer's machine without root (or without `ip`, `nft`, SIPVicious, …) such a test
//! prints `SKIPPED <test>: <reason>` and passes, so `cargo test` stays usable everywhere. In CI
//! (`CI` set) *as root* a missing prerequisite is a failure instead: CI exists to run these
//! tests for real, and a silently skipped suite there would hide a broken machine setup.
//!
//! ```no_run
//! # fn demo() {
//! if !tests::root::require_root("netns_smoke") { return; }
//! let Some(ip) = tests::root::require_command("netns_smoke", "ip") else { return; };
//! # let _ = ip; }
//! ```

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// Directories searched after `$PATH`: `cargo test` run by a normal user often has no `sbin` in
/// `$PATH`, yet `ip`, `nft` and `chroot` live there.
const FALLBACK_DIRS: [&str; 7] = [
    // Where `make` installs pinned tools as root (a test run by hand finds them too).
    "/var/cache/sipwarden/tools/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// True when the effective user id is 0.
///
/// Read from `/proc/self/status` because the crate forbids `unsafe` (so no `libc::geteuid`) and
/// spawning `id -u` for this would be silly.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            // "Uid:\t<real>\t<effective>\t<saved>\t<fs>"
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// True when running under CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Reports that `test` cannot run because of `reason`.
///
/// Outside CI-as-root it prints `SKIPPED <test>: <reason>` to stderr (visible with
/// `--nocapture` and in CI logs) and returns `false`, so the caller returns early and the test
/// passes. In CI as root it panics: there the prerequisite is part of the contract.
pub fn skip(test: &str, reason: &str) -> bool {
    if in_ci() && is_root() {
        panic!(
            "{test}: prerequisite missing in CI (running as root, so this must not skip): {reason}"
        );
    }
    eprintln!("SKIPPED {test}: {reason}");
    false
}

/// Returns `true` when running as root; otherwise reports a skip (never a failure: CI runs as
/// root, and a non-root run cannot do anything about it).
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: needs root (network namespaces, nftables and chroot need CAP_SYS_ADMIN/CAP_NET_ADMIN)"
    );
    false
}

/// Finds `name` in `$PATH` or the usual system directories; `None` if it is not installed.
pub fn find_command(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The full path of `name`, or a [`skip`] naming the Debian package to install.
pub fn require_command(test: &str, name: &str) -> Option<PathBuf> {
    match find_command(name) {
        Some(path) => Some(path),
        None => {
            let hint = package_of(name)
                .map(|pkg| format!(" (install Debian package `{pkg}`)"))
                .unwrap_or_default();
            skip(test, &format!("command `{name}` not found{hint}"));
            None
        }
    }
}

/// [`require_command`] for several commands at once; `true` when all are present.
pub fn require_commands(test: &str, names: &[&str]) -> bool {
    names
        .iter()
        .all(|name| require_command(test, name).is_some())
}

/// Resolves a tool for invocation: its full path when found, else the bare name (so the error
/// from spawning it names the tool).
pub fn tool(name: &str) -> PathBuf {
    find_command(name).unwrap_or_else(|| PathBuf::from(name))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The Debian package that ships a tool the harness uses, for the skip message.
fn package_of(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "ip" | "bridge" => "iproute2",
        "nft" => "nftables",
        "conntrack" => "conntrack",
        "debootstrap" => "debootstrap",
        "svmap" | "svwar" | "svcrack" => "sipvicious",
        "sqlite3" => "sqlite3",
        "ping" => "iputils-ping",
        "unshare" | "mount" | "flock" => "util-linux",
        "chroot" | "sleep" => "coreutils",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_is_found_and_a_nonsense_tool_is_not() {
        assert!(find_command("sh").is_some());
        assert!(find_command("no-such-tool-sipwarden").is_none());
    }
}
