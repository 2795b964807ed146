//! A tolerant, allocation-free SIP extractor for the guard's hot path.
//!
//! It does not validate SIP; it pulls out the handful of fields the detectors need, from every
//! message Asterisk (pjproject or chan_sip) would accept, and from many it would not. Being
//! more lenient than the PBX is the safe direction: a message the guard cannot read but
//! Asterisk can is a hole an attacker can walk through; a message the guard reads but Asterisk
//! drops only costs a counter.
//!
//! Every field is a slice of the input (`&[u8]`, since attackers send bytes, not UTF-8), so
//! parsing allocates nothing. Work is linear in the input: each byte is looked at a bounded
//! number of times, and nothing rescans earlier lines.

use std::fmt;

/// A SIP method.
///
/// Classified case-insensitively although RFC 3261 makes methods case-sensitive: if some
/// stack treats `register` as `REGISTER`, so must the guard, and counting an odd-case method
/// as the real one costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// `REGISTER`
    Register,
    /// `INVITE`
    Invite,
    /// `OPTIONS`
    Options,
    /// `ACK`
    Ack,
    /// `BYE`
    Bye,
    /// `CANCEL`
    Cancel,
    /// `SUBSCRIBE`
    Subscribe,
    /// `NOTIFY`
    Notify,
    /// `PUBLISH`
    Publish,
    /// `MESSAGE`
    Message,
    /// `REFER`
    Refer,
    /// `INFO`
    Info,
    /// `UPDATE`
    Update,
    /// `PRACK`
    Prack,
    /// Any other token, as sent.
    Other(&'a [u8]),
}

const KNOWN_METHODS: [(&[u8], Method<'static>); 14] = [
    (b"REGISTER", Method::Register),
    (b"INVITE", Method::Invite),
    (b"OPTIONS", Method::Options),
    (b"ACK", Method::Ack),
    (b"BYE", Method::Bye),
    (b"CANCEL", Method::Cancel),
    (b"SUBSCRIBE", Method::Subscribe),
    (b"NOTIFY", Method::Notify),
    (b"PUBLISH", Method::Publish),
    (b"MESSAGE", Method::Message),
    (b"REFER", Method::Refer),
    (b"INFO", Method::Info),
    (b"UPDATE", Method::Update),
    (b"PRACK", Method::Prack),
];

impl<'a> Method<'a> {
    /// Classifies a method token (case-insensitively).
    pub fn parse(token: &'a [u8]) -> Self {
        for (name, method) in KNOWN_METHODS {
            if token.eq_ignore_ascii_case(name) {
                return method;
            }
        }
        Method::Other(token)
    }

    /// The method's name: the canonical upper-case spelling, or the token as sent for `Other`.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Method::Other(token) => token,
            known => KNOWN_METHODS
                .iter()
                .find(|(_, m)| m == known)
                .map_or(b"?", |(name, _)| name),
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `METHOD Request-URI SIP/2.0`
    Request {
        /// The method.
        method: Method<'a>,
        /// The Request-URI as sent.
        uri: &'a [u8],
    },
    /// `SIP/2.0 code reason`
    Response {
        /// The status code (100..=999 as sent; not range-checked beyond three digits).
        status: u16,
        /// The reason phrase as sent (may be empty).
        reason: &'a [u8],
    },
}

/// The `CSeq` header: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (0 if it did not fit in 32 bits).
    pub number: u32,
    /// The method the sequence number belongs to.
    pub method: Method<'a>,
}

/// A `From`/`To` party: its URI and the URI's user part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party<'a> {
    /// The URI as sent (inside `<...>` when bracketed).
    pub uri: &'a [u8],
    /// The user part of a `sip:`/`sips:` URI, or the number of a `tel:` URI.
    pub user: Option<&'a [u8]>,
}

