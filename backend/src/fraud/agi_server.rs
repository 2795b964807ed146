//! The FastAGI listener Asterisk asks before every call through a trunk (see the dialplan's
//! `sw-fraud-decision`). Two questions:
//!
//! - `decide` (arguments: endpoint, calling class, trunk, number, the caller's address):
//!   answered with one `SET VARIABLE SW_FRAUD "allow"` or `"block"`, then the connection is
//!   closed;
//! - `end` (from the hang-up handler; arguments: Dial's status, seconds answered): the call
//!   with this channel's unique id ended; nothing is answered.
//!
//! Anything else, or a request that is not well formed (however it is broken), is answered
//! `block`: the dialplan only asks from the trunk contexts, so a malformed question is a bug
//! or a forgery, never a call to let through. The listener is on loopback only (the
//! configuration refuses any other address), each connection is bounded in size and time,
//! and at most [`MAX_CONNECTIONS`] are served at once.

use std::sync::Arc;
use std::time::Duration;

use policy::asterisk::CallingClass;
use policy::fraud::agi::{self, AgiEnv, VERDICT_VARIABLE};
use policy::fraud::ledger::{Attempt, Outcome};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::CallDecisions;

/// Connections served at once; more wait for a place (Asterisk's own connect timeout then
/// applies the fail mode).
pub const MAX_CONNECTIONS: usize = 256;
/// Asterisk sends its environment at once; a connection that has not within this is closed.
const READ_WITHIN: Duration = Duration::from_secs(2);

/// Serves until `stopping` is cancelled.
pub async fn serve(
    listener: TcpListener,
    decisions: Arc<CallDecisions>,
    stopping: CancellationToken,
) {
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = stopping.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, _) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "fraud decision: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(place) = places.clone().acquire_owned().await else {
            return;
        };
        let decisions = decisions.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &decisions).await {
                tracing::debug!(error = %e, "fraud decision: connection ended early");
            }
            drop(place);
        });
    }
}

/// Reads the environment: bytes up to the empty line, at most [`agi::MAX_ENV_BYTES`]. Bytes,
/// not text: the environment carries caller-chosen values (a display name), and a byte that
/// is not UTF-8 must not end the exchange without a verdict. `None` when it is not an
/// environment (too long, ended early, malformed).
async fn read_env(reader: &mut BufReader<&mut TcpStream>) -> std::io::Result<Option<AgiEnv>> {
    let mut bytes = Vec::new();
    let mut limited = reader.take(agi::MAX_ENV_BYTES as u64);
    loop {
        let before = bytes.len();
        if limited.read_until(b'\n', &mut bytes).await? == 0 {
            return Ok(None);
        }
        let line = &bytes[before..];
        if line == b"\n" || line == b"\r\n" {
            break;
        }
    }
    Ok(agi::parse_env(&String::from_utf8_lossy(&bytes))
        .ok()
        .map(|(env, _)| env))
}

/// The attempt a `decide` request describes, if it is well formed.
fn attempt(env: &AgiEnv) -> Option<Attempt<'_>> {
    let (endpoint, class, trunk, number, source) = match env.args.as_slice() {
        [endpoint, class, trunk, number] => (endpoint, class, trunk, number, ""),
        [endpoint, class, trunk, number, source] => {
            (endpoint, class, trunk, number, source.as_str())
        }
        _ => return None,
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let number_ok = !number.is_empty()
        && number.len() <= 32
        && number
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'+'));
    if !(word(endpoint) && word(trunk) && number_ok && !env.uniqueid.is_empty()) {
        return None;
    }
    Some(Attempt {
        endpoint,
        class: CallingClass::parse(class).ok()?,
        trunk,
        dialled: number,
        channel: &env.channel,
        uniqueid: &env.uniqueid,
        source: source_address(source),
    })
}

/// The caller's address as Asterisk gives it: `198.51.100.7:5060`, `[2001:db8::7]:5060`
/// (PJSIP's `remote_addr`) or a bare address (chan_sip's `recvip`); `None` otherwise.
fn source_address(text: &str) -> Option<std::net::IpAddr> {
    text.parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| text.parse::<std::net::IpAddr>())
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Dial's status and seconds answered, from the hang-up handler's arguments.
fn ending(env: &AgiEnv) -> (&str, u64) {
    let status = env
        .args
        .first()
        .map(String::as_str)
        .filter(|s| s.len() <= 16 && s.bytes().all(|b| b.is_ascii_uppercase()))
        .unwrap_or("");
    let answered = env.args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    (status, answered)
}

async fn answer(mut stream: TcpStream, decisions: &CallDecisions) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(&mut stream);
    let env = match tokio::time::timeout(READ_WITHIN, read_env(&mut reader)).await {
        Ok(Ok(env)) => env,
        // Too slow, or the connection failed: nobody is left to answer.
        Err(_) | Ok(Err(_)) => None,
    };
    let verdict = match &env {
        Some(env) if env.script == "end" => {
            let (status, answered) = ending(env);
            decisions.end(&env.uniqueid, status, answered);
            return Ok(());
        }
        Some(env) if env.script == "decide" => {
            attempt(env).map(|attempt| match decisions.decide(attempt).outcome {
                Outcome::Allow => "allow",
                Outcome::Block | Outcome::Lock => "block",
            })
        }
        _ => None,
    };
    // Anything that is not a well-formed question is refused, never left unanswered: the
    // dialplan applies a fail mode only when sipwarden cannot be reached at all.
    let verdict = verdict.unwrap_or_else(|| {
        decisions
            .counters
            .malformed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        "block"
    });
    let Some(command) = agi::set_variable(VERDICT_VARIABLE, verdict) else {
        return Ok(());
    };
    reader.get_mut().write_all(command.as_bytes()).await?;
    // Asterisk's `200 result=1`; the connection is closed either way.
    let mut line = Vec::new();
    let _ = tokio::time::timeout(READ_WITHIN, reader.take(512).read_until(b'\n', &mut line)).await;
    Ok(())
}
