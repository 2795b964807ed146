//! sipwarden's pure core.
//!
//! Everything that decides what is safe lives here, with no I/O, async runtime, web framework,
//! database or filesystem: raw input becomes checked domain types (which cannot hold a bad
//! value), renderers are pure functions of those types, and the guard engine takes time as an
//! argument. That keeps every security rule testable in isolation and deterministic.

pub mod asterisk;
pub mod audit;
pub mod firewall;
pub mod fraud;
pub mod guard;
pub mod import;
pub mod posture;
pub mod settings;