/// An `Authorization` or `Proxy-Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// True for `Proxy-Authorization`.
    pub proxy: bool,
    /// The scheme token, normally `Digest`.
    pub scheme: &'a [u8],
    /// The `username=` parameter, without quotes (escapes are left as sent).
    pub username: Option<&'a [u8]>,
    /// The `nonce=` parameter: which challenge the sender answers.
    pub nonce: Option<&'a [u8]>,
}

/// The topmost `Via` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport token (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, ...).
    pub transport: &'a [u8],
    /// The sent-by host (IPv6 without brackets).
    pub host: &'a [u8],
    /// The sent-by port, when present and numeric.
    pub port: Option<u16>,
    /// The `branch=` parameter.
    pub branch: Option<&'a [u8]>,
}

/// What the extractor read from one message. Every slice borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipMessage<'a> {
    /// Request or response line.
    pub start: StartLine<'a>,
    /// The Request-URI's user part (requests only).
    pub request_user: Option<&'a [u8]>,
    /// The first `Call-ID` (`i:`).
    pub call_id: Option<&'a [u8]>,
    /// The first `CSeq`.
    pub cseq: Option<CSeq<'a>>,
    /// The first `From` (`f:`).
    pub from: Option<Party<'a>>,
    /// The first `To` (`t:`).
    pub to: Option<Party<'a>>,
    /// The first `User-Agent`, raw (a folded value keeps its line break).
    pub user_agent: Option<&'a [u8]>,
    /// The first `Server` (what responses carry instead of `User-Agent`).
    pub server: Option<&'a [u8]>,
    /// The first `Authorization`/`Proxy-Authorization` header, preferring one with a username.
    pub credentials: Option<Credentials<'a>>,
    /// The host of the first `Contact` (`m:`) URI; `None` for `*` or no Contact.
    pub contact_host: Option<&'a [u8]>,
    /// The topmost `Via` (`v:`).
    pub via: Option<Via<'a>>,
    /// A `WWW-Authenticate`/`Proxy-Authenticate` challenge carries `stale=true`.
    pub stale_nonce: bool,
    /// The `nonce=` of the first challenge (`WWW-Authenticate`/`Proxy-Authenticate`).
    pub challenge_nonce: Option<&'a [u8]>,
    /// The first `Content-Length` (`l:`), when it is a valid number.
    pub content_length: Option<usize>,
    /// The body: what follows the blank line, cut to `Content-Length` when that is shorter.
    pub body: &'a [u8],
}

impl<'a> SipMessage<'a> {
    /// The request method, for requests.
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for responses.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The From user part.
    pub fn from_user(&self) -> Option<&'a [u8]> {
        self.from.and_then(|p| p.user)
    }

    /// The To user part.
    pub fn to_user(&self) -> Option<&'a [u8]> {
        self.to.and_then(|p| p.user)
    }

    /// The `username=` of the credentials, if any were sent.
    pub fn auth_username(&self) -> Option<&'a [u8]> {
        self.credentials.and_then(|c| c.username)
    }
}

/// Why bytes could not be read as a SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// Nothing but line breaks and blanks: a keep-alive, not a message.
    #[error("no message (keep-alive or empty)")]
    Empty,
    /// The first line is neither `METHOD URI SIP/x` nor `SIP/x code reason`.
    #[error("first line is not a SIP request or status line")]
    BadStartLine,
}

/// True when `bytes` is a keep-alive (RFC 5626 CRLF ping/pong, or blanks some NATs send).
pub fn is_keepalive(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
}

