//! Reading Asterisk's log files for security events (pure: the caller follows the file).
//!
//! When sipwarden does not manage the PBX it can still follow Asterisk's log, as fail2ban
//! does. [`parse_log_line`] turns one line into the same [`SecurityEvent`] the AMI reader
//! makes, so the caller goes on with [`SecurityEvent::observation`]. Two kinds of line count:
//!
//! - `res_security_log` lines (level `SECURITY`): `SecurityEvent="InvalidAccountID",
//!   EventTV="…",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="1001",
//!   SessionID="…",LocalAddress="IPV4/UDP/192.0.2.5/5060",RemoteAddress="IPV4/UDP/…/5071"`
//!   then the event type's own fields;
//! - `NOTICE` lines of `res_pjsip/pjsip_distributor.c` (`Request 'REGISTER' from '…' failed
//!   for '203.0.113.7:5071' (callid: …) - No matching endpoint found`), of `chan_sip.c`
//!   (`Registration from '…' failed for '…' - Wrong password`, `Call from '…' (…) to
//!   extension '…' rejected because extension not found in context '…'.`) and of
//!   `manager.c` (`203.0.113.7 failed to authenticate as 'admin'`).
//!
//! The [`LineOrigin`] tells them apart: a file that carries both reports one failure twice,
//! so the caller drops `Notice` lines once it has seen a `SecurityLog` one.
//!
//! # Whom to believe
//!
//! A log line mixes text Asterisk wrote with text an attacker chose. `res_security_log` does
//! not escape values, so an `AccountID` (a percent-decoded SIP user), a `SessionID` (the
//! Call-ID), and the free fields after the addresses (`RequestType`, `RequestParams`,
//! `Challenge`, `Response`, `ReceivedChallenge`, `ReceivedHash`, …) can all hold
//! `",RemoteAddress="IPV4/UDP/198.51.100.1/5060` to frame an innocent address. The rule here:
//! **an event is attributed to an address only if no attacker could have written it there.**
//! The anchors, and why each holds:
//!
//! 1. *The header decides.* `main/logger.c` writes `[date] LEVEL[lwp][C-…] file: ` (file
//!    channel), `LEVEL[lwp][C-…]: file:line in function: ` (syslog, after syslogd's own
//!    `date host tag[pid]: `) or `[date] LEVEL[lwp]: file:line function: ` (the `plain`
//!    formatter) *before* the message, so the level and the source file are Asterisk's. The
//!    header is read strictly from the first byte and never searched for: a message of
//!    another module that merely contains `SecurityEvent="…"` stays another module's message.
//! 2. *The left prefix is Asterisk's.* `res_security_log.c` writes `SecurityEvent`, then the
//!    required fields in the table order of `main/security_events.c`, then the optional ones.
//!    `EventTV`, `Severity`, `Service` and `EventVersion` come before the first attacker
//!    value (`AccountID`) and have strict shapes, so the event type, and with it the exact
//!    list of fields that must follow, is known before any attacker byte.
//! 3. *Addresses have a strict shape.* `LocalAddress` and `RemoteAddress` are written by
//!    `ast_json_ipaddr`: `IPV4|IPV6/[UDP|TCP|TLS|WS|WSS/]addr/port`, never a quote.
//! 4. *The true structure is always there.* Whatever an attacker writes into the free
//!    values, the line still contains the fields Asterisk wrote, in their order. Every way
//!    of reading the line against the event type's field list (free values matching anything,
//!    strict values only their shape) is therefore a *candidate*, and the true reading is one
//!    of them. The parser finds all candidates for `RemoteAddress` in one backward pass (a
//!    dynamic programme over the field list, no allocation); if they all name the same
//!    address that address is the true one, otherwise the line is [`LogLineError::Ambiguous`].
//!    So an injected `RemoteAddress` in `AccountID` or `SessionID` is refused because what
//!    follows it cannot be read as the event's own tail; one in a free field after the true
//!    address (a `Response`, say) makes the line ambiguous, never wrong.
//! 5. *Lines are whole.* The logger formats a line into an 8192-byte buffer
//!    (`LOGMSG_SIZE`): a longer one loses its end, and with it its newline, so the next line
//!    is glued to it. A cut line can end in attacker text that looks like a whole tail, so a
//!    line whose Asterisk part reaches the limit is refused ([`Unreadable::Truncated`]). A
//!    syslog relay may cut earlier (rsyslog's default is 8 KiB, RFC 3164 relays 1 KiB):
//!    give [`parse_log_line_within`] that relay's limit.
//! 6. *NOTICE lines are read from the side the attacker cannot reach.* `chan_sip`'s
//!    `Registration from '<To>' failed for '<addr>' - <reason>` ends in a reason from a fixed
//!    list and the address written just before it, so it is read from the right. PJSIP's
//!    `Request '<method>' from '<From>' failed for '<addr>' (callid: <Call-ID>) - <reason>` has
//!    attacker text on both sides of the address (the From display name, the Call-ID), so it
//!    gets the same candidate count as rule 4: every `' failed for '<addr>' (callid: ` between
//!    the From and the fixed tail is a candidate. `manager.c` writes the address first.
//!
//! What this cannot see: a line break *inside* a value. Asterisk writes values raw, so a value
//! holding one ends the physical line there (the logger's header still in front, the real
//! addresses pushed to the next line) and starts the next one with attacker text. Either line
//! could then be finished by the attacker. For PJSIP this is out of reach: the only
//! attacker-named account (`InvalidAccountID`'s From user, percent-decoded) is cut to 36
//! bytes (`AST_UUID_STR_LEN`), too short to hold a `LocalAddress` and a `RemoteAddress`
//! (finishing the first line) or the strict prefix of rule 2 (forging the next); the Call-ID,
//! the digest fields and AMI values cannot hold a line break (pjsip and AMI read them line by
//! line). `chan_sip` (Asterisk 20 and older) names the percent-decoded To user as `AccountID`
//! with no length limit when `pedantic=yes`, so an attacker can finish or forge a line there:
//! on such a PBX read AMI, or set `pedantic=no`. The caller must pass whole lines only (a
//! line the file does not yet end with a newline is not finished).

