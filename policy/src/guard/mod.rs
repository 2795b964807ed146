//! The SIP guard: a tolerant SIP extractor and the detection engine (observations in, events
//! and ban decisions out).
//!
//! The runtime (in `backend`) captures SIP traffic and reads Asterisk's AMI security events;
//! everything that decides lives here, pure and deterministic, with time passed in:
//!
//! - [`packet`] reads captured frames down to UDP/TCP; [`reader`] turns them into
//!   observations (TCP flows framed by [`stream`], who is Asterisk); [`sip`] reads one
//!   message into borrowed fields; [`ami`] reads security event blocks; [`security_log`]
//!   reads the same events (and the NOTICE lines beside them) from Asterisk's log files.
//! - [`Observation`] normalises either source; [`Engine::observe`] runs the detectors and
//!   returns [`Event`]s and [`BanDecision`]s.
//! - [`GuardPolicy`] holds the thresholds, [`GuardModel`] what the PBX permits.

pub mod ami;
pub mod engine;
mod hash;
pub mod model;
pub mod observation;
pub mod packet;
pub mod policy;
pub mod reader;
pub mod security_log;
pub mod sip;
pub mod stream;
mod table;
mod window;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use ami::{AmiError, EventAddress, SecurityEvent, parse_security_event};
pub use engine::{
    BanDecision, Engine, Event, EventKind, GuardStats, KnownSource, OffenceRecord, Outcome, Verdict,
};
pub use model::{
    AccountRules, DialPattern, DialPatternError, GuardModel, ModelSummary, TrunkRules,
};
pub use observation::{Direction, Observation, SecurityKind, Subject, Transport};
pub use policy::{FIELDS as POLICY_FIELDS, FieldKind, GuardPolicy, PolicyError, PolicyField};
pub use security_log::{
    ASTERISK_LINE_LIMIT, LineOrigin, LogEvent, LogLineError, Unreadable, parse_log_line,
    parse_log_line_within,
};
pub use sip::{Method, SipError, SipMessage, is_keepalive, parse_message};
pub use stream::{Frame, FrameError, StreamFramer};

/// A point in time: milliseconds since the Unix epoch. The library never reads a clock; the
/// caller passes capture or event times in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From whole seconds since the epoch.
    pub fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Whole seconds since the epoch, saturated to 32 bits (the engine's compact clocks
    /// last until 2106).
    pub fn secs_u32(self) -> u32 {
        u32::try_from(self.0 / 1000).unwrap_or(u32::MAX)
    }

    /// This time plus `d`.
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )
    }
}
