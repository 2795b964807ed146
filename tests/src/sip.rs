//! A minimal SIP phone for tests: one REGISTER over UDP, answering a digest challenge the way
//! a phone does (RFC 3261 §22, MD5, `qop=auth` when offered), so a test can tell whether a
//! secret registers. Its Contact carries its own address, as a real phone's does. Also one
//! INVITE the way a phone or a provider sends it (answering a challenge when it has
//! credentials, acknowledging the final answer), and a datagram with a forged source.

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

pub(crate) fn status(response: &str) -> Result<u16> {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status code in the response")
}

pub(crate) async fn exchange(
    sock: &UdpSocket,
    server: SocketAddr,
    request: &str,
) -> Result<String> {
    sock.send_to(request.as_bytes(), server).await?;
    let call_id = header(request, "Call-ID").unwrap_or_default().to_owned();
    let mut buf = vec![0u8; 65_535];
    let mut skipped: Vec<String> = Vec::new();
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .with_context(|| format!("no SIP answer within 5 s (skipped: {skipped:?})"))??;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // Skip what is not the answer: Asterisk's own requests to this address (a trunk is
        // qualified with OPTIONS), answers of other calls, provisional answers (100 Trying).
        if !text.starts_with("SIP/2.0 ") || header(&text, "Call-ID") != Some(call_id.as_str()) {
            skipped.push(text.lines().next().unwrap_or_default().to_owned());
            continue;
        }
        if status(&text)? >= 200 {
            return Ok(text);
        }
    }
}

/// The `Authorization` header answering the challenge in `response` for `method uri`.
pub(crate) fn authorization(
    response: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
) -> Result<String> {
    let challenge = response
        .lines()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("www-authenticate:") || l.starts_with("proxy-authenticate:")
        })
        .context("a challenge without WWW-Authenticate")?;
    let header = if challenge.to_ascii_lowercase().starts_with("proxy") {
        "Proxy-Authorization"
    } else {
        "Authorization"
    };
    let realm = param(challenge, "realm").context("no realm")?;
    let nonce = param(challenge, "nonce").context("no nonce")?;
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    Ok(if challenge.contains("qop") {
        let cnonce = "0a4f113b";
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        format!(
            "{header}: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
             uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, \
             cnonce=\"{cnonce}\"\r\n"
        )
    } else {
        let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        format!(
            "{header}: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
             uri=\"{uri}\", response=\"{response}\", algorithm=MD5\r\n"
        )
    })
}

/// A value of a header line (`To: <sip:x@y>;tag=1` for `To`).
pub(crate) fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// One call attempt: an INVITE from `local` to `number` at `server`, as `from_user` with the
/// User-Agent `user_agent`. When Asterisk challenges and `credentials` (user, password) are
/// given, the INVITE is sent again answering the challenge. Every final answer is
/// acknowledged (a 2xx also hung up), as a phone does. Returns the statuses of the final
/// answers, the first one's first.
pub async fn invite(
    local: SocketAddr,
    server: SocketAddr,
    from_user: &str,
    number: &str,
    credentials: Option<(&str, &str)>,
    user_agent: &str,
) -> Result<Vec<u16>> {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sock = UdpSocket::bind(local).await?;
    let local = sock.local_addr()?;
    let call_id = format!("call-{}-{call}@{}", std::process::id(), local.ip());
    let uri = format!("sip:{number}@{}", server.ip());
    let host = server.ip();
    let from = format!("<sip:{from_user}@{host}>;tag=f{}", local.port());
    let mut statuses = Vec::new();
    let mut auth: Option<String> = None;
    for cseq in 1..=2u32 {
        // Unique per transaction: a reused branch is a retransmission to the server.
        let branch = format!("z9hG4bKi{cseq}x{}x{call}", std::process::id());
        let via = format!("SIP/2.0/UDP {local};branch={branch}");
        let request = format!(
            "INVITE {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
             To: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: <sip:{from_user}@{local}>\r\n{}User-Agent: {user_agent}\r\n\
             Content-Length: 0\r\n\r\n",
            auth.as_deref().unwrap_or_default()
        );
        let answer = exchange(&sock, server, &request).await?;
        let code = status(&answer)?;
        statuses.push(code);
        // The ACK of a final answer: the same branch for a non-2xx (RFC 3261 §17.1.1.3).
        let to = header(&answer, "To").unwrap_or_default().to_owned();
        let ack = format!(
            "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
        );
        sock.send_to(ack.as_bytes(), server).await?;
        if (200..300).contains(&code) {
            let bye = format!(
                "BYE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}b\r\nMax-Forwards: 70\r\n\
                 From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {} BYE\r\n\
                 Content-Length: 0\r\n\r\n",
                cseq + 1
            );
            exchange(&sock, server, &bye).await?;
            break;
        }
        match (code, credentials) {
            (401 | 407, Some((user, password))) => {
                auth = Some(authorization(&answer, "INVITE", &uri, user, password)?);
            }
            _ => break,
        }
    }
    Ok(statuses)
}