use std::net::{IpAddr, SocketAddr};

use super::ami::{EventAddress, SecurityEvent, parse_event_address};
use super::observation::{SecurityKind, Transport};

/// The longest line Asterisk's logger writes whole: it formats into `LOGMSG_SIZE` (8192)
/// bytes, the newline included, so a line of 8191 bytes or more (without its newline) may
/// have been cut.
pub const ASTERISK_LINE_LIMIT: usize = 8190;

/// Which kind of line an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineOrigin {
    /// A `res_security_log` line (level `SECURITY`).
    SecurityLog,
    /// A `NOTICE` line of `pjsip_distributor.c`, `chan_sip.c` or `manager.c`. The same failure
    /// also raises a security event, so once the file has shown `SecurityLog` lines these
    /// would count it twice.
    Notice,
}

/// A security event read from one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEvent<'a> {
    /// The event, borrowed from the line (as the AMI reader makes it).
    pub event: SecurityEvent<'a>,
    /// Which kind of line it came from.
    pub origin: LineOrigin,
}

/// Why a line yields no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogLineError {
    /// Not a security line, nor a NOTICE line of interest (most lines of a log).
    #[error("not a line of interest")]
    NotOfInterest,
    /// A security line (or a NOTICE line of interest) that cannot be read.
    #[error("unreadable security line: {0}")]
    Unreadable(Unreadable),
    /// More than one reading of the line names a different remote address: attacker text
    /// imitates the line's own fields. No address is named rather than a guessed one.
    #[error("ambiguous line: attacker text admits more than one remote address")]
    Ambiguous,
}

/// Why a line of interest cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// The line reaches the logger's (or the relay's) size limit and may have lost its end.
    #[error("the line reaches the size limit and may have been cut")]
    Truncated,
    /// The line holds a NUL byte, which Asterisk never writes (a damaged file).
    #[error("the line holds a NUL byte")]
    Nul,
    /// `SecurityEvent` names no known event type.
    #[error("unknown event type")]
    UnknownEvent,
    /// A field Asterisk writes before any attacker value is missing or malformed.
    #[error("field {0} is missing or malformed")]
    Field(&'static str),
    /// No reading of the line yields a well-formed `RemoteAddress` (or NOTICE address).
    #[error("no remote address")]
    NoRemoteAddress,
    /// A NOTICE line of the right module whose reason is not in Asterisk's list.
    #[error("unknown NOTICE reason")]
    UnknownReason,
}

/// Reads one line of an Asterisk log (file channel, syslog or journald; a trailing CR/LF is
/// ignored), refusing lines whose Asterisk part is longer than [`ASTERISK_LINE_LIMIT`].
///
/// # Errors
///
/// [`LogLineError::NotOfInterest`] for other lines, [`LogLineError::Unreadable`] for a line
/// of interest that cannot be read, [`LogLineError::Ambiguous`] when attacker text leaves
/// more than one remote address possible.
pub fn parse_log_line(line: &[u8]) -> Result<LogEvent<'_>, LogLineError> {
    parse_log_line_within(line, ASTERISK_LINE_LIMIT)
}

/// As [`parse_log_line`], refusing lines whose Asterisk part (the line without the syslog
/// prefix) is longer than `limit` bytes: give the smallest limit of the logger and every
/// relay in between, since a cut line can end in attacker text.
///
/// # Errors
///
/// As [`parse_log_line`].
pub fn parse_log_line_within(line: &[u8], limit: usize) -> Result<LogEvent<'_>, LogLineError> {
    let line = trim_line_end(line);
    let Some(header) = read_header(line) else {
        return Err(LogLineError::NotOfInterest);
    };
    let interest = match (header.level, header.file) {
        (b"SECURITY", b"res_security_log.c") => Interest::Security,
        (b"NOTICE", b"res_pjsip/pjsip_distributor.c" | b"pjsip_distributor.c") => Interest::Pjsip,
        (b"NOTICE", b"chan_sip.c") => Interest::ChanSip,
        (b"NOTICE", b"manager.c") => Interest::Manager,
        _ => return Err(LogLineError::NotOfInterest),
    };
    if line.len() - header.asterisk_start > limit {
        return Err(LogLineError::Unreadable(Unreadable::Truncated));
    }
    if line.contains(&0) {
        return Err(LogLineError::Unreadable(Unreadable::Nul));
    }
    let message = &line[header.message_start..];
    let (event, origin) = match interest {
        Interest::Security => (read_security(message)?, LineOrigin::SecurityLog),
        Interest::Pjsip => (read_pjsip_notice(message)?, LineOrigin::Notice),
        Interest::ChanSip => (read_chan_sip_notice(message)?, LineOrigin::Notice),
        Interest::Manager => (read_manager_notice(message)?, LineOrigin::Notice),
    };
    Ok(LogEvent { event, origin })
}

enum Interest {
    Security,
    Pjsip,
    ChanSip,
    Manager,
}

fn trim_line_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

// ---------------------------------------------------------------------------------------------
// The header