/// Reads one SIP message from a UDP datagram (or a frame cut by [`crate::guard::stream`]).
///
/// Tolerates: leading line breaks, LF-only line ends, blanks around `:`, any case in header
/// names, compact names (`v f t i m l`), folded continuation lines, a missing blank line at
/// the end, non-UTF-8 bytes. Never panics.
pub fn parse_message(input: &[u8]) -> Result<SipMessage<'_>, SipError> {
    // RFC 3261 §7.5: implementations should ignore line breaks before the start line; pjsip
    // does, and keep-alives arrive that way on streams.
    let mut pos = input
        .iter()
        .position(|&b| !matches!(b, b'\r' | b'\n'))
        .ok_or(SipError::Empty)?;
    let (line, next) = next_line(input, pos);
    if is_keepalive(line) && next >= input.len() {
        return Err(SipError::Empty);
    }
    let start = parse_start_line(line)?;
    let request_user = match start {
        StartLine::Request { uri, .. } => uri_user(uri),
        StartLine::Response { .. } => None,
    };
    let mut msg = SipMessage {
        start,
        request_user,
        call_id: None,
        cseq: None,
        from: None,
        to: None,
        user_agent: None,
        server: None,
        credentials: None,
        contact_host: None,
        via: None,
        stale_nonce: false,
        challenge_nonce: None,
        content_length: None,
        body: &[],
    };
    pos = next;

    // (name, value start, value end) of the header being read; a continuation line extends
    // its end, so folded values are one slice with the line break inside.
    let mut current: Option<(&[u8], usize, usize)> = None;
    let mut body_start = input.len();
    while pos < input.len() {
        let (line, next) = next_line(input, pos);
        let line_start = pos;
        pos = next;
        if line.is_empty() {
            body_start = next;
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            // RFC 3261 §7.3.1 line folding: a line starting with blanks continues the
            // previous header. Dropping it instead would let `User-Agent:\r\n friendly-scanner`
            // hide a fingerprint.
            if let Some((_, _, end)) = current.as_mut() {
                *end = line_start + line.len();
            }
            continue;
        }
        if let Some((name, from, to)) = current.take() {
            dispatch(&mut msg, name, &input[from..to]);
        }
        // A line without a colon is garbage; pjsip would reject the message, the guard
        // skips the line and keeps reading what it can.
        if let Some(colon) = find_byte(line, b':') {
            // Blanks between the name and the colon are legal (HCOLON = *( SP / HTAB ) ":").
            let name = trim(&line[..colon]);
            current = Some((name, line_start + colon + 1, line_start + line.len()));
        }
    }
    if let Some((name, from, to)) = current.take() {
        dispatch(&mut msg, name, &input[from..to]);
    }
    let body = input.get(body_start..).unwrap_or(&[]);
    msg.body = match msg.content_length {
        Some(len) if len < body.len() => &body[..len],
        _ => body,
    };
    Ok(msg)
}

/// Position of the first `needle` in `hay`, eight bytes at a time (the extractor spends most
/// of its time looking for line ends; this is what keeps it above a million messages a second
/// without a memchr dependency).
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // The lowest flagged byte is exactly the first zero byte of x (borrows only travel
        // upwards, so false positives can only appear above a true one).
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| offset + p)
}

/// Returns the line at `pos` (without `\n` or `\r\n`) and the position after it.
fn next_line(input: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = &input[pos..];
    match find_byte(rest, b'\n') {
        Some(nl) => {
            let line = &rest[..nl];
            // LF-only line ends are accepted (pjsip does); a CR before LF is dropped.
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (line, pos + nl + 1)
        }
        None => (rest.strip_suffix(b"\r").unwrap_or(rest), input.len()),
    }
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, SipError> {
    let mut words = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    let first = words.next().ok_or(SipError::BadStartLine)?;
    if starts_with_ignore_case(first, b"SIP/") {
        let code = words.next().ok_or(SipError::BadStartLine)?;
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(SipError::BadStartLine);
        }
        let status = code
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        // The reason phrase is everything after the code, blanks included.
        let reason = match subslice_offset(line, code) {
            Some(off) => trim(&line[off + code.len()..]),
            None => &[],
        };
        return Ok(StartLine::Response { status, reason });
    }
    let uri = words.next().ok_or(SipError::BadStartLine)?;
    let version = words.next().ok_or(SipError::BadStartLine)?;
    if !starts_with_ignore_case(version, b"SIP/") || !first.iter().all(|&b| is_token(b)) {
        return Err(SipError::BadStartLine);
    }
    Ok(StartLine::Request {
        method: Method::parse(first),
        uri,
    })
}

