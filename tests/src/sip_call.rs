//! Calls that stay up, for the toll-fraud tests: a phone that places a call through Asterisk
//! (answering its digest challenge, offering audio in SDP) and holds it until it hangs up or
//! Asterisk does; and a provider stand-in that answers every call it is offered. Both answer
//! what Asterisk sends inside a call (a media re-INVITE, OPTIONS) the way real ones do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::sip::{authorization, exchange, header, status};

static CALLS: AtomicU64 = AtomicU64::new(0);

/// An audio offer (or answer) from `ip`: PCMU and PCMA, no RTP is ever sent.
fn sdp(ip: std::net::IpAddr) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
    )
}

/// The answer to `request` with `code` (and `body` as SDP when given); `to_tag` is added to
/// the `To` header when it has none.
fn answer(
    request: &str,
    code: &str,
    to_tag: &str,
    contact: SocketAddr,
    body: Option<&str>,
) -> String {
    let mut head = format!("SIP/2.0 {code}\r\n");
    for line in request.lines() {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq"
        ) {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    let to = header(request, "To")
        .or_else(|| header(request, "t"))
        .unwrap_or_default();
    if to.contains(";tag=") {
        head.push_str(&format!("To: {to}\r\n"));
    } else {
        head.push_str(&format!("To: {to};tag={to_tag}\r\n"));
    }
    head.push_str(&format!("Contact: <sip:{contact}>\r\n"));
    match body {
        Some(body) => format!(
            "{head}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        None => format!("{head}Content-Length: 0\r\n\r\n"),
    }
}

fn method(message: &str) -> Option<&str> {
    let first = message.lines().next()?;
    (!first.starts_with("SIP/2.0")).then(|| first.split(' ').next().unwrap_or_default())
}

/// A call a phone placed that was answered: held until [`HeldCall::hang_up`] or until
/// Asterisk hangs it up (see [`HeldCall::ended`]).
pub struct HeldCall {
    sock: Arc<UdpSocket>,
    server: SocketAddr,
    local: SocketAddr,
    uri: String,
    from: String,
    to: String,
    call_id: String,
    ended: watch::Receiver<Option<Instant>>,
    task: tokio::task::JoinHandle<()>,
}

/// What placing a call gave: the final status, and the call when it was answered.
pub struct Placed {
    pub status: u16,
    pub call: Option<HeldCall>,
}

/// Places a call from `local` to `number` through Asterisk at `server`, as `user` with
/// `password`, offering audio. Waits for the final answer.
pub async fn place(
    local: SocketAddr,
    server: SocketAddr,
    user: &str,
    password: &str,
    number: &str,
) -> Result<Placed> {
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let sock = Arc::new(UdpSocket::bind(local).await?);
    let local = sock.local_addr()?;
    let call_id = format!("held-{}-{n}@{}", std::process::id(), local.ip());
    let uri = format!("sip:{number}@{}", server.ip());
    let from = format!("<sip:{user}@{}>;tag=h{n}", server.ip());
    let body = sdp(local.ip());
    let mut auth = String::new();
    for cseq in 1..=2u32 {
        let branch = format!("z9hG4bKh{cseq}x{}x{n}", std::process::id());
        let via = format!("SIP/2.0/UDP {local};branch={branch};rport");
        let request = format!(
            "INVITE {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
             To: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: <sip:{user}@{local}>\r\n{auth}User-Agent: sipwarden-test-phone\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = exchange(&sock, server, &request).await?;
        let code = status(&answer)?;
        let to = header(&answer, "To").unwrap_or_default().to_owned();
        if (200..300).contains(&code) {
            let ack_branch = format!("z9hG4bKa{cseq}x{}x{n}", std::process::id());
            let ack = format!(
                "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={ack_branch};rport\r\n\
                 Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
                 CSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
            );
            sock.send_to(ack.as_bytes(), server).await?;
            let (tx, ended) = watch::channel(None);
            let task = tokio::spawn(hold(sock.clone(), server, local, tx));
            return Ok(Placed {
                status: code,
                call: Some(HeldCall {
                    sock,
                    server,
                    local,
                    uri,
                    from,
                    to,
                    call_id,
                    ended,
                    task,
                }),
            });
        }
        // The ACK of a non-2xx final answer: the INVITE's branch.
        let ack = format!(
            "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
        );
        sock.send_to(ack.as_bytes(), server).await?;
        if matches!(code, 401 | 407) && cseq == 1 {
            auth = authorization(&answer, "INVITE", &uri, user, password)?;
            continue;
        }
        return Ok(Placed {
            status: code,
            call: None,
        });
    }
    bail!("challenged twice")
}

/// While a call is up: answers Asterisk's requests in it; a BYE (or the answer to ours)
/// ends it.
async fn hold(
    sock: Arc<UdpSocket>,
    server: SocketAddr,
    local: SocketAddr,
    ended: watch::Sender<Option<Instant>>,
) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let reply = match method(&text) {
            Some("BYE") => {
                let _ = ended.send(Some(Instant::now()));
                Some(answer(&text, "200 OK", "x", local, None))
            }
            Some("INVITE") => Some(answer(&text, "200 OK", "x", local, Some(&sdp(local.ip())))),
            Some("ACK") | None => {
                if text.starts_with("SIP/2.0 200")
                    && header(&text, "CSeq").is_some_and(|c| c.ends_with("BYE"))
                {
                    let _ = ended.send(Some(Instant::now()));
                }
                None
            }
            Some(_) => Some(answer(&text, "200 OK", "x", local, None)),
        };
        if let Some(reply) = reply {
            let _ = sock
                .send_to(
                    reply.as_bytes(),
                    if from.port() == 0 { server } else { from },
                )
                .await;
        }
    }
}

impl HeldCall {
    /// When the call ended, if it has.
    #[must_use]
    pub fn ended_at(&self) -> Option<Instant> {
        *self.ended.borrow()
    }

    /// Waits up to `within` for the call to end; when it did.
    pub async fn ended(&mut self, within: Duration) -> Option<Instant> {
        let ended = tokio::time::timeout(within, self.ended.wait_for(Option::is_some)).await;
        ended.ok().and_then(|r| r.ok().and_then(|at| *at))
    }

    /// Hangs up (a BYE) and waits for Asterisk's answer.
    pub async fn hang_up(mut self) -> Result<()> {
        if self.ended_at().is_none() {
            let bye = format!(
                "BYE {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKb{}x{};rport\r\nMax-Forwards: 70\r\n\
                 From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 10 BYE\r\nContent-Length: 0\r\n\r\n",
                self.uri,
                self.local,
                std::process::id(),
                CALLS.fetch_add(1, Ordering::Relaxed),
                self.from,
                self.to,
                self.call_id
            );
            self.sock.send_to(bye.as_bytes(), self.server).await?;
            self.ended(Duration::from_secs(5))
                .await
                .context("Asterisk did not answer the BYE within 5 s")?;
        }
        self.task.abort();
        Ok(())
    }
}

impl Drop for HeldCall {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the provider stand-in saw.
#[derive(Debug, Default)]
pub struct ProviderCounts {
    /// Calls offered (new INVITEs).
    pub offered: AtomicU64,
    /// Calls up now (answered, no BYE yet).
    pub up: AtomicI64,
}

/// A provider that answers every call it is offered with 200 and audio, and every other
/// request with 200, on `sock`, until the task is dropped.
pub async fn provider(sock: UdpSocket, counts: Arc<ProviderCounts>) -> Result<()> {
    let local = sock.local_addr()?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let Some(method) = method(&text) else {
            continue;
        };
        let call_id = header(&text, "Call-ID")
            .or_else(|| header(&text, "i"))
            .unwrap_or_default();
        // The same tag for the same call, so retransmissions match.
        let tag = format!(
            "p{:x}",
            call_id
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        );
        let in_dialog = header(&text, "To")
            .or_else(|| header(&text, "t"))
            .is_some_and(|t| t.contains(";tag="));
        let reply = match method {
            "INVITE" => {
                if !in_dialog {
                    counts.offered.fetch_add(1, Ordering::Relaxed);
                    counts.up.fetch_add(1, Ordering::Relaxed);
                }
                answer(&text, "200 OK", &tag, local, Some(&sdp(local.ip())))
            }
            "BYE" => {
                counts.up.fetch_sub(1, Ordering::Relaxed);
                answer(&text, "200 OK", &tag, local, None)
            }
            "ACK" => continue,
            _ => answer(&text, "200 OK", &tag, local, None),
        };
        sock.send_to(reply.as_bytes(), from).await?;
    }
}