/// What the logger (and syslogd) wrote before the message.
struct Header<'a> {
    /// Where the logger's own text starts (after a syslog prefix).
    asterisk_start: usize,
    level: &'a [u8],
    file: &'a [u8],
    message_start: usize,
}

/// Reads the header strictly from the line's start. Everything it reads precedes the
/// message, so none of it is attacker text.
fn read_header(line: &[u8]) -> Option<Header<'_>> {
    let start = if line.first() == Some(&b'[') || starts_with_level(line) {
        0
    } else {
        syslog_prefix_len(line)?
    };
    let mut c = Cursor::new(line, start);
    if c.peek() == Some(b'[') {
        // File channel: `[date] `. The date format is the admin's (`dateformat`), so take
        // anything up to the first `]` within a sane length.
        c.pos += 1;
        let len = c.rest().iter().take(80).position(|&b| b == b']')?;
        if len == 0 {
            return None;
        }
        c.pos += len + 1;
        c.expect(b" ")?;
    }
    let level = c.take_while(|b| b.is_ascii_uppercase());
    if level.is_empty() {
        return None;
    }
    c.expect(b"[")?;
    if c.take_while(|b| b.is_ascii_digit()).is_empty() {
        return None;
    }
    c.expect(b"]")?;
    if c.eat(b"[C-") {
        let id = c.take_while(|b| b.is_ascii_hexdigit());
        if id.len() != 8 {
            return None;
        }
        c.expect(b"]")?;
    }
    let file;
    if c.eat(b": ") {
        // `file:line in function: ` (syslog) or `file:line function: ` (plain formatter).
        file = c.take_while(|b| b != b':' && b != b' ');
        c.expect(b":")?;
        if c.take_while(|b| b.is_ascii_digit()).is_empty() {
            return None;
        }
        c.expect(b" ")?;
        c.eat(b"in ");
        if c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_')
            .is_empty()
        {
            return None;
        }
        c.expect(b": ")?;
    } else {
        c.expect(b" ")?;
        file = c.take_while(|b| b != b':' && b != b' ');
        c.expect(b": ")?;
    }
    if file.is_empty() {
        return None;
    }
    Some(Header {
        asterisk_start: start,
        level,
        file,
        message_start: c.pos,
    })
}

/// `SECURITY[`, `NOTICE[`: the logger's part begins right at the line's start (journald's
/// `-o cat`, or a bare message).
fn starts_with_level(line: &[u8]) -> bool {
    let n = line.iter().take_while(|b| b.is_ascii_uppercase()).count();
    n > 0 && line.get(n) == Some(&b'[')
}

/// The length of syslogd's or journald's prefix: `[<pri>]` then an optional time
/// (`Dec  7 10:22:33 ` or an RFC 3339 stamp), then an optional host, then the tag (`asterisk:`,
/// `asterisk[2714]:`) and one space. At most two words before the tag, so it never reaches
/// into the logger's part.
fn syslog_prefix_len(line: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(line, 0);
    if c.eat(b"<") {
        c.take_while(|b| b.is_ascii_digit());
        c.expect(b">")?;
    }
    let rest = c.rest();
    if rest.len() >= 16
        && rest[..3].iter().all(u8::is_ascii_alphabetic)
        && rest[3] == b' '
        && rest[6] == b' '
        && rest[9] == b':'
        && rest[12] == b':'
        && rest[15] == b' '
    {
        c.pos += 16;
    } else if rest.len() >= 11 && rest[..4].iter().all(u8::is_ascii_digit) && rest[4] == b'-' {
        let word = c.take_while(|b| b != b' ');
        if !word.contains(&b'T') {
            return None;
        }
        c.expect(b" ")?;
    }
    for _ in 0..2 {
        let word = c.take_while(|b| b != b' ');
        if word.is_empty() {
            return None;
        }
        c.expect(b" ")?;
        if word.ends_with(b":") {
            return Some(c.pos);
        }
    }
    None
}

/// A read position over a line.
struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a [u8], pos: usize) -> Self {
        Self { text, pos }
    }

    fn rest(&self) -> &'a [u8] {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.rest().first().copied()
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        let hit = self.rest().starts_with(lit);
        if hit {
            self.pos += lit.len();
        }
        hit
    }

    fn expect(&mut self, lit: &[u8]) -> Option<()> {
        self.eat(lit).then_some(())
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.rest();
        let n = rest.iter().take_while(|&&b| keep(b)).count();
        self.pos += n;
        &rest[..n]
    }

    /// `Name="value"` where the value is strict (no quote): the value.
    fn strict_field(&mut self, name: &'static str, class: Class) -> Result<&'a [u8], LogLineError> {
        let bad = LogLineError::Unreadable(Unreadable::Field(name));
        if !(self.eat(name.as_bytes()) && self.eat(b"=\"")) {
            return Err(bad);
        }
        let value = self.take_while(|b| class.allows(b));
        if self.eat(b"\"") { Ok(value) } else { Err(bad) }
    }
}

// ---------------------------------------------------------------------------------------------
// res_security_log lines

/// The shape a value can take. `Free` values are (or may be) attacker text; the others are
/// written by Asterisk in a shape that holds no quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Anything (attacker text, or text we do not trust to be quote-free).
    Free,
    /// A module name (`res_pjsip`).
    Name,
    /// `%FT%T.%q%z` (`2025-01-15T10:22:31.101+0000`).
    Time,
    /// A decimal number.
    Digits,
    /// `IPV4/UDP/203.0.113.7/5060` and the like.
    Address,
}

