//! What the engine consumes: one observation per SIP message or Asterisk security event.
//! Everything borrows from the captured bytes, so building one allocates nothing.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::sip::{CSeq, Method, SipMessage};

/// The transport a message came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS
    Tls,
    /// WebSocket
    Ws,
    /// Secure WebSocket
    Wss,
    /// Not known (e.g. an AMI event without a transport segment).
    Unknown,
}

impl Transport {
    /// Reads a transport token (`UDP`, `tcp`, ...), case-insensitively.
    pub fn parse(token: &[u8]) -> Self {
        const NAMES: [(&[u8], Transport); 5] = [
            (b"UDP", Transport::Udp),
            (b"TCP", Transport::Tcp),
            (b"TLS", Transport::Tls),
            (b"WS", Transport::Ws),
            (b"WSS", Transport::Wss),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(token))
            .map_or(Transport::Unknown, |(_, t)| *t)
    }

    /// True for transports that need a handshake before the first message (TCP and what
    /// runs over it): a message that arrived over one came from its source address. Over UDP
    /// anybody can write any source address into a datagram.
    pub fn proves_source(self) -> bool {
        matches!(
            self,
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss
        )
    }
}

/// Which way a SIP message went, seen from Asterisk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the source to Asterisk (requests the source sends, responses to Asterisk's own
    /// requests).
    ToAsterisk,
    /// From Asterisk to the source (Asterisk's answers).
    FromAsterisk,
}

/// Asterisk security event types (AMI class `security`), asterisk-reference §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SecurityKind {
    /// Request from outside an ACL.
    FailedACL,
    /// Unknown account (PJSIP: From user matched no endpoint).
    InvalidAccountID,
    /// Too many sessions.
    SessionLimit,
    /// Memory limit hit.
    MemoryLimit,
    /// Load average limit hit.
    LoadAverageLimit,
    /// Request type not supported.
    RequestNotSupported,
    /// Request not allowed.
    RequestNotAllowed,
    /// Authentication method not allowed.
    AuthMethodNotAllowed,
    /// Malformed request.
    RequestBadFormat,
    /// Correct credentials.
    SuccessfulAuth,
    /// Unexpected source address.
    UnexpectedAddress,
    /// Wrong digest response (PJSIP's wrong password).
    ChallengeResponseFailed,
    /// Wrong password (chan_sip, AMI).
    InvalidPassword,
    /// A challenge was sent (normal for every first request).
    ChallengeSent,
    /// Transport not allowed.
    InvalidTransport,
}

