//! Toll-fraud protection (#15), the pure parts: where a dialled number goes
//! (`destination`: E.164, its region from a shipped calling-code table, high-risk ranges),
//! the fraud policy's settings and checks (`policy`), the ledger of running calls and recent
//! attempts that makes the pre-call decision (`ledger`), and the FastAGI exchange that
//! carries it (`agi`). The backend serves the exchange and acts on the decision.

pub mod agi;
pub mod destination;
pub mod ledger;
pub mod policy;
pub mod rates;