impl Class {
    fn allows(self, b: u8) -> bool {
        match self {
            Class::Free => true,
            Class::Name => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'),
            Class::Time => b.is_ascii_digit() || matches!(b, b'T' | b':' | b'.' | b'+' | b'-'),
            Class::Digits => b.is_ascii_digit(),
            Class::Address => b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b':'),
        }
    }
}

/// A field after `RemoteAddress`: its name, its shape and whether it may be left out.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static [u8],
    class: Class,
    optional: bool,
}

const fn req(name: &'static [u8], class: Class) -> Field {
    Field {
        name,
        class,
        optional: false,
    }
}

const fn opt(name: &'static [u8], class: Class) -> Field {
    Field {
        name,
        class,
        optional: true,
    }
}

const MODULE: Field = opt(b"Module", Class::Name);
const SESSION_TV: Field = opt(b"SessionTV", Class::Time);

/// The fields `res_security_log` writes after `RemoteAddress` for each event type: the
/// required ones past the common eight, then the optional ones, in the order of
/// `sec_events[]` in `main/security_events.c` (Asterisk 16 to 22 agree). `ACLName` and the
/// challenge fields are taken as free: they are not all Asterisk's own.
fn tail_fields(kind: SecurityKind) -> &'static [Field] {
    use SecurityKind as K;
    match kind {
        K::FailedACL => const { &[MODULE, opt(b"ACLName", Class::Free), SESSION_TV] },
        K::InvalidAccountID | K::SessionLimit | K::MemoryLimit | K::LoadAverageLimit => {
            const { &[MODULE, SESSION_TV] }
        }
        K::RequestNotSupported => const { &[req(b"RequestType", Class::Free), MODULE, SESSION_TV] },
        K::RequestNotAllowed => {
            const {
                &[
                    req(b"RequestType", Class::Free),
                    MODULE,
                    SESSION_TV,
                    opt(b"RequestParams", Class::Free),
                ]
            }
        }
        K::AuthMethodNotAllowed => const { &[req(b"AuthMethod", Class::Free), MODULE, SESSION_TV] },
        K::RequestBadFormat => {
            const {
                &[
                    req(b"RequestType", Class::Free),
                    MODULE,
                    SESSION_TV,
                    opt(b"AccountID", Class::Free),
                    opt(b"RequestParams", Class::Free),
                ]
            }
        }
        K::SuccessfulAuth => const { &[req(b"UsingPassword", Class::Digits), MODULE, SESSION_TV] },
        K::UnexpectedAddress => {
            const { &[req(b"ExpectedAddress", Class::Address), MODULE, SESSION_TV] }
        }
        K::ChallengeResponseFailed => {
            const {
                &[
                    req(b"Challenge", Class::Free),
                    req(b"Response", Class::Free),
                    req(b"ExpectedResponse", Class::Free),
                    MODULE,
                    SESSION_TV,
                ]
            }
        }
        K::InvalidPassword => {
            const {
                &[
                    MODULE,
                    SESSION_TV,
                    opt(b"Challenge", Class::Free),
                    opt(b"ReceivedChallenge", Class::Free),
                    opt(b"ReceivedHash", Class::Free),
                ]
            }
        }
        K::ChallengeSent => const { &[req(b"Challenge", Class::Free), MODULE, SESSION_TV] },
        K::InvalidTransport => {
            const { &[req(b"AttemptedTransport", Class::Free), MODULE, SESSION_TV] }
        }
    }
}

const SESSION_TOKEN: &[u8] = b"\",SessionID=\"";
const LOCAL_TOKEN: &[u8] = b"\",LocalAddress=\"";
const REMOTE_TOKEN: &[u8] = b"\",RemoteAddress=\"";
/// `"IPV6/WSS/` + 39 + `/65535`: `ast_json_ipaddr` builds it in 64 bytes.
const MAX_ADDRESS: usize = 64;
/// Ring size for the backward pass: larger than the longest `",Name="` token.
const RING: usize = 32;

fn read_security(message: &[u8]) -> Result<SecurityEvent<'_>, LogLineError> {
    let mut c = Cursor::new(message, 0);
    let name = c.strict_field("SecurityEvent", Class::Name)?;
    let kind =
        SecurityKind::parse(name).ok_or(LogLineError::Unreadable(Unreadable::UnknownEvent))?;
    // Everything up to AccountID is Asterisk's, in a strict shape: an attacker value cannot
    // stand in for it.
    let mut values = [&b""[..]; 4];
    for (value, (name, class)) in values.iter_mut().zip([
        (",EventTV", Class::Time),
        (",Severity", Class::Name),
        (",Service", Class::Name),
        (",EventVersion", Class::Digits),
    ]) {
        *value = c.strict_field(name, class)?;
        if value.is_empty() {
            return Err(LogLineError::Unreadable(Unreadable::Field(&name[1..])));
        }
    }
    let [event_tv, _, service, _] = values.map(Some);
    // RequestBadFormat has no AccountID here (it is optional, among the tail fields).
    let bad_format = kind == SecurityKind::RequestBadFormat;
    let free_start = if bad_format {
        c.expect(b",SessionID=\"")
            .ok_or(LogLineError::Unreadable(Unreadable::Field("SessionID")))?;
        c.pos
    } else {
        c.expect(b",AccountID=\"")
            .ok_or(LogLineError::Unreadable(Unreadable::Field("AccountID")))?;
        c.pos
    };
    let reading = find_remote(message, free_start, bad_format, tail_fields(kind))?;
    let mut event = SecurityEvent {
        kind,
        service,
        account: None,
        session_id: None,
        remote: Some(reading.remote),
        local: None,
        event_tv,
        challenge: None,
    };
    if let Some(only) = reading.only {
        // One reading: the fields around the address are known too, where their split is.
        event.local = Some(only.local);
        let before = &message[free_start..only.local_token];
        if bad_format {
            event.session_id = non_empty(before);
        } else if let Some(split) = single_occurrence(before, SESSION_TOKEN) {
            event.account = non_empty(&before[..split]).filter(|a| *a != b"<unknown>");
            event.session_id = non_empty(&before[split + SESSION_TOKEN.len()..]);
        }
        if matches!(
            kind,
            SecurityKind::ChallengeSent | SecurityKind::ChallengeResponseFailed
        ) {
            let after = &message[only.remote_end..];
            if let Some(value) = after.strip_prefix(&b"\",Challenge=\""[..]) {
                let end = value.iter().position(|&b| b == b'"').unwrap_or(value.len());
                event.challenge = non_empty(&value[..end]);
            }
        }
    }
    Ok(event)
}

