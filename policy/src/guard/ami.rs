//! Parsing Asterisk Manager Interface security events (pure: the caller reads the socket).
//!
//! An event is a block of `Key: Value` lines ended by a blank line, e.g.
//! `Event: ChallengeResponseFailed\r\nAccountID: 1001\r\nRemoteAddress: IPV4/UDP/192.0.2.66/5060`.
//! Values are attacker-influenced (`AccountID` is whatever user the request named), so they
//! are only sliced, never interpreted beyond what the guard needs.

use std::net::{IpAddr, SocketAddr};

use super::Timestamp;
use super::observation::{Direction, Observation, SecurityKind, Subject, Transport};
use super::sip::trim;

/// `RemoteAddress`/`LocalAddress`: `IPV4|IPV6 "/" [transport "/"] addr "/" port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventAddress {
    /// Address and port (an IPv4-mapped IPv6 address is given as IPv4).
    pub address: SocketAddr,
    /// Transport segment, `Unknown` when Asterisk left it out.
    pub transport: Transport,
}

/// A security event, fields borrowed from the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityEvent<'a> {
    /// The event type.
    pub kind: SecurityKind,
    /// `Service`: `PJSIP`, `SIP` or `AMI`.
    pub service: Option<&'a [u8]>,
    /// `AccountID`, `None` when absent, empty or `<unknown>` (PJSIP's artificial endpoint).
    pub account: Option<&'a [u8]>,
    /// `SessionID` (the Call-ID for PJSIP).
    pub session_id: Option<&'a [u8]>,
    /// `RemoteAddress`.
    pub remote: Option<EventAddress>,
    /// `LocalAddress`.
    pub local: Option<EventAddress>,
    /// `EventTV` as sent (ISO 8601); the caller decides which clock to trust.
    pub event_tv: Option<&'a [u8]>,
    /// `Challenge`: the nonce Asterisk sent (`ChallengeSent`) or the one the failed answer
    /// carried (`ChallengeResponseFailed`). Matching the two proves the sender's address.
    pub challenge: Option<&'a [u8]>,
}

/// Why a block is not a security event the guard can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmiError {
    /// No `Event:` line.
    #[error("no Event line")]
    NoEvent,
    /// An event, but not one of the security class.
    #[error("not a security event")]
    NotSecurity,
}

/// Parses one AMI event block (CRLF or LF line ends; keys case-insensitive).
pub fn parse_security_event(block: &[u8]) -> Result<SecurityEvent<'_>, AmiError> {
    let mut name = None;
    let mut event = SecurityEvent {
        kind: SecurityKind::ChallengeSent,
        service: None,
        account: None,
        session_id: None,
        remote: None,
        local: None,
        event_tv: None,
        challenge: None,
    };
    for line in block.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = trim(&line[..colon]);
        let value = trim(&line[colon + 1..]);
        let is = |k: &[u8]| key.eq_ignore_ascii_case(k);
        if is(b"Event") {
            name.get_or_insert(value);
        } else if is(b"Service") {
            event.service = non_empty(value);
        } else if is(b"AccountID") {
            // PJSIP names the artificial endpoint `<unknown>`: it is no account at all.
            event.account = non_empty(value).filter(|v| *v != b"<unknown>");
        } else if is(b"SessionID") {
            event.session_id = non_empty(value);
        } else if is(b"RemoteAddress") {
            event.remote = parse_event_address(value);
        } else if is(b"LocalAddress") {
            event.local = parse_event_address(value);
        } else if is(b"EventTV") {
            event.event_tv = non_empty(value);
        } else if is(b"Challenge") {
            event.challenge = non_empty(value);
        }
    }
    let name = name.ok_or(AmiError::NoEvent)?;
    event.kind = SecurityKind::parse(name).ok_or(AmiError::NotSecurity)?;
    Ok(event)
}

fn non_empty(v: &[u8]) -> Option<&[u8]> {
    (!v.is_empty()).then_some(v)
}

