//! A real Asterisk 22 for tests, run from a cached Debian sid tree inside a lab namespace.
//!
//! Why this shape: bookworm has no Asterisk and sid's needs sid's libc, so
//! `scripts/asterisk-rootfs.sh` debootstraps a sid tree once per machine (cached outside the
//! repository) and each [`Asterisk`] runs `chroot TREE asterisk -f` inside a network namespace
//! of the test's [`Lab`](crate::netns::Lab). Several instances can share one tree at once:
//! each gets its own directory `TREE/tmp/sipwarden-<pid>-<n>/` holding its configs, control
//! socket, logs, spool and astdb, and an `asterisk.conf` pointing there.
//!
//! Mounts: Asterisk wants `/proc`, `/sys` and `/dev` inside the tree. They are mounted in a
//! *private mount namespace* (`unshare --mount --propagation private`) that only the Asterisk
//! process lives in, so the kernel drops them when that process exits — however it exits
//! (stop, kill, panic in the test, the namespace's processes being killed). There is no
//! unmount step to forget, and the host (and other tests sharing the tree) never sees them.
//! That is more robust than bind-mounting on the host and unmounting in `Drop`, which leaks
//! mounts when the test process is killed and races with parallel tests on the same tree.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::netns::NetNs;
use crate::process::{self, tail};
use crate::root::{self, tool};

/// How long Asterisk may take to reach "fully booted" (1-5 s is usual here; CI machines may be slower).
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// How long building the tree may take on a cold machine (about 2-4 minutes is usual).
const ROOTFS_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Deadline of one CLI command.
const CLI_TIMEOUT: Duration = Duration::from_secs(20);

/// Files the harness writes itself; a test passing one of these is a mistake.
const GENERATED: [&str; 1] = ["asterisk.conf"];

/// Numbers instances within this process (with the pid: unique across parallel tests).
static NEXT_INSTANCE: AtomicU32 = AtomicU32::new(0);

/// Returns the Asterisk tree, building it first if needed (as root), or reports a skip.
///
/// The tree's location and recipe belong to `scripts/asterisk-rootfs.sh` alone (it honours
/// `SIPWARDEN_ASTERISK_ROOT`), so this asks the script instead of repeating them. The answer is
/// cached for the process; concurrent builds across processes are serialised by the script's
/// lock.
pub fn require_rootfs(test: &str) -> Option<PathBuf> {
    if !root::require_root(test) || !root::require_commands(test, &["ip", "chroot", "unshare"]) {
        return None;
    }
    match rootfs() {
        Ok(path) => Some(path),
        Err(e) => {
            root::skip(test, &format!("no Asterisk tree: {e:#}"));
            None
        }
    }
}

/// [`ensure_rootfs`], run once per process.
fn rootfs() -> Result<PathBuf> {
    static ROOTFS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ROOTFS
        .get_or_init(|| ensure_rootfs().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Runs `scripts/asterisk-rootfs.sh` and returns the path it prints.
pub fn ensure_rootfs() -> Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/asterisk-rootfs.sh");
    let mut cmd = Command::new(tool("bash"));
    cmd.arg(&script);
    let what = process::describe(&cmd);
    // stderr is inherited: a cold build takes minutes and its progress should be visible
    // (libtest does not capture a child's stderr); the script's own error lines land there too.
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("could not start `{what}`"))?;
    let status = process::wait_with_deadline(&mut child, ROOTFS_TIMEOUT)
        .with_context(|| format!("waiting for `{what}`"))?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut stdout);
    }
    match status {
        None => bail!("`{what}` did not finish within {ROOTFS_TIMEOUT:?}"),
        Some(s) if !s.success() => bail!("`{what}` failed ({s}); its messages are above"),
        Some(_) => {}
    }
    let path = stdout
        .lines()
        .last()
        .map(PathBuf::from)
        .with_context(|| format!("`{what}` printed no path"))?;
    if !path.join("usr/sbin/asterisk").exists() {
        bail!("`{what}` printed {path:?}, which has no usr/sbin/asterisk");
    }
    Ok(path)
}

/// What Asterisk reads from sipwarden: the files `sipwarden render` writes.
pub const RENDERED: [&str; 4] = [
    "pjsip.conf",
    "extensions.conf",
    "manager.conf",
    "logger.conf",
];

/// A running Asterisk; stopped (and its directory removed) on drop.
///
/// It runs in the namespace given to [`Asterisk::start`] but does not borrow it. Drop the
/// `Asterisk` before the namespace to stop it gracefully; the other order works too (the
/// namespace's drop kills it).
#[derive(Debug)]
pub struct Asterisk {
    /// The tree, on the host.
    rootfs: PathBuf,
    /// The instance directory as Asterisk sees it (inside the chroot): `/tmp/sipwarden-…`.
    inner: String,
    /// The instance directory on the host: `rootfs + inner`.
    dir: PathBuf,
    child: Option<Child>,
    booted_in: Duration,
}