/// Offset of `part` inside `whole`, when `part` is a subslice of it.
fn subslice_offset(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Header {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    ContentLength,
    UserAgent,
    Server,
    Authorization,
    ProxyAuthorization,
    Challenge,
    Other,
}

/// Maps a header name to the headers the guard reads. Names are case-insensitive
/// (RFC 3261 §7.3.1) and have compact one-letter forms (§7.3.3, table in §20).
fn header_kind(name: &[u8]) -> Header {
    let is = |canonical: &[u8]| name.eq_ignore_ascii_case(canonical);
    match name.len() {
        1 => match name[0].to_ascii_lowercase() {
            b'v' => Header::Via,
            b'f' => Header::From,
            b't' => Header::To,
            b'i' => Header::CallId,
            b'm' => Header::Contact,
            b'l' => Header::ContentLength,
            _ => Header::Other,
        },
        2 if is(b"to") => Header::To,
        3 if is(b"via") => Header::Via,
        4 if is(b"from") => Header::From,
        4 if is(b"cseq") => Header::CSeq,
        6 if is(b"server") => Header::Server,
        7 if is(b"call-id") => Header::CallId,
        7 if is(b"contact") => Header::Contact,
        10 if is(b"user-agent") => Header::UserAgent,
        13 if is(b"authorization") => Header::Authorization,
        14 if is(b"content-length") => Header::ContentLength,
        16 if is(b"www-authenticate") => Header::Challenge,
        18 if is(b"proxy-authenticate") => Header::Challenge,
        19 if is(b"proxy-authorization") => Header::ProxyAuthorization,
        _ => Header::Other,
    }
}

/// Stores what one header says. The first occurrence wins for single-valued headers, as in
/// pjsip's message lookups; later duplicates are ignored.
fn dispatch<'a>(msg: &mut SipMessage<'a>, name: &'a [u8], value: &'a [u8]) {
    let value = trim(value);
    match header_kind(name) {
        Header::Via => {
            if msg.via.is_none() {
                msg.via = parse_via(value);
            }
        }
        Header::From => {
            if msg.from.is_none() {
                msg.from = Some(parse_party(value));
            }
        }
        Header::To => {
            if msg.to.is_none() {
                msg.to = Some(parse_party(value));
            }
        }
        Header::CallId => {
            if msg.call_id.is_none() && !value.is_empty() {
                msg.call_id = Some(value);
            }
        }
        Header::CSeq => {
            if msg.cseq.is_none() {
                msg.cseq = parse_cseq(value);
            }
        }
        Header::Contact => {
            if msg.contact_host.is_none() {
                msg.contact_host = contact_host(value);
            }
        }
        Header::ContentLength => {
            if msg.content_length.is_none() {
                msg.content_length = parse_decimal(value);
            }
        }
        Header::UserAgent => {
            if msg.user_agent.is_none() {
                msg.user_agent = Some(value);
            }
        }
        Header::Server => {
            if msg.server.is_none() {
                msg.server = Some(value);
            }
        }
        Header::Authorization | Header::ProxyAuthorization => {
            // Several credentials may be sent (one per realm). Keep the first one that names
            // a user, so a username-less decoy header cannot hide the one Asterisk checks.
            let creds = parse_credentials(value, header_kind(name) == Header::ProxyAuthorization);
            let better = match msg.credentials {
                None => true,
                Some(old) => old.username.is_none() && creds.username.is_some(),
            };
            if better {
                msg.credentials = Some(creds);
            }
        }
        Header::Challenge => {
            // Asterisk re-challenges a correct response whose nonce expired with
            // `stale=true`; phones then retry at once. Counting that as a wrong password
            // would ban whole offices at every re-registration.
            for (name, v) in auth_params(value) {
                if name.eq_ignore_ascii_case(b"stale") && v.eq_ignore_ascii_case(b"true") {
                    msg.stale_nonce = true;
                } else if name.eq_ignore_ascii_case(b"nonce") && msg.challenge_nonce.is_none() {
                    // The nonce is what proves a later answer came from this address (the
                    // guard remembers which nonces Asterisk sent where).
                    msg.challenge_nonce = Some(v);
                }
            }
        }
        Header::Other => {}
    }
}

