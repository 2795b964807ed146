//! Running external commands with a deadline and errors that say what ran and what it printed.
//!
//! Every harness step (`ip`, `nft`, `asterisk -rx`, SIPVicious) goes through here so that no test
//! can hang forever on a stuck child, and a failure message always carries the command line, the
//! exit status and the tail of stderr — enough to debug a CI log without rerunning.

use std::fmt::Write as _;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Default deadline for short administrative commands (`ip`, `sysctl`, `asterisk -rx`).
pub const SHORT: Duration = Duration::from_secs(30);

/// How often [`wait_with_deadline`] polls a child: short enough to keep tests fast, long enough
/// not to burn the two shared cores.
const POLL: Duration = Duration::from_millis(20);

/// How long output readers may lag behind their exited child (see [`output`]).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Renders a command as a shell-like line for messages (`ip -n ns link set lo up`).
pub fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            let _ = write!(line, " '{arg}'");
        } else {
            let _ = write!(line, " {arg}");
        }
    }
    line
}

/// Runs `cmd` to completion, capturing stdout and stderr, killing it after `timeout`.
///
/// The exit status is *not* checked; use [`run`] for that.
pub fn output(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let what = describe(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{what}`"))?;
    // Drain both pipes on threads: a child that fills one pipe while we wait on the other
    // would otherwise deadlock, and that would defeat the deadline.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_with_deadline(&mut child, timeout);
    // The child is gone (exited or killed), so its pipe ends are closed. A grandchild that
    // inherited them (a daemon it started) could keep them open forever, so the readers get a
    // short grace period and are otherwise abandoned with what they have not returned.
    let grace = Instant::now() + PIPE_GRACE;
    let stdout = join_by(stdout, grace);
    let stderr = join_by(stderr, grace);
    match status {
        Ok(Some(status)) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        Ok(None) => bail!(
            "`{what}` did not finish within {timeout:?} and was killed; stderr: {}",
            tail(&String::from_utf8_lossy(&stderr), 2000)
        ),
        Err(e) => Err(e).with_context(|| format!("waiting for `{what}`")),
    }
}

/// Runs `cmd` like [`output`] and fails unless it exits 0; returns its stdout as text.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<String> {
    let what = describe(cmd);
    let out = output(cmd, timeout)?;
    check(&what, &out)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Turns a non-zero exit into an error naming the command, its status, stdout and stderr tails.
pub fn check(what: &str, out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "`{what}` failed ({}); stderr: {}; stdout: {}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 2000),
        tail(&String::from_utf8_lossy(&out.stdout), 1000)
    )
}

/// Waits for `child` until `timeout`; on timeout kills it and returns `Ok(None)`.
pub fn wait_with_deadline(
    child: &mut Child,
    timeout: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(POLL);
    }
}

/// The last `max` bytes of `text` (on a char boundary), marked when cut.
pub fn tail(text: &str, max: usize) -> String {
    let text = text.trim_end();
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn join_by(reader: thread::JoinHandle<Vec<u8>>, deadline: Instant) -> Vec<u8> {
    while !reader.is_finished() && Instant::now() < deadline {
        thread::sleep(POLL);
    }
    if reader.is_finished() {
        reader.join().unwrap_or_default()
    } else {
        b"<output cut: a process that outlived the command still holds the pipe>".to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_overruns_its_deadline_is_killed_and_reported() {
        let started = Instant::now();
        let err = output(Command::new("sleep").arg("5"), Duration::from_millis(200))
            .expect_err("sleep 5 must time out");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(err.to_string().contains("sleep 5"), "{err}");
    }

    #[test]
    fn a_failing_command_is_reported_with_its_stderr() {
        let err = run(
            Command::new("sh").args(["-c", "echo boom >&2; exit 3"]),
            SHORT,
        )
        .expect_err("exit 3 must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("boom") && msg.contains("exit status: 3"),
            "{msg}"
        );
    }

    #[test]
    fn tail_keeps_the_end_and_respects_char_boundaries() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("aéé", 3), "…é");
    }
}
