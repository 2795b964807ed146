//! Talking to Asterisk: its configuration directory (atomic revision switches) and its
//! manager interface (reload, and verification of what it loaded).

pub mod ami;
pub mod confdir;
pub mod verify;
