//! Where firewall commands run: the current network namespace (production) or a named one
//! (tests, and an appliance that guards a PBX living in its own namespace).

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::error::{FirewallError, tail};

/// Directories searched after `$PATH`: a service started with a minimal `PATH` often lacks the
/// `sbin` directories where `nft`, `conntrack` and `ip` live.
const FALLBACK_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The network namespace whose firewall we manage.
///
/// Every command of this module is built by [`Target::command`], so a test that passes a
/// namespace runs exactly the production code path, only prefixed with `ip netns exec NS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Target {
    netns: Option<String>,
}

impl Target {
    /// The namespace this process runs in.
    pub fn current() -> Self {
        Self { netns: None }
    }

    /// The named namespace (as `ip netns list` shows it).
    pub fn netns(name: impl Into<String>) -> Self {
        Self {
            netns: Some(name.into()),
        }
    }

    /// The namespace's name, `None` for the current one.
    pub fn netns_name(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// A command running `program args` in the target namespace. The child is killed if the
    /// command's future is dropped, so a timeout never leaves a stray `nft` behind.
    pub(crate) fn command<I, S>(&self, program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = match &self.netns {
            None => Command::new(find_program(program)),
            Some(ns) => {
                let mut cmd = Command::new(find_program("ip"));
                cmd.args(["netns", "exec", ns]).arg(find_program(program));
                cmd
            }
        };
        cmd.args(args).kill_on_drop(true);
        cmd
    }
}

/// `program`'s full path when it is found, else the bare name (so the spawn error names it).
fn find_program(program: &str) -> PathBuf {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| PathBuf::from(program))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command line as text, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let std = cmd.as_std();
    let mut line = std.get_program().to_string_lossy().into_owned();
    for arg in std.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// What a finished command printed.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) success: bool,
    pub(crate) status: String,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cmd` to completion with `stdin` fed to it, killing it after `timeout`. The exit
/// status is not judged here (conntrack exits 1 for "nothing deleted").
pub(crate) async fn run(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Finished, FirewallError> {
    let command = describe(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| FirewallError::Spawn {
        command: command.clone(),
        source,
    })?;
    let work = async {
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Written before waiting: nft reads all of stdin before it applies anything, and
            // dropping the pipe afterwards is its end-of-file.
            pipe.write_all(input).await?;
            pipe.shutdown().await?;
        }
        child.wait_with_output().await
    };
    let output = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(FirewallError::Io { command, source }),
        // Dropping `work` drops the child, which `kill_on_drop` kills.
        Err(_) => return Err(FirewallError::Timeout { command, timeout }),
    };
    Ok(Finished {
        success: output.status.success(),
        status: output.status.to_string(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// [`run`], failing unless the command exits 0.
pub(crate) async fn run_checked(
    cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<String, FirewallError> {
    let command = describe(&cmd);
    let done = run(cmd, stdin, timeout).await?;
    if done.success {
        Ok(done.stdout)
    } else {
        Err(FirewallError::Failed {
            command,
            status: done.status,
            stderr: tail(&done.stderr, 4000),
        })
    }
}