/// The outcome of the candidate search.
struct Reading {
    remote: EventAddress,
    /// Set when exactly one reading exists.
    only: Option<Candidate>,
}

#[derive(Clone, Copy)]
struct Candidate {
    remote: EventAddress,
    local: EventAddress,
    /// Where `",LocalAddress="` starts (the end of the free values before it).
    local_token: usize,
    /// The closing quote of the `RemoteAddress` value.
    remote_end: usize,
}

/// Finds every reading of `message[free_start..]` as `<free values>",LocalAddress="<addr>",
/// RemoteAddress="<addr>"` followed by the event's tail fields, and returns the remote
/// address they agree on.
///
/// One backward pass computes, for each position `i` and each tail field `k`, whether
/// `message[i..]` can be read as fields `k..` and the closing quote (bit `k` of `reach`):
/// a free value may end at any later position that continues the reading (`any`), a strict
/// one only at the first quote after it, its bytes all of its class (`run`). Both only look a
/// token's length ahead, so a small ring of masks is all the state.
fn find_remote(
    message: &[u8],
    free_start: usize,
    bad_format: bool,
    tail: &[Field],
) -> Result<Reading, LogLineError> {
    let n = message.len();
    let m = tail.len();
    let done = 1u32 << m;
    let mut any_ring = [0u32; RING];
    let mut run_ring = [0u32; RING];
    let mut any = 0u32;
    let mut found: Option<Candidate> = None;
    let mut count = 0usize;
    let at = |ring: &[u32; RING], j: usize| if j < n { ring[j % RING] } else { 0 };
    for i in (free_start..n).rev() {
        let b = message[i];
        // Bit m: the closing quote of the last value, at the very end.
        let mut reach = if i == n - 1 && b == b'"' { done } else { 0 };
        for (k, field) in tail.iter().enumerate().rev() {
            let next = 1u32 << (k + 1);
            let mut ok = field.optional && reach & next != 0;
            if !ok && starts_token(&message[i..], field.name) {
                let j = i + field.name.len() + 4;
                // A free value may end at any later quote that goes on with field k + 1; a
                // strict one runs through its class to the first quote.
                let ring = if field.class == Class::Free {
                    &any_ring
                } else {
                    &run_ring
                };
                ok = at(ring, j) & next != 0;
            }
            if ok {
                reach |= 1 << k;
            }
        }
        // `any` and `run` at i, from reach at i and their values at i + 1.
        any |= reach;
        let run_next = at(&run_ring, i + 1);
        let mut run = 0u32;
        for (k, field) in tail.iter().enumerate() {
            let next = 1u32 << (k + 1);
            let extends = field.class != Class::Free && field.class.allows(b);
            if reach & next != 0 || (extends && run_next & next != 0) {
                run |= next;
            }
        }
        any_ring[i % RING] = any;
        run_ring[i % RING] = run;

        if reach & 1 != 0
            && let Some(candidate) = candidate_at(message, i, free_start, bad_format)
        {
            count += 1;
            match found {
                None => found = Some(candidate),
                Some(first) if first.remote == candidate.remote => {}
                Some(_) => return Err(LogLineError::Ambiguous),
            }
        }
    }
    let first = found.ok_or(LogLineError::Unreadable(Unreadable::NoRemoteAddress))?;
    Ok(Reading {
        remote: first.remote,
        only: (count == 1).then_some(first),
    })
}

/// `",Name="` at the start of `text`.
fn starts_token(text: &[u8], name: &[u8]) -> bool {
    text.len() >= name.len() + 4
        && text.starts_with(b"\",")
        && &text[2..2 + name.len()] == name
        && &text[2 + name.len()..4 + name.len()] == b"=\""
}

/// Whether the quote at `end` closes a `RemoteAddress` value with a `LocalAddress` before it,
/// and both free values (`AccountID`, `SessionID`) fit before that.
fn candidate_at(
    message: &[u8],
    end: usize,
    free_start: usize,
    bad_format: bool,
) -> Option<Candidate> {
    let (remote_start, remote) = address_before(message, end)?;
    let remote_token = remote_start.checked_sub(REMOTE_TOKEN.len())?;
    if message.get(remote_token..remote_start)? != REMOTE_TOKEN {
        return None;
    }
    // The quote that closes LocalAddress is the first byte of the RemoteAddress token.
    let (local_start, local) = address_before(message, remote_token)?;
    let local_token = local_start.checked_sub(LOCAL_TOKEN.len())?;
    if local_token < free_start || message.get(local_token..local_start)? != LOCAL_TOKEN {
        return None;
    }
    if !bad_format {
        // AccountID, then `",SessionID="`, then the Call-ID must fit before LocalAddress.
        let split = find(&message[free_start..local_token], SESSION_TOKEN);
        split?;
    }
    Some(Candidate {
        remote,
        local,
        local_token,
        remote_end: end,
    })
}