impl Asterisk {
    /// Starts Asterisk in `ns` with `files` (`(name, contents)`, e.g. `("pjsip.conf", …)`) as
    /// its configuration directory, and waits until it is fully booted.
    ///
    /// `asterisk.conf` is generated (its directories must point at this instance). A
    /// `modules.conf` and a `logger.conf` are generated unless `files` has them. The tree comes
    /// from [`ensure_rootfs`] (once per process); call [`require_rootfs`] first to skip cleanly without root.
    pub fn start(ns: &NetNs, files: &[(&str, &str)]) -> Result<Asterisk> {
        let rootfs = rootfs()?;
        sweep_stale_instances(&rootfs);
        let n = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let inner = format!("/tmp/sipwarden-{}-{n}", std::process::id());
        let dir = rootfs.join(inner.trim_start_matches('/'));
        // A leftover of a killed run with a reused pid: it is ours to replace.
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .with_context(|| format!("removing stale {}", dir.display()))?;
        }
        for sub in ["etc", "run", "log", "spool", "db"] {
            fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        // From here on, `Drop` cleans up whatever happens next.
        let mut asterisk = Asterisk {
            rootfs,
            inner,
            dir,
            child: None,
            booted_in: Duration::ZERO,
        };
        let moddir = asterisk.module_dir()?;
        asterisk.write_file("asterisk.conf", &asterisk_conf(&asterisk.inner, &moddir))?;
        if !files.iter().any(|(name, _)| *name == "modules.conf") {
            asterisk.write_file("modules.conf", MODULES_CONF)?;
        }
        if !files.iter().any(|(name, _)| *name == "logger.conf") {
            asterisk.write_file("logger.conf", LOGGER_CONF)?;
        }
        asterisk.write_configs(files)?;
        asterisk.spawn(ns)?;
        asterisk.wait_booted()?;
        Ok(asterisk)
    }

