//! Toll-fraud protection (#15): what a dialled number costs and where it goes, for the
//! pre-call decision. This first part is the destination model: a dialled number made into
//! an E.164 number, its country from a shipped table of calling codes, and whether it is in
//! a high-risk (premium, IRSF) range. The decision point (FastAGI), call tracking and the
//! fraud policy's rules build on it.

pub mod agi;
pub mod destination;
pub mod policy;