/// Reads `IPV4/UDP/203.0.113.7/5060`, `IPV6/TLS/2001:db8::7/5061` or `IPV4/203.0.113.7/5060`.
pub fn parse_event_address(value: &[u8]) -> Option<EventAddress> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.rsplitn(3, '/');
    let port: u16 = parts.next()?.parse().ok()?;
    let addr: IpAddr = parts.next()?.parse().ok()?;
    let head = parts.next()?;
    let transport = match head.split_once('/') {
        Some((_, t)) => Transport::parse(t.as_bytes()),
        None => Transport::Unknown,
    };
    // IPv4-mapped addresses are labelled IPV4 but may print as ::ffff:a.b.c.d; one source
    // must have one key, or a ban on the mapped form would miss the plain one.
    Some(EventAddress {
        address: SocketAddr::new(addr.to_canonical(), port),
        transport,
    })
}

impl<'a> SecurityEvent<'a> {
    /// The guard's view of the event. `None` when it has no usable remote address.
    pub fn observation(&self, time: Timestamp) -> Option<Observation<'a>> {
        let remote = self.remote?;
        Some(Observation {
            account: self.account,
            call_id: self.session_id,
            nonce: self.challenge,
            ..Observation::new(
                time,
                remote.address,
                remote.transport,
                Direction::ToAsterisk,
                Subject::Security(self.kind),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_response_failed_block_is_read() {
        let block = b"Event: ChallengeResponseFailed\r\nPrivilege: security,all\r\n\
EventTV: 2025-01-15T10:22:33.412+0000\r\nSeverity: Error\r\nService: PJSIP\r\n\
EventVersion: 1\r\nAccountID: 1001\r\nSessionID: 4f9c@203.0.113.7\r\n\
LocalAddress: IPV4/UDP/192.0.2.5/5060\r\nRemoteAddress: IPV4/UDP/192.0.2.66/5071\r\n\
Challenge: 1736936553/0c4f\r\nResponse: 9a1e\r\nExpectedResponse:\r\n\r\n";
        let e = parse_security_event(block).unwrap();
        assert_eq!(e.kind, SecurityKind::ChallengeResponseFailed);
        assert_eq!(e.account, Some(&b"1001"[..]));
        assert_eq!(e.service, Some(&b"PJSIP"[..]));
        let remote = e.remote.unwrap();
        assert_eq!(remote.address, "192.0.2.66:5071".parse().unwrap());
        assert_eq!(remote.transport, Transport::Udp);
        assert_eq!(e.challenge, Some(&b"1736936553/0c4f"[..]));
    }

    #[test]
    fn the_artificial_endpoint_is_no_account() {
        let e = parse_security_event(
            b"Event: ChallengeResponseFailed\nAccountID: <unknown>\nRemoteAddress: IPV4/UDP/192.0.2.1/5060\n",
        )
        .unwrap();
        assert_eq!(e.account, None);
    }

    #[test]
    fn addresses_without_transport_and_mapped_ipv6_are_read() {
        let a = parse_event_address(b"IPV4/203.0.113.7/5060").unwrap();
        assert_eq!(a.transport, Transport::Unknown);
        let b = parse_event_address(b"IPV4/UDP/::ffff:203.0.113.7/5060").unwrap();
        assert_eq!(b.address, "203.0.113.7:5060".parse().unwrap());
        let c = parse_event_address(b"IPV6/TLS/2001:db8::7/5061").unwrap();
        assert_eq!(c.address, "[2001:db8::7]:5061".parse().unwrap());
        assert_eq!(c.transport, Transport::Tls);
        assert!(parse_event_address(b"garbage").is_none());
    }

    #[test]
    fn other_events_are_not_security_events() {
        assert_eq!(
            parse_security_event(b"Event: FullyBooted\r\n"),
            Err(AmiError::NotSecurity)
        );
        assert_eq!(
            parse_security_event(b"Response: Success\r\n"),
            Err(AmiError::NoEvent)
        );
    }
}