/// Sends one UDP datagram whose source is `source`, an address this host does not own (the
/// socket is transparent, which needs CAP_NET_ADMIN): what a spoofing attacker sends.
/// Nothing comes back to the sender: any answer goes to the real owner of `source`.
pub fn send_forged(source: SocketAddr, to: SocketAddr, payload: &[u8]) -> Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(source),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if source.is_ipv4() {
        socket.set_ip_transparent_v4(true)?;
    }
    socket.bind(&source.into())?;
    socket.send_to(payload, &to.into())?;
    Ok(())
}

/// Numbers registrations, so each gets a fresh Call-ID (a registrar ignores a REGISTER whose
/// Call-ID it has seen with a higher CSeq) and fresh branches (a reused one is a
/// retransmission, which the server answers from its transaction without looking at the
/// request again).
static REGISTRATIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// One REGISTER of registration `n` over `transport` (`UDP`, `TCP`).
fn register_request(
    transport: &str,
    local: SocketAddr,
    server: SocketAddr,
    user: &str,
    n: u32,
    cseq: u32,
    auth: Option<&str>,
) -> String {
    let host = server.ip();
    let contact_transport = if transport == "UDP" {
        ""
    } else {
        ";transport=tcp"
    };
    format!(
        "REGISTER sip:{host} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{cseq}x{pid}x{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{host}>;tag=t{cseq}\r\n\
         To: <sip:{user}@{host}>\r\n\
         Call-ID: {pid}-{n}@{}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{local}{contact_transport}>\r\n\
         Expires: 60\r\n\
         User-Agent: sipwarden-test-phone\r\n\
         {}Content-Length: 0\r\n\r\n",
        local.ip(),
        auth.unwrap_or_default(),
        pid = std::process::id(),
    )
}

/// Where a registration's requests go and their answers come from.
enum Channel<'a> {
    /// A UDP socket and the server's address.
    Udp(&'a UdpSocket, SocketAddr),
    /// A TCP connection, with what was read of it beyond the last message.
    Tcp(&'a mut tokio::net::TcpStream, Vec<u8>),
}

impl Channel<'_> {
    /// Sends `request` and returns its final answer.
    async fn exchange(&mut self, request: &str) -> Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (stream, pending) = match self {
            Channel::Udp(sock, server) => return exchange(sock, *server, request).await,
            Channel::Tcp(stream, pending) => (stream, pending),
        };
        stream.write_all(request.as_bytes()).await?;
        loop {
            // One message: its head, then Content-Length bytes of body.
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                let body = header(&head, "Content-Length")
                    .or_else(|| header(&head, "l"))
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(0);
                if pending.len() >= end + 4 + body {
                    pending.drain(..end + 4 + body);
                    if head.starts_with("SIP/2.0 ") && status(&head)? >= 200 {
                        return Ok(head);
                    }
                    continue;
                }
            }
            let mut buf = [0u8; 4096];
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .context("no SIP answer within 5 s")??;
            if read == 0 {
                bail!("the server closed the connection");
            }
            pending.extend_from_slice(&buf[..read]);
        }
    }
}

/// A registration's two steps over `channel`: the REGISTER, then, when challenged, the
/// REGISTER answering the challenge. Returns the final status.
async fn register_over(
    mut channel: Channel<'_>,
    local: SocketAddr,
    server: SocketAddr,
    user: &str,
    password: &str,
) -> Result<u16> {
    let transport = match channel {
        Channel::Udp(..) => "UDP",
        Channel::Tcp(..) => "TCP",
    };
    let n = REGISTRATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let first = channel
        .exchange(&register_request(
            transport, local, server, user, n, 1, None,
        ))
        .await?;
    if status(&first)? != 401 {
        return status(&first);
    }
    let uri = format!("sip:{}", server.ip());
    let auth = authorization(&first, "REGISTER", &uri, user, password)?;
    let second = channel
        .exchange(&register_request(
            transport,
            local,
            server,
            user,
            n,
            2,
            Some(&auth),
        ))
        .await?;
    status(&second)
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
    register_over(Channel::Udp(&sock, server), local, server, user, password).await
}

/// [`register`] from the lab host `from` to Asterisk on the `pbx` host, port 5060: the final
/// status.
pub fn register_in_lab(
    lab: &crate::netns::Lab,
    from: &str,
    user: &str,
    password: &str,
) -> Result<u16> {
    let local = SocketAddr::new(lab.host(from).ipv4.into(), 0);
    let server = SocketAddr::new(lab.host("pbx").ipv4.into(), 5060);
    let (user, password) = (user.to_owned(), password.to_owned());
    lab.ns(from)
        .block_on(async move { register(local, server, &user, &password).await })?
}

/// [`register`] over one TCP connection (a new one per call), from `local`'s address.
pub async fn register_tcp(
    local: std::net::IpAddr,
    server: SocketAddr,
    user: &str,
    password: &str,
) -> Result<u16> {
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(local, 0))?;
    let mut stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(server))
        .await
        .context("no TCP connection within 5 s")??;
    let local = stream.local_addr()?;
    register_over(
        Channel::Tcp(&mut stream, Vec::new()),
        local,
        server,
        user,
        password,
    )
    .await
}
