//! Asterisk's side of the FastAGI exchange, for tests and the decision benchmark: what
//! `AGI(agi://…/decide,…)` and the hang-up handler's `AGI(agi://…/end)` send, and what they
//! read back.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A FastAGI address of this test process's own on loopback (`127.<net>.x.y:4573`): several
/// servers run at once on the host, and `net` keeps two tests of one binary apart.
#[must_use]
pub fn own_address(net: u8) -> SocketAddr {
    let n = std::process::id();
    let [_, _, hi, lo] = n.to_be_bytes();
    SocketAddr::from(([127, net, hi, lo | 1], 4573))
}

/// One call attempt as the dialplan describes it.
#[derive(Clone, Debug)]
pub struct Question<'a> {
    pub endpoint: &'a str,
    pub class: &'a str,
    pub trunk: &'a str,
    pub number: &'a str,
    /// The calling channel's unique id.
    pub uniqueid: &'a str,
    /// The caller's address as PJSIP's `remote_addr` gives it (`198.51.100.7:5060`).
    pub source: Option<&'a str>,
}

fn env(script: &str, channel: &str, uniqueid: &str, args: &[&str]) -> String {
    let mut text = format!(
        "agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n\
         agi_channel: {channel}\nagi_language: en\nagi_type: PJSIP\nagi_uniqueid: {uniqueid}\n\
         agi_callerid: 2001\nagi_calleridname: \"Desk\"\nagi_context: sw-dial-international\n\
         agi_extension: s\nagi_priority: 2\n"
    );
    for (i, arg) in args.iter().enumerate() {
        text.push_str(&format!("agi_arg_{}: {arg}\n", i + 1));
    }
    text.push('\n');
    text
}

/// Asks `decide` at `addr` as Asterisk would; the verdict (`allow`, `block`), or `None`
/// when the connection closed without one.
pub async fn decide(addr: SocketAddr, q: &Question<'_>) -> Result<Option<String>> {
    let channel = format!("PJSIP/{}-{}", q.endpoint, q.uniqueid);
    let mut args = vec![q.endpoint, q.class, q.trunk, q.number];
    args.extend(q.source);
    let text = env("decide", &channel, q.uniqueid, &args);
    send(addr, &text).await
}

/// Sends `text` (an environment, well formed or not) and reads the verdict.
pub async fn send(addr: SocketAddr, text: &str) -> Result<Option<String>> {
    send_bytes(addr, text.as_bytes()).await
}

/// [`send`] for bytes that need not be text.
pub async fn send_bytes(addr: SocketAddr, bytes: &[u8]) -> Result<Option<String>> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.write_all(bytes).await?;
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .context("no answer within 5 s")??;
    if n == 0 {
        return Ok(None);
    }
    let Some(rest) = line.trim_end().strip_prefix("SET VARIABLE SW_FRAUD ") else {
        bail!("not a verdict: {line:?}");
    };
    reader.get_mut().write_all(b"200 result=1\n").await?;
    Ok(Some(rest.trim_matches('"').to_owned()))
}

/// Tells `addr` the call with `uniqueid` hung up, as the hang-up handler does: Dial's
/// status and the seconds it was answered.
pub async fn end(
    addr: SocketAddr,
    uniqueid: &str,
    dial_status: &str,
    answered_secs: u64,
) -> Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let answered = answered_secs.to_string();
    stream
        .write_all(env("end", "PJSIP/x-1", uniqueid, &[dial_status, &answered]).as_bytes())
        .await?;
    // The listener closes the connection once it has read the environment.
    let mut rest = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest),
    )
    .await
    .context("the end was not taken within 5 s")??;
    Ok(())
}