/// The strict address whose value ends just before `end` (a quote), and where it starts.
fn address_before(message: &[u8], end: usize) -> Option<(usize, EventAddress)> {
    let head = &message[..end];
    let len = head
        .iter()
        .rev()
        .take(MAX_ADDRESS + 1)
        .take_while(|&&b| Class::Address.allows(b))
        .count();
    if len == 0 || len > MAX_ADDRESS {
        return None;
    }
    let start = end - len;
    Some((start, strict_address(&message[start..end])?))
}

/// `IPV4|IPV6/[UDP|TCP|TLS|WS|WSS/]addr/port`, exactly as `ast_json_ipaddr` writes it.
fn strict_address(value: &[u8]) -> Option<EventAddress> {
    let mut parts = value.split(|&b| b == b'/');
    let family = parts.next()?;
    let (transport, addr, port) = match (parts.next()?, parts.next()?, parts.next(), parts.next()) {
        (t, a, Some(p), None) => (Some(t), a, p),
        (a, p, None, None) => (None, a, p),
        _ => return None,
    };
    if let Some(t) = transport
        && (Transport::parse(t) == Transport::Unknown || t.iter().any(u8::is_ascii_lowercase))
    {
        return None;
    }
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let ip: IpAddr = std::str::from_utf8(addr).ok()?.parse().ok()?;
    // A mapped address is labelled IPV4 but may print as ::ffff:a.b.c.d.
    match (family, ip) {
        (b"IPV4", IpAddr::V4(_)) | (b"IPV6", IpAddr::V6(_)) => {}
        (b"IPV4", IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => {}
        _ => return None,
    }
    parse_event_address(value)
}

fn non_empty(v: &[u8]) -> Option<&[u8]> {
    (!v.is_empty()).then_some(v)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The position of `needle` in `haystack` if it occurs exactly once.
fn single_occurrence(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = find(haystack, needle)?;
    (rfind(haystack, needle)? == first).then_some(first)
}

// ---------------------------------------------------------------------------------------------
// NOTICE lines

fn notice_event<'a>(
    kind: SecurityKind,
    service: &'static [u8],
    remote: SocketAddr,
    transport: Transport,
) -> SecurityEvent<'a> {
    SecurityEvent {
        kind,
        service: Some(service),
        account: None,
        session_id: None,
        remote: Some(EventAddress {
            address: SocketAddr::new(remote.ip().to_canonical(), remote.port()),
            transport,
        }),
        local: None,
        event_tv: None,
        challenge: None,
    }
}