/// Reads a decimal number, tolerating surrounding blanks; `None` when not a plain number.
pub(crate) fn parse_decimal(value: &[u8]) -> Option<usize> {
    let value = trim(value);
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    value.iter().try_fold(0usize, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(usize::from(b - b'0'))
        } else {
            None
        }
    })
}

fn parse_cseq(value: &[u8]) -> Option<CSeq<'_>> {
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let number = parse_decimal(&value[..digits])
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    let method = trim(&value[digits..]);
    let end = method
        .iter()
        .position(|&b| is_lws(b))
        .unwrap_or(method.len());
    let method = &method[..end];
    if method.is_empty() {
        return None;
    }
    Some(CSeq {
        number,
        method: Method::parse(method),
    })
}

/// Splits a `From`/`To`/`Contact` value into its URI (name-addr or addr-spec form).
fn addr_uri(value: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'"' => {
                // A quoted display name may contain `<`, `;` or `,`; skip it whole, honouring
                // backslash escapes, so `"<sip:evil@x>" <sip:1001@pbx>` yields 1001.
                i += 1;
                while i < value.len() && value[i] != b'"' {
                    i += if value[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'<' => {
                let inner = &value[i + 1..];
                let end = inner.iter().position(|&b| b == b'>').unwrap_or(inner.len());
                return trim(&inner[..end]);
            }
            _ => i += 1,
        }
    }
    // addr-spec without brackets: RFC 3261 §20.10 says parameters after it belong to the
    // header, so the URI ends at the first `;`, `,` or blank.
    let end = value
        .iter()
        .position(|&b| b == b';' || b == b',' || is_lws(b))
        .unwrap_or(value.len());
    &value[..end]
}

fn parse_party(value: &[u8]) -> Party<'_> {
    let uri = addr_uri(value);
    Party {
        uri,
        user: uri_user(uri),
    }
}

/// The user part of a URI: `sip:USER@host`, `sips:USER:password@host`, or `tel:NUMBER`.
pub(crate) fn uri_user(uri: &[u8]) -> Option<&[u8]> {
    let colon = uri.iter().position(|&b| b == b':')?;
    let (scheme, rest) = (&uri[..colon], &uri[colon + 1..]);
    let user = if scheme.eq_ignore_ascii_case(b"tel") {
        let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
        &rest[..end]
    } else {
        let at = rest.iter().position(|&b| b == b'@')?;
        let userinfo = &rest[..at];
        let end = userinfo
            .iter()
            .position(|&b| b == b':')
            .unwrap_or(userinfo.len());
        &userinfo[..end]
    };
    (!user.is_empty()).then_some(user)
}