impl SecurityKind {
    /// Reads the `Event:` name.
    pub fn parse(name: &[u8]) -> Option<Self> {
        use SecurityKind::*;
        const NAMES: [(&[u8], SecurityKind); 15] = [
            (b"FailedACL", FailedACL),
            (b"InvalidAccountID", InvalidAccountID),
            (b"SessionLimit", SessionLimit),
            (b"MemoryLimit", MemoryLimit),
            (b"LoadAverageLimit", LoadAverageLimit),
            (b"RequestNotSupported", RequestNotSupported),
            (b"RequestNotAllowed", RequestNotAllowed),
            (b"AuthMethodNotAllowed", AuthMethodNotAllowed),
            (b"RequestBadFormat", RequestBadFormat),
            (b"SuccessfulAuth", SuccessfulAuth),
            (b"UnexpectedAddress", UnexpectedAddress),
            (b"ChallengeResponseFailed", ChallengeResponseFailed),
            (b"InvalidPassword", InvalidPassword),
            (b"ChallengeSent", ChallengeSent),
            (b"InvalidTransport", InvalidTransport),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }
}

/// What was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A SIP request.
    Request(Method<'a>),
    /// A SIP response.
    Response(u16),
    /// An Asterisk security event.
    Security(SecurityKind),
    /// Bytes on a SIP port that are not a readable SIP message.
    Malformed,
}

/// One thing the guard saw, normalised for the detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation<'a> {
    /// When it was seen (capture or event time).
    pub time: Timestamp,
    /// The remote party: the sender of a request to Asterisk, the receiver of Asterisk's
    /// response, the `RemoteAddress` of a security event.
    pub source: SocketAddr,
    /// Transport.
    pub transport: Transport,
    /// Which way the message went (security events count as `ToAsterisk`).
    pub direction: Direction,
    /// Request, response, security event or garbage.
    pub subject: Subject<'a>,
    /// `CSeq` number and method (for responses: what they answer).
    pub cseq: Option<CSeq<'a>>,
    /// `Call-ID` (PJSIP security events carry it as `SessionID`).
    pub call_id: Option<&'a [u8]>,
    /// From user.
    pub from_user: Option<&'a [u8]>,
    /// To user.
    pub to_user: Option<&'a [u8]>,
    /// Request-URI user (the dialled number of an INVITE).
    pub request_user: Option<&'a [u8]>,
    /// `username=` of the credentials sent.
    pub auth_user: Option<&'a [u8]>,
    /// `AccountID` of a security event (`<unknown>` is mapped to `None`).
    pub account: Option<&'a [u8]>,
    /// For requests: credentials were sent. For responses: the caller knows the answered
    /// request carried credentials (the engine also matches responses to requests itself).
    pub auth_present: bool,
    /// `User-Agent` (or `Server` for responses).
    pub user_agent: Option<&'a [u8]>,
    /// A 401/407 response's challenge says `stale=true`: the credentials were right but the
    /// nonce had expired, so this is no failed login.
    pub stale_nonce: bool,
    /// The digest nonce: for Asterisk's challenges (a 401/407, or `ChallengeSent`) the one it
    /// sent; for requests with credentials (and `ChallengeResponseFailed`) the one they answer.
    pub nonce: Option<&'a [u8]>,
}

impl<'a> Observation<'a> {
    /// A bare observation with nothing but who, when and what.
    pub fn new(
        time: Timestamp,
        source: SocketAddr,
        transport: Transport,
        direction: Direction,
        subject: Subject<'a>,
    ) -> Self {
        Self {
            time,
            source,
            transport,
            direction,
            subject,
            cseq: None,
            call_id: None,
            from_user: None,
            to_user: None,
            request_user: None,
            auth_user: None,
            account: None,
            auth_present: false,
            user_agent: None,
            stale_nonce: false,
            nonce: None,
        }
    }

    /// From an extracted SIP message. `source` is the remote peer (not Asterisk) whichever
    /// way the message went.
    pub fn from_sip(
        msg: &SipMessage<'a>,
        time: Timestamp,
        source: SocketAddr,
        transport: Transport,
        direction: Direction,
    ) -> Self {
        let subject = match (msg.method(), msg.status()) {
            (Some(m), _) => Subject::Request(m),
            (None, Some(s)) => Subject::Response(s),
            (None, None) => Subject::Malformed,
        };
        Self {
            cseq: msg.cseq,
            call_id: msg.call_id,
            from_user: msg.from_user(),
            to_user: msg.to_user(),
            request_user: msg.request_user,
            auth_user: msg.auth_username(),
            auth_present: msg.credentials.is_some(),
            // Asterisk's own answers carry its Server header, which says nothing about the
            // peer; a peer's answers to Asterisk's requests carry the peer's.
            user_agent: match direction {
                Direction::FromAsterisk => msg.user_agent,
                Direction::ToAsterisk => msg.user_agent.or(msg.server),
            },
            stale_nonce: msg.stale_nonce,
            nonce: match subject {
                Subject::Request(_) => msg.credentials.and_then(|c| c.nonce),
                _ => msg.challenge_nonce,
            },
            ..Self::new(time, source, transport, direction, subject)
        }
    }

    /// For unreadable bytes from `source`.
    pub fn malformed(time: Timestamp, source: SocketAddr, transport: Transport) -> Self {
        Self::new(
            time,
            source,
            transport,
            Direction::ToAsterisk,
            Subject::Malformed,
        )
    }
}