    /// Starts Asterisk in `ns` on the files `sipwarden render --out dir` wrote into `dir`.
    pub fn start_rendered(ns: &NetNs, dir: &Path) -> Result<Asterisk> {
        let files = RENDERED
            .iter()
            .map(|name| {
                let path = dir.join(name);
                fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))
                    .map(|text| (*name, text))
            })
            .collect::<Result<Vec<_>>>()?;
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
        Self::start(ns, &borrowed)
    }

    /// The names of the PJSIP endpoints loaded (`pjsip show endpoints`).
    pub fn endpoint_names(&self) -> Result<std::collections::BTreeSet<String>> {
        Ok(self
            .cli("pjsip show endpoints")?
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("Endpoint:"))
            // `name/callerid` when the endpoint has a caller id.
            .filter_map(|rest| rest.split_whitespace().next())
            .filter(|name| !name.starts_with('<'))
            .map(|name| name.split('/').next().unwrap_or(name).to_owned())
            .collect())
    }

    /// Runs `asterisk -rx CMD` against this instance and returns its output.
    ///
    /// The remote console only needs the control socket, a path inside the tree, so it runs
    /// chrooted from the host: no namespace or mounts needed.
    pub fn cli(&self, cmd: &str) -> Result<String> {
        self.cli_timeout(cmd, CLI_TIMEOUT)
    }

    fn cli_timeout(&self, cmd: &str, timeout: Duration) -> Result<String> {
        let mut c = Command::new(tool("chroot"));
        c.arg(&self.rootfs)
            .args(["/usr/sbin/asterisk", "-C", &self.conf_path(), "-rx", cmd]);
        let out = process::output(&mut c, timeout)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // `-rx` exits 0 even for unknown commands; only a failed connection is non-zero.
        if !out.status.success() || text.starts_with("Unable to connect") {
            bail!(
                "asterisk CLI `{cmd}` failed ({}): {}{}",
                out.status,
                tail(&text, 1000),
                tail(&String::from_utf8_lossy(&out.stderr), 1000)
            );
        }
        Ok(text)
    }

    /// The security log (`security.log` in the log directory), empty if not written yet.
    ///
    /// Written only if `logger.conf` has a line like `security.log => security`.
    pub fn security_log(&self) -> String {
        self.log("security.log")
    }

    /// `ChallengeResponseFailed` events from `ip` over `transport` (`UDP`, `TCP`) in the
    /// security log: the wrong passwords from there that reached Asterisk.
    pub fn failed_challenges_from(&self, ip: &str, transport: &str) -> usize {
        let from = format!("RemoteAddress=\"IPV4/{transport}/{ip}/");
        self.security_log()
            .lines()
            .filter(|l| {
                l.contains("SecurityEvent=\"ChallengeResponseFailed\"") && l.contains(&from)
            })
            .count()
    }

    /// A file of the log directory, empty if it does not exist.
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.log_dir().join(name)).unwrap_or_default()
    }

    /// Replaces or adds configuration files and runs `core reload`; returns the CLI output.
    pub fn reload_configs(&self, files: &[(&str, &str)]) -> Result<String> {
        self.write_configs(files)?;
        self.cli("core reload")
    }

    /// The configuration directory on the host (what `astetcdir` points at).
    pub fn etc_dir(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// The log directory on the host.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// How long it took from spawning to "fully booted".
    pub fn booted_in(&self) -> Duration {
        self.booted_in
    }

    /// The process id (of the `asterisk` process itself: every launcher in between `exec`s).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn conf_path(&self) -> String {
        format!("{}/etc/asterisk.conf", self.inner)
    }

    /// Writes each file atomically (temporary file + rename): a reload running concurrently
    /// must never read half a file.
    fn write_configs(&self, files: &[(&str, &str)]) -> Result<()> {
        for (name, contents) in files {
            if GENERATED.contains(name) {
                bail!("{name} is generated by the harness; it cannot be passed in");
            }
            self.write_file(name, contents)?;
        }
        Ok(())
    }

    fn write_file(&self, name: &str, contents: &str) -> Result<()> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            bail!("config file name {name:?} must be a plain file name");
        }
        let path = self.etc_dir().join(name);
        let tmp = self.etc_dir().join(format!(".{name}.tmp"));
        fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("renaming into {}", path.display()))
    }

    /// The module directory inside the tree (`/usr/lib/<triplet>/asterisk/modules`).
    fn module_dir(&self) -> Result<String> {
        let lib = self.rootfs.join("usr/lib");
        let entries = fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))?;
        for entry in entries.flatten() {
            let candidate = entry.path().join("asterisk/modules");
            if candidate.is_dir() {
                let inside = candidate.strip_prefix(&self.rootfs).unwrap_or(&candidate);
                return Ok(format!("/{}", inside.display()));
            }
        }
        bail!("no usr/lib/*/asterisk/modules in {}", self.rootfs.display())
    }

    fn spawn(&mut self, ns: &NetNs) -> Result<()> {
        let console = File::create(self.dir.join("console.log"))
            .with_context(|| format!("creating {}", self.dir.join("console.log").display()))?;
        let console_err = console
            .try_clone()
            .context("duplicating console.log handle")?;
        // The lab has no DNS, and the tree's resolv.conf names the host's resolver, which the
        // namespace cannot reach: every lookup (Asterisk resolves its own hostname at start-up)
        // would wait for a timeout. Per-instance files, bind-mounted over the tree's in the
        // private mount namespace, make lookups fail at once without changing the shared tree.
        fs::write(
            self.dir.join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .context("writing the instance's resolv.conf")?;
        fs::write(self.dir.join("hosts"), hosts_file())
            .context("writing the instance's hosts file")?;
        // `ip netns exec` → `unshare` → `sh` → `chroot` → `asterisk`, each `exec`ing the next, so
        // the child's pid is Asterisk's. The shell mounts inside the private mount namespace
        // (see the module docs); a fresh sysfs there shows this network namespace's devices.
        let mut cmd = ns.command(
            tool("unshare"),
            [
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                r#"set -e; r=$1; i=$2; shift 2
                   mount -t proc proc "$r/proc"
                   mount -t sysfs sysfs "$r/sys"
                   mount --rbind /dev "$r/dev"
                   mount --bind "$r$i/resolv.conf" "$r/etc/resolv.conf"
                   mount --bind "$r$i/hosts" "$r/etc/hosts"
                   exec chroot "$r" "$@""#,
                "sh",
            ],
        );
        cmd.arg(&self.rootfs)
            .arg(&self.inner)
            .args(["/usr/sbin/asterisk", "-f", "-C", &self.conf_path()])
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console_err);
        let what = process::describe(&cmd);
        self.child = Some(
            cmd.spawn()
                .with_context(|| format!("could not start `{what}`"))?,
        );
        Ok(())
    }

    /// Polls `core waitfullybooted` until it answers, the process dies, or [`BOOT_TIMEOUT`].
    fn wait_booted(&mut self) -> Result<()> {
        let started = Instant::now();
        let deadline = started + BOOT_TIMEOUT;
        let mut last_err = String::from("never answered");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("polling asterisk")?
            {
                bail!(
                    "asterisk exited during start-up ({status}); {}",
                    self.log_tails()
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // Before the control socket exists this fails at once; afterwards it blocks until
            // start-up is complete.
            match self.cli_timeout("core waitfullybooted", left.min(CLI_TIMEOUT)) {
                Ok(out) if out.contains("fully booted") => {
                    self.booted_in = started.elapsed();
                    return Ok(());
                }
                Ok(out) => last_err = out,
                Err(e) => last_err = format!("{e:#}"),
            }
            thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "asterisk did not boot within {BOOT_TIMEOUT:?} (last answer: {}); {}",
            tail(&last_err, 500),
            self.log_tails()
        )
    }

    /// The ends of the console output and messages log, for error messages.
    fn log_tails(&self) -> String {
        let console = fs::read_to_string(self.dir.join("console.log")).unwrap_or_default();
        format!(
            "console output: {}\nmessages.log: {}",
            tail(&console, 2000),
            tail(&self.log("messages.log"), 2000)
        )
    }
}