/// The host of a URI (IPv6 without brackets).
fn uri_host(uri: &[u8]) -> Option<&[u8]> {
    let colon = uri.iter().position(|&b| b == b':')?;
    let rest = &uri[colon + 1..];
    let rest = match rest.iter().position(|&b| b == b'@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    host_port(rest).map(|(host, _)| host)
}

/// Splits `host[:port]...` (stopping at `;`, `?`, `>`, `,` or a blank).
fn host_port(s: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let (host, after) = if let Some(inner) = s.strip_prefix(b"[") {
        let close = inner.iter().position(|&b| b == b']')?;
        (&inner[..close], &inner[close + 1..])
    } else {
        let end = s
            .iter()
            .position(|&b| matches!(b, b':' | b';' | b'?' | b'>' | b',') || is_lws(b))
            .unwrap_or(s.len());
        (&s[..end], &s[end..])
    };
    if host.is_empty() {
        return None;
    }
    let port = after.strip_prefix(b":").and_then(|p| {
        let digits = p.iter().take_while(|b| b.is_ascii_digit()).count();
        parse_decimal(&p[..digits]).and_then(|n| u16::try_from(n).ok())
    });
    Some((host, port))
}

fn contact_host(value: &[u8]) -> Option<&[u8]> {
    if value.first() == Some(&b'*') {
        return None;
    }
    uri_host(addr_uri(value))
}

/// Reads the topmost Via value: `SIP / 2.0 / UDP host:port;branch=...` (blanks around the
/// slashes are legal, RFC 3261 §25.1 SLASH = SWS "/" SWS).
fn parse_via(value: &[u8]) -> Option<Via<'_>> {
    let mut slashes = 0;
    let mut i = 0;
    while i < value.len() && slashes < 2 {
        if value[i] == b'/' {
            slashes += 1;
        }
        i += 1;
    }
    if slashes < 2 {
        return None;
    }
    let rest = trim_start(&value[i..]);
    let t_end = rest.iter().position(|&b| is_lws(b)).unwrap_or(rest.len());
    let transport = &rest[..t_end];
    let sent_by = trim_start(&rest[t_end..]);
    let (host, port) = host_port(sent_by)?;
    // Parameters run to the end of the first Via value (a `,` starts the next one).
    let value_end = sent_by
        .iter()
        .position(|&b| b == b',')
        .unwrap_or(sent_by.len());
    let branch = sent_by[..value_end]
        .split(|&b| b == b';')
        .skip(1)
        .find_map(|param| {
            let (name, val) = split_param(param);
            name.eq_ignore_ascii_case(b"branch").then_some(val?)
        });
    Some(Via {
        transport,
        host,
        port,
        branch,
    })
}

fn split_param(param: &[u8]) -> (&[u8], Option<&[u8]>) {
    match param.iter().position(|&b| b == b'=') {
        Some(eq) => (trim(&param[..eq]), Some(trim(&param[eq + 1..]))),
        None => (trim(param), None),
    }
}

/// Reads `Digest username="x", realm=...`: the scheme and the `username` parameter.
fn parse_credentials(value: &[u8], proxy: bool) -> Credentials<'_> {
    let s_end = value.iter().position(|&b| is_lws(b)).unwrap_or(value.len());
    let mut creds = Credentials {
        proxy,
        scheme: &value[..s_end],
        username: None,
        nonce: None,
    };
    for (name, v) in auth_params(value) {
        if name.eq_ignore_ascii_case(b"username") {
            creds.username.get_or_insert(v);
        } else if name.eq_ignore_ascii_case(b"nonce") {
            creds.nonce.get_or_insert(v);
        }
    }
    creds
}

/// Iterates the `name=value` parameters of an auth header (after the scheme), in one pass;
/// quoted values may contain `,` and `=` and come back without their quotes.
fn auth_params(value: &[u8]) -> AuthParams<'_> {
    let s_end = value.iter().position(|&b| is_lws(b)).unwrap_or(value.len());
    AuthParams { value, i: s_end }
}

