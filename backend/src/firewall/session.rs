//! The ban fast path: element batches over netlink (see `netlink`) where that can carry
//! them, else one long-lived `nft -j -i` that takes a batch per line.
//!
//! Why: starting `nft` costs a fork, an exec, the dynamic loader, a netlink socket and a cache
//! fill; measured at 8–10 ms a ban (more with `ip netns exec`), twice the 5 ms a ban may take.
//! A running `nft` only parses the line and sends one netlink transaction, well under 1 ms.
//!
//! How a reply is recognised: nft's interactive mode prints nothing on success and an error on
//! stderr otherwise, and it never says "done". So every batch line is followed by a marker
//! line, `sync-N`, which is not valid nft syntax: nft answers it with a syntax error that
//! echoes the line. stderr is unbuffered and nft handles lines in order, so everything on
//! stderr before that echo belongs to the batch (empty means success). The marker is parsed
//! without touching the kernel. With `-j` each line is tried as JSON first (the policy crate's
//! batches) and, failing that, as nft syntax (the marker).
//!
//! Any surprise (a timeout, a broken pipe, output we do not understand) kills the process;
//! the next batch starts a fresh one, so one bad moment never wedges the enforcer.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin};

use policy::firewall::NftBatch;

use super::error::{FirewallError, tail};
use super::netlink::Netlink;
use super::target::{Target, describe};

/// Deadline of one batch through the session. Generous next to the sub-millisecond normal
/// case, short enough that a wedged `nft` costs the guard only a moment.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest batch line sent through the session; longer batches go through `nft -j -f -`.
/// The interactive reader is line-editing code, not meant for megabyte lines.
pub const MAX_LINE: usize = 64 * 1024;

/// A running `nft -j -i` in one target.
pub(crate) struct Session {
    target: Target,
    running: Option<Running>,
    next_marker: u64,
    /// The kernel's own socket for element batches (this namespace only; see `netlink`).
    netlink: Option<Netlink>,
    /// Opening it failed once: nft carries every batch from then on.
    netlink_unavailable: bool,
}

struct Running {
    command: String,
    child: Child,
    stdin: ChildStdin,
    stderr: BufReader<ChildStderr>,
}