/// `203.0.113.7:5071` or `[2001:db8::7]:5071` (`pj_sockaddr_print` with flags 3,
/// `ast_sockaddr_stringify`).
fn socket_address(text: &[u8]) -> Option<SocketAddr> {
    if text.is_empty() || text.len() > MAX_ADDRESS {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The user part of a SIP URI inside a From/To value (`"Bob" <sip:1001@host>`), if any.
/// Attacker text either way; it only names the account the attacker chose.
fn uri_user(value: &[u8]) -> Option<&[u8]> {
    let uri = match (value.iter().rposition(|&b| b == b'<'), value.last()) {
        (Some(open), Some(&b'>')) => &value[open + 1..value.len() - 1],
        _ => value,
    };
    let rest = uri
        .strip_prefix(&b"sips:"[..])
        .or_else(|| uri.strip_prefix(&b"sip:"[..]))?;
    let at = rest.iter().position(|&b| b == b'@')?;
    non_empty(&rest[..at])
}

/// PJSIP's `log_failed_request` reasons (`res/res_pjsip/pjsip_distributor.c`) and the
/// security event raised beside each.
const PJSIP_REASONS: [(&[u8], SecurityKind); 5] = [
    (
        b"No matching endpoint found",
        SecurityKind::InvalidAccountID,
    ),
    (b"Not match Endpoint ACL", SecurityKind::FailedACL),
    (b"Not match Endpoint Contact ACL", SecurityKind::FailedACL),
    (
        b"Failed to authenticate",
        SecurityKind::ChallengeResponseFailed,
    ),
    (
        b"Error to authenticate",
        SecurityKind::ChallengeResponseFailed,
    ),
];

const PJSIP_FAILED: &[u8] = b"' failed for '";
const PJSIP_CALLID: &[u8] = b"' (callid: ";

/// `Request '<method>' from '<From>' failed for '<addr>' (callid: <Call-ID>) - <reason>`,
/// optionally followed by ` after <n> tries in <t> ms`.
fn read_pjsip_notice(message: &[u8]) -> Result<SecurityEvent<'_>, LogLineError> {
    let mut c = Cursor::new(message, 0);
    if !c.eat(b"Request '") {
        return Err(LogLineError::NotOfInterest);
    }
    // The method is a SIP token (pjsip parses it so): no quote, no space.
    let method = c.take_while(|b| b != b'\'' && b != b' ');
    if method.is_empty() || !c.eat(b"' from '") {
        return Err(LogLineError::Unreadable(Unreadable::Field("Request")));
    }
    let from_start = c.pos;
    let body = strip_tries(message);
    let (kind, reason_at) = PJSIP_REASONS
        .iter()
        .find_map(|&(reason, kind)| {
            let tail_len = reason.len() + 4;
            (body.len() >= tail_len
                && body.ends_with(reason)
                && &body[body.len() - tail_len..body.len() - reason.len()] == b") - ")
                .then_some((kind, body.len() - tail_len))
        })
        .ok_or(LogLineError::Unreadable(Unreadable::UnknownReason))?;
    // The From (before) and the Call-ID (after) are attacker text: count every reading.
    let mut found: Option<(usize, usize, SocketAddr)> = None;
    let mut count = 0;
    let mut at = from_start;
    while let Some(offset) = find(&message[at..reason_at], PJSIP_FAILED) {
        let token = at + offset;
        at = token + 1;
        let addr_start = token + PJSIP_FAILED.len();
        let Some(len) = message[addr_start..reason_at]
            .iter()
            .take(MAX_ADDRESS + 1)
            .position(|&b| b == b'\'')
        else {
            continue;
        };
        let addr_end = addr_start + len;
        if !message[addr_end..reason_at].starts_with(PJSIP_CALLID) {
            continue;
        }
        let Some(address) = socket_address(&message[addr_start..addr_end]) else {
            continue;
        };
        count += 1;
        match found {
            None => found = Some((token, addr_end + PJSIP_CALLID.len(), address)),
            Some((_, _, first)) if canonical(first) == canonical(address) => {}
            Some(_) => return Err(LogLineError::Ambiguous),
        }
    }
    let (token, callid_start, address) =
        found.ok_or(LogLineError::Unreadable(Unreadable::NoRemoteAddress))?;
    let mut event = notice_event(kind, b"PJSIP", address, Transport::Unknown);
    if count == 1 {
        event.account = uri_user(&message[from_start..token]);
        event.session_id = non_empty(&message[callid_start..reason_at]);
    }
    Ok(event)
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Drops ` after <n> tries in <t> ms` (the repeated-unidentified form).
fn strip_tries(message: &[u8]) -> &[u8] {
    let Some(body) = message.strip_suffix(&b" ms"[..]) else {
        return message;
    };
    let Some(at) = rfind(body, b" after ") else {
        return message;
    };
    let tries = &body[at + 7..];
    let mut c = Cursor::new(tries, 0);
    let ok = !c.take_while(|b| b.is_ascii_digit()).is_empty()
        && c.eat(b" tries in ")
        && !c.take_while(|b| b.is_ascii_digit() || b == b'.').is_empty()
        && c.rest().is_empty();
    if ok { &message[..at] } else { message }
}

/// `chan_sip`'s `handle_request_register` reasons (Asterisk 16 and 18) and the security event
/// `sip_report_security_event` raises for each; `None` where the failure is Asterisk's own.
const CHAN_SIP_REASONS: [(&[u8], Option<SecurityKind>); 9] = [
    (b"Wrong password", Some(SecurityKind::InvalidPassword)),
    (
        b"Username/auth name mismatch",
        Some(SecurityKind::ChallengeResponseFailed),
    ),
    (
        b"No matching peer found",
        Some(SecurityKind::InvalidAccountID),
    ),
    (b"Not a local domain", Some(SecurityKind::FailedACL)),
    (
        b"Peer is not supposed to register",
        Some(SecurityKind::FailedACL),
    ),
    (b"Device does not match ACL", Some(SecurityKind::FailedACL)),
    (
        b"Device not configured to use this transport type",
        Some(SecurityKind::InvalidTransport),
    ),
    (b"RTP initialization failed", None),
    (b"Unknown failure", None),
];

const CHAN_SIP_CALL_TAIL: &[u8] = b"' rejected because extension not found in context '";
const CHAN_SIP_CALL_MID: &[u8] = b") to extension '";

/// `Registration from '<To>' failed for '<addr>' - <reason>` and `Call from '<user>' (<addr>)
/// to extension '<exten>' rejected because extension not found in context '<context>'.`
fn read_chan_sip_notice(message: &[u8]) -> Result<SecurityEvent<'_>, LogLineError> {
    if let Some(rest) = message.strip_prefix(&b"Registration from '"[..]) {
        let &(reason, kind) = CHAN_SIP_REASONS
            .iter()
            .find(|(reason, _)| rest.ends_with(reason))
            .ok_or(LogLineError::Unreadable(Unreadable::UnknownReason))?;
        let kind = kind.ok_or(LogLineError::NotOfInterest)?;
        // Right to left: ` - <reason>`, the address in quotes, ` failed for `, the To's quote.
        // The To (attacker text) lies wholly to the left of all of it.
        let body = &rest[..rest.len() - reason.len()];
        let bad = LogLineError::Unreadable(Unreadable::NoRemoteAddress);
        let body = body.strip_suffix(&b"' - "[..]).ok_or(bad)?;
        let open = body.iter().rposition(|&b| b == b'\'').ok_or(bad)?;
        let address = socket_address(&body[open + 1..]).ok_or(bad)?;
        let to = body[..open]
            .strip_suffix(&b"' failed for "[..])
            .ok_or(bad)?;
        let mut event = notice_event(kind, b"SIP", address, Transport::Unknown);
        event.account = uri_user(to);
        return Ok(event);
    }
    if let Some(rest) = message.strip_prefix(&b"Call from '"[..]) {
        // The context (the admin's) closes the line; the last occurrence of the fixed text is
        // Asterisk's, whatever the extension (attacker text, URI-decoded) holds.
        let bad = LogLineError::Unreadable(Unreadable::NoRemoteAddress);
        let tail = rfind(rest, CHAN_SIP_CALL_TAIL).ok_or(LogLineError::NotOfInterest)?;
        let context = &rest[tail + CHAN_SIP_CALL_TAIL.len()..];
        if !context.ends_with(b"'.") || context[..context.len() - 2].contains(&b'\'') {
            return Err(bad);
        }
        // Between the user and the extension (both attacker text): every `' (<addr>) to
        // extension '` is a reading.
        let middle = &rest[..tail];
        let mut found: Option<(usize, SocketAddr)> = None;
        let mut count = 0;
        let mut at = 0;
        while let Some(offset) = find(&middle[at..], b"' (") {
            let open = at + offset;
            at = open + 1;
            let addr_start = open + 3;
            let Some(len) = middle[addr_start..]
                .iter()
                .take(MAX_ADDRESS + 1)
                .position(|&b| b == b')')
            else {
                continue;
            };
            let addr_end = addr_start + len;
            if !middle[addr_end..].starts_with(CHAN_SIP_CALL_MID) {
                continue;
            }
            let Some(address) = socket_address(&middle[addr_start..addr_end]) else {
                continue;
            };
            count += 1;
            match found {
                None => found = Some((open, address)),
                Some((_, first)) if canonical(first) == canonical(address) => {}
                Some(_) => return Err(LogLineError::Ambiguous),
            }
        }
        let (open, address) = found.ok_or(bad)?;
        let mut event = notice_event(SecurityKind::FailedACL, b"SIP", address, Transport::Unknown);
        if count == 1 {
            event.account = non_empty(&middle[..open]);
        }
        return Ok(event);
    }
    Err(LogLineError::NotOfInterest)
}

/// `manager.c`'s login failures and the security event raised beside each.
const MANAGER_NOTICES: [(&[u8], SecurityKind); 3] = [
    (
        b" tried to authenticate with nonexistent user '",
        SecurityKind::InvalidAccountID,
    ),
    (
        b" failed to authenticate as '",
        SecurityKind::InvalidPassword,
    ),
    (b" failed to pass IP ACL as '", SecurityKind::FailedACL),
];

/// `<addr> failed to authenticate as '<user>'`: the address (`ast_sockaddr_stringify_addr`,
/// no port) comes first, before any attacker byte. AMI runs over TCP (or TLS over it), so
/// the transport is TCP and the address proves itself.
fn read_manager_notice(message: &[u8]) -> Result<SecurityEvent<'_>, LogLineError> {
    let space = message
        .iter()
        .take(MAX_ADDRESS + 1)
        .position(|&b| b == b' ')
        .ok_or(LogLineError::NotOfInterest)?;
    let rest = &message[space..];
    let Some(&(text, kind)) = MANAGER_NOTICES
        .iter()
        .find(|(text, _)| rest.starts_with(text))
    else {
        return Err(LogLineError::NotOfInterest);
    };
    let word = &message[..space];
    let word = word
        .strip_prefix(b"[")
        .and_then(|w| w.strip_suffix(b"]"))
        .unwrap_or(word);
    let ip: IpAddr = std::str::from_utf8(word)
        .ok()
        .and_then(|w| w.parse().ok())
        .ok_or(LogLineError::Unreadable(Unreadable::NoRemoteAddress))?;
    let user = rest[text.len()..]
        .strip_suffix(b"'")
        .ok_or(LogLineError::Unreadable(Unreadable::Field("user")))?;
    let mut event = notice_event(kind, b"AMI", SocketAddr::new(ip, 0), Transport::Tcp);
    event.account = non_empty(user);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = b"[Dec  7 10:22:33] SECURITY[2714] res_security_log.c: SecurityEvent=\"InvalidAccountID\",EventTV=\"2025-01-15T10:22:31.101+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"1001\",SessionID=\"4f9c2a71e0b3@203.0.113.7\",LocalAddress=\"IPV4/UDP/192.0.2.5/5060\",RemoteAddress=\"IPV4/UDP/203.0.113.7/5071\"\n";

    #[test]
    fn the_reference_line_is_read() {
        let e = parse_log_line(LINE).unwrap();
        assert_eq!(e.origin, LineOrigin::SecurityLog);
        assert_eq!(e.event.kind, SecurityKind::InvalidAccountID);
        assert_eq!(e.event.account, Some(&b"1001"[..]));
        assert_eq!(e.event.session_id, Some(&b"4f9c2a71e0b3@203.0.113.7"[..]));
        let remote = e.event.remote.unwrap();
        assert_eq!(remote.address, "203.0.113.7:5071".parse().unwrap());
        assert_eq!(remote.transport, Transport::Udp);
        assert_eq!(
            e.event.local.unwrap().address,
            "192.0.2.5:5060".parse().unwrap()
        );
    }

    #[test]
    fn strict_addresses_refuse_loose_shapes() {
        assert!(strict_address(b"IPV4/UDP/203.0.113.7/5060").is_some());
        assert!(strict_address(b"IPV4/203.0.113.7/5060").is_some());
        assert!(strict_address(b"IPV4/udp/203.0.113.7/5060").is_none());
        assert!(strict_address(b"IPV6/UDP/203.0.113.7/5060").is_none());
        assert!(strict_address(b"IPV4/SCTP/203.0.113.7/5060").is_none());
        assert!(strict_address(b"X/UDP/203.0.113.7/5060").is_none());
        assert!(strict_address(b"IPV4/UDP/203.0.113.7/").is_none());
        assert!(strict_address(b"IPV4/UDP/::ffff:203.0.113.7/5060").is_some());
    }

    #[test]
    fn the_header_is_not_searched_for() {
        let line = b"[Dec  7 10:22:33] NOTICE[1] chan_pjsip.c: SECURITY[2714] res_security_log.c: SecurityEvent=\"FailedACL\"";
        assert_eq!(parse_log_line(line), Err(LogLineError::NotOfInterest));
    }
}