struct AuthParams<'a> {
    value: &'a [u8],
    i: usize,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let value = self.value;
        let mut i = self.i;
        while i < value.len() {
            while i < value.len() && (is_lws(value[i]) || value[i] == b',') {
                i += 1;
            }
            let name_start = i;
            while i < value.len() && value[i] != b'=' && value[i] != b',' && !is_lws(value[i]) {
                i += 1;
            }
            let name = &value[name_start..i];
            while i < value.len() && is_lws(value[i]) {
                i += 1;
            }
            if i >= value.len() || value[i] != b'=' {
                continue;
            }
            i += 1;
            while i < value.len() && is_lws(value[i]) {
                i += 1;
            }
            let param_value = if value.get(i) == Some(&b'"') {
                let start = i + 1;
                i = start;
                while i < value.len() && value[i] != b'"' {
                    i += if value[i] == b'\\' { 2 } else { 1 };
                }
                let v = &value[start..i.min(value.len())];
                i += 1;
                v
            } else {
                let start = i;
                while i < value.len() && value[i] != b',' && !is_lws(value[i]) {
                    i += 1;
                }
                &value[start..i]
            };
            self.i = i;
            return Some((name, param_value));
        }
        self.i = value.len();
        None
    }
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 token characters (for the method).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn trim_start(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    &s[start..]
}

/// Trims blanks and line breaks (a folded value may end or start with them).
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let s = trim_start(s);
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(0, |e| e + 1);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for needle in 0..=255u8 {
            for start in [0, 1, 7, 8, 9, 100] {
                let h = &hay[start..];
                assert_eq!(find_byte(h, needle), h.iter().position(|&b| b == needle));
            }
        }
        assert_eq!(find_byte(b"\x80\x81\n", b'\n'), Some(2));
        assert_eq!(find_byte(b"\x01\x00abcdefgh", 0), Some(1));
    }

    const REGISTER: &[u8] = b"REGISTER sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:1001@pbx.example.com>;tag=1928301774\r\n\
To: <sip:1001@pbx.example.com>\r\n\
Call-ID: a84b4c76e66710@198.51.100.7\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:1001@198.51.100.7:5062;transport=udp>\r\n\
Authorization: Digest username=\"x7f3k2\", realm=\"asterisk\", nonce=\"abc\", uri=\"sip:pbx.example.com\", response=\"00\"\r\n\
User-Agent: Yealink SIP-T46S 66.86.0.15\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn a_plain_register_yields_every_field() {
        let m = parse_message(REGISTER).unwrap();
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(m.request_user, None);
        assert_eq!(m.from_user(), Some(&b"1001"[..]));
        assert_eq!(m.to_user(), Some(&b"1001"[..]));
        assert_eq!(m.call_id, Some(&b"a84b4c76e66710@198.51.100.7"[..]));
        assert_eq!(
            m.cseq,
            Some(CSeq {
                number: 2,
                method: Method::Register
            })
        );
        assert_eq!(m.auth_username(), Some(&b"x7f3k2"[..]));
        assert_eq!(m.credentials.unwrap().scheme, b"Digest");
        assert_eq!(m.contact_host, Some(&b"198.51.100.7"[..]));
        let via = m.via.unwrap();
        assert_eq!(via.transport, b"UDP");
        assert_eq!(via.host, b"198.51.100.7");
        assert_eq!(via.port, Some(5062));
        assert_eq!(via.branch, Some(&b"z9hG4bK776asdhds"[..]));
        assert_eq!(m.user_agent, Some(&b"Yealink SIP-T46S 66.86.0.15"[..]));
        assert_eq!(m.content_length, Some(0));
    }

    #[test]
    fn a_response_yields_status_and_cseq_method() {
        let m = parse_message(
            b"SIP/2.0 401 Unauthorized\r\nCSeq: 1 INVITE\r\nCall-ID: x\r\nServer: Asterisk PBX 22.1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(m.status(), Some(401));
        assert!(matches!(m.start, StartLine::Response { reason, .. } if reason == b"Unauthorized"));
        assert_eq!(m.cseq.unwrap().method, Method::Invite);
        assert_eq!(m.server, Some(&b"Asterisk PBX 22.1"[..]));
    }

    #[test]
    fn keepalives_are_not_messages() {
        assert!(is_keepalive(b"\r\n\r\n"));
        assert_eq!(parse_message(b"\r\n\r\n"), Err(SipError::Empty));
        assert_eq!(parse_message(b""), Err(SipError::Empty));
    }
}