impl Drop for Asterisk {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Graceful first, so Asterisk closes its sockets and logs; the process may already
            // be gone (its namespace dropped first), which makes this fail quickly.
            if matches!(child.try_wait(), Ok(None)) {
                let _ = self.cli_timeout("core stop now", Duration::from_secs(5));
            }
            match process::wait_with_deadline(&mut child, Duration::from_secs(5)) {
                Ok(Some(_)) => {}
                // wait_with_deadline killed it on timeout; nothing more to do.
                Ok(None) => eprintln!("warning: asterisk did not stop within 5 s and was killed"),
                Err(e) => eprintln!("warning: waiting for asterisk to stop: {e}"),
            }
        }
        // Safe to delete recursively: the only mounts Asterisk had lived in its private mount
        // namespace, never under this directory on the host.
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove {}: {e}", self.dir.display());
        }
    }
}

/// Removes instance directories (`TREE/tmp/sipwarden-<pid>-<n>`) left by killed test
/// processes. Directories of live processes are left alone.
fn sweep_stale_instances(rootfs: &Path) {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        let Ok(entries) = fs::read_dir(rootfs.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("sipwarden-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if fs::metadata(format!("/proc/{pid}")).is_err() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// `/etc/hosts` for the chroot: localhost plus this machine's hostname (the namespace shares
/// the host's UTS namespace, so Asterisk sees the host's name and looks it up).
fn hosts_file() -> String {
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let hostname = hostname.trim();
    let mut hosts =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if !hostname.is_empty()
        && hostname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
    {
        hosts.push_str(&format!("127.0.1.1\t{hostname}\n"));
    }
    hosts
}

/// `asterisk.conf` for one instance: everything it writes goes to its own directory, everything
/// it only reads comes from the package's usual places in the tree.
fn asterisk_conf(inner: &str, moddir: &str) -> String {
    format!(
        "; generated by the sipwarden test harness\n\
         [directories]\n\
         astetcdir => {inner}/etc\n\
         astmoddir => {moddir}\n\
         astvarlibdir => /var/lib/asterisk\n\
         astdbdir => {inner}/db\n\
         astkeydir => /var/lib/asterisk\n\
         astdatadir => /usr/share/asterisk\n\
         astagidir => /usr/share/asterisk/agi-bin\n\
         astspooldir => {inner}/spool\n\
         astrundir => {inner}/run\n\
         astlogdir => {inner}/log\n\
         astsbindir => /usr/sbin\n\
         \n\
         [options]\n\
         ; A namespace has no ethernet interface to derive the entity id from; a fixed one\n\
         ; silences the start-up warning (it only matters for DUNDi).\n\
         entityid => 02:00:00:00:00:01\n"
    )
}

/// Loads everything but the modules that fail or complain in a namespace without hardware.
const MODULES_CONF: &str = "\
; generated by the sipwarden test harness
[modules]
autoload = yes
noload => chan_dahdi.so
noload => chan_websocket.so
noload => res_pjsip_transport_websocket.so
";

/// Default logging: what is needed to debug a failed start.
const LOGGER_CONF: &str = "\
; generated by the sipwarden test harness
[logfiles]
messages.log => notice,warning,error
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directory_asterisk_writes_to_is_inside_the_instance() {
        let conf = asterisk_conf("/tmp/sipwarden-1-0", "/usr/lib/x/asterisk/modules");
        for key in [
            "astetcdir",
            "astdbdir",
            "astspooldir",
            "astrundir",
            "astlogdir",
        ] {
            let line = conf.lines().find(|l| l.starts_with(key)).expect(key);
            assert!(line.contains("=> /tmp/sipwarden-1-0/"), "{line}");
        }
    }
}