impl Session {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            running: None,
            next_marker: 0,
            netlink: None,
            netlink_unavailable: false,
        }
    }

    /// Applies `batch` over netlink when it is an element batch of the timed hash sets and
    /// this namespace is the target; `None` when nft has to (then nothing was sent).
    pub(crate) fn apply_direct(&mut self, batch: &NftBatch) -> Option<Result<(), FirewallError>> {
        let netlink = self.netlink()?;
        match netlink.apply(batch)? {
            // The socket broke (not the kernel refusing the batch): nft carries this batch,
            // and the next one opens a new socket.
            Err(e @ FirewallError::Io { .. }) => {
                tracing::warn!(error = %e, "the netlink path failed; nft takes over for this batch");
                self.netlink = None;
                None
            }
            done => Some(done),
        }
    }

    fn netlink(&mut self) -> Option<&mut Netlink> {
        if self.target.netns_name().is_some() || self.netlink_unavailable {
            return None;
        }
        if self.netlink.is_none() {
            match Netlink::open() {
                Ok(n) => self.netlink = Some(n),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open a netlink socket to nf_tables; bans go through nft");
                    self.netlink_unavailable = true;
                    return None;
                }
            }
        }
        self.netlink.as_mut()
    }

    /// Applies one batch (compact JSON, no newline in it) as one transaction.
    pub(crate) async fn apply(&mut self, line: &str) -> Result<(), FirewallError> {
        let result = self.try_apply(line).await;
        if let Err(FirewallError::Failed { .. }) = &result {
            // nft said no to the batch and is fine otherwise: keep it.
        } else if result.is_err() {
            self.stop().await;
        }
        result
    }

    /// Starts the process ahead of the first ban (starting it costs milliseconds the first
    /// ban should not pay) with an empty batch, which changes nothing.
    pub(crate) async fn warm(&mut self) -> Result<(), FirewallError> {
        // Bans go to the kernel directly when they can; nft is then the rare fallback and
        // need not sit in memory.
        if self.running.is_some() || self.netlink().is_some() {
            return Ok(());
        }
        self.apply(r#"{"nftables":[]}"#).await
    }

    async fn try_apply(&mut self, line: &str) -> Result<(), FirewallError> {
        if self.running.is_none() {
            self.running = Some(self.start()?);
        }
        self.next_marker += 1;
        let marker = format!("sync-{}", self.next_marker);
        let Some(running) = self.running.as_mut() else {
            // Just set above; unreachable, but a typed error beats a panic.
            return Err(FirewallError::Output {
                command: "nft -j -i".to_owned(),
                reason: "session not running".to_owned(),
            });
        };
        let command = running.command.clone();
        match tokio::time::timeout(SESSION_TIMEOUT, running.exchange(line, &marker)).await {
            Ok(Ok(errors)) if errors.is_empty() => Ok(()),
            Ok(Ok(errors)) => Err(FirewallError::Failed {
                command,
                status: "error reported".to_owned(),
                stderr: tail(&errors.join("\n"), 4000),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(FirewallError::Timeout {
                command,
                timeout: SESSION_TIMEOUT,
            }),
        }
    }

    fn start(&self) -> Result<Running, FirewallError> {
        let mut cmd = self.target.command("nft", ["-j", "-i"]);
        let command = describe(&cmd);
        // stdout is not read: a batch prints nothing there, and a pipe nobody drains would
        // block nft once full.
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| FirewallError::Spawn {
            command: command.clone(),
            source,
        })?;
        // Every ban passes through this process; it must not wait behind Asterisk for the CPU.
        if let Some(pid) = child.id() {
            crate::priority::raise_process(pid, "the nft session");
        }
        let (Some(stdin), Some(stderr)) = (child.stdin.take(), child.stderr.take()) else {
            return Err(FirewallError::Output {
                command,
                reason: "no pipes to the child".to_owned(),
            });
        };
        Ok(Running {
            command,
            child,
            stdin,
            stderr: BufReader::new(stderr),
        })
    }

    /// Ends the process (if any); the next batch starts a new one.
    pub(crate) async fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            // Closing stdin ends nft's read loop; kill in case it is stuck in the kernel.
            drop(running.stdin);
            let _ = running.child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(1), running.child.wait()).await;
        }
    }
}

impl Running {
    /// Sends the batch and its marker; returns the stderr lines that belong to the batch.
    async fn exchange(&mut self, line: &str, marker: &str) -> Result<Vec<String>, FirewallError> {
        let io = |source| FirewallError::Io {
            command: self.command.clone(),
            source,
        };
        let mut request = String::with_capacity(line.len() + marker.len() + 2);
        request.push_str(line);
        request.push('\n');
        request.push_str(marker);
        request.push('\n');
        self.stdin.write_all(request.as_bytes()).await.map_err(io)?;
        self.stdin.flush().await.map_err(io)?;

        let mut lines: Vec<String> = Vec::new();
        loop {
            let mut text = String::new();
            let n = self
                .stderr
                .read_line(&mut text)
                .await
                .map_err(|source| FirewallError::Io {
                    command: self.command.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(FirewallError::Output {
                    command: self.command.clone(),
                    reason: format!("nft exited; it said: {}", tail(&lines.join("\n"), 2000)),
                });
            }
            let text = text.trim_end_matches(['\n', '\r']).to_owned();
            if text == marker {
                break;
            }
            lines.push(text);
        }
        // The line before the echo is nft's "Error: syntax error …" header for the marker;
        // the line after it is the caret line under the echo. Both are the marker's, not the
        // batch's.
        lines.pop();
        let mut carets = String::new();
        self.stderr
            .read_line(&mut carets)
            .await
            .map_err(|source| FirewallError::Io {
                command: self.command.clone(),
                source,
            })?;
        // A successful JSON batch can still print an empty line; only text counts.
        lines.retain(|l| !l.trim().is_empty());
        Ok(lines)
    }
}
