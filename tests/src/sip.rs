//! A minimal SIP phone for tests: one REGISTER over UDP, answering a digest challenge the way
//! a phone does (RFC 3261 §22, MD5, `qop=auth` when offered), so a test can tell whether a
//! secret registers. Its Contact carries its own address, as a real phone's does.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use md5::{Digest, Md5};
use tokio::net::UdpSocket;

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// The value of `name="..."` (or unquoted) in a challenge header.
fn param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let start = header.find(&format!("{name}="))? + name.len() + 1;
    let rest = &header[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        quoted.split('"').next()
    } else {
        rest.split([',', ' ', '\r']).next()
    }
}

fn status(response: &str) -> Result<u16> {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status code in the response")
}

async fn exchange(sock: &UdpSocket, server: SocketAddr, request: &str) -> Result<String> {
    sock.send_to(request.as_bytes(), server).await?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .context("no SIP answer within 5 s")??;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // Skip provisional answers (100 Trying).
        if status(&text)? >= 200 {
            return Ok(text);
        }
    }
}

/// Registers `user` with `password` at `server` from `local` (an address of this namespace);
/// returns the final status code (200 when the secret is right and the ACLs allow it).
pub async fn register(
    local: SocketAddr,
    server: SocketAddr,
    user: &str,
    password: &str,
) -> Result<u16> {
    let sock = UdpSocket::bind(local).await?;
    let local = sock.local_addr()?;
    // A fresh Call-ID per registration: a registrar ignores a REGISTER whose Call-ID it has
    // seen with a higher CSeq.
    let call_id = format!("{}-{}@{}", std::process::id(), local.port(), local.ip());
    let uri = format!("sip:{}", server.ip());
    let request = |cseq: u32, auth: Option<String>| {
        let mut r = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK{cseq}x{}x{}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{host}>;tag=t{cseq}\r\n\
             To: <sip:{user}@{host}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{local}>\r\n\
             Expires: 60\r\n\
             User-Agent: sipwarden-test-phone\r\n",
            std::process::id(),
            local.port(),
            host = server.ip(),
        );
        if let Some(auth) = auth {
            r.push_str(&auth);
        }
        r.push_str("Content-Length: 0\r\n\r\n");
        r
    };
    let first = exchange(&sock, server, &request(1, None)).await?;
    if status(&first)? != 401 {
        return status(&first);
    }
    let challenge = first
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .context("401 without WWW-Authenticate")?;
    let realm = param(challenge, "realm").context("no realm")?;
    let nonce = param(challenge, "nonce").context("no nonce")?;
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("REGISTER:{uri}"));
    let auth = if challenge.contains("qop") {
        let cnonce = "0a4f113b";
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        format!(
            "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
             uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, \
             cnonce=\"{cnonce}\"\r\n"
        )
    } else {
        let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        format!(
            "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
             uri=\"{uri}\", response=\"{response}\", algorithm=MD5\r\n"
        )
    };
    let second = exchange(&sock, server, &request(2, Some(auth))).await?;
    let code = status(&second)?;
    if code == 100 {
        bail!("unexpected provisional answer");
    }
    Ok(code)
}
