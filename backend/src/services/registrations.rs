//! Trunk registrations as Asterisk reports them (`PJSIPShowRegistrationsOutbound` over AMI,
//! with sipwarden's apply account, whose `system` write class the action needs).
//!
//! The answer is never an error: when Asterisk cannot be asked the state is `unknown` with
//! the reason, so the trunk page and API stay up while Asterisk is down.

use std::collections::HashMap;
use std::time::Duration;

use policy::asterisk::GlobalPolicy;
use wire::pbx::RegistrationStatus;

use crate::asterisk::ami::{AmiClient, AmiError, Message};
use crate::core::Core;

/// How long a trunk's page waits for AMI: a missing Asterisk must not stall it.
const AMI_TIMEOUT: Duration = Duration::from_secs(2);

/// The state reported when Asterisk could not say.
pub const UNKNOWN: &str = "unknown";

/// The state of the registration `name` (a trunk's name).
pub async fn registration_status(
    core: &Core,
    policy: &GlobalPolicy,
    name: &str,
) -> RegistrationStatus {
    match registrations(core, policy).await {
        Ok(mut found) => found.remove(name).unwrap_or_else(|| RegistrationStatus {
            state: UNKNOWN.to_owned(),
            detail: Some(
                "Asterisk has no such registration yet: apply the configuration".to_owned(),
            ),
        }),
        Err(e) => {
            tracing::debug!(error = %e, "registration status from AMI");
            RegistrationStatus {
                state: UNKNOWN.to_owned(),
                detail: Some(unreachable(&e)),
            }
        }
    }
}

/// Why Asterisk could not be asked, in one short line (the AMI error's own text carries
/// set-up advice meant for the log).
fn unreachable(e: &AmiError) -> String {
    match e {
        AmiError::Connect { addr, .. } => {
            format!("Asterisk's manager interface at {addr} is not reachable")
        }
        AmiError::Timeout(addr) => {
            format!("Asterisk's manager interface at {addr} did not answer in time")
        }
        AmiError::Login { .. } => "Asterisk refused sipwarden's apply account (apply the \
                                   configuration so Asterisk knows it)"
            .to_owned(),
        AmiError::Action { message, .. } => {
            format!("Asterisk refused to list registrations: {message}")
        }
        AmiError::Io(_) | AmiError::Protocol(_) => {
            "the connection to Asterisk's manager interface failed".to_owned()
        }
    }
}

/// Every outbound registration Asterisk has, by name.
async fn registrations(
    core: &Core,
    policy: &GlobalPolicy,
) -> Result<HashMap<String, RegistrationStatus>, AmiError> {
    let mut ami = crate::services::apply_account::login(core, policy, AMI_TIMEOUT).await?;
    // The answer also holds `AuthDetail` events with the provider's password in them: only
    // the registration details are read, the rest is dropped here, unlogged.
    let events = ami.list("PJSIPShowRegistrationsOutbound", &[]).await?;
    ami.logoff().await;
    Ok(statuses(&events))
}

/// The `OutboundRegistrationDetail` events' states by `ObjectName`.
fn statuses(events: &[Message]) -> HashMap<String, RegistrationStatus> {
    events
        .iter()
        .filter(|e| {
            e.get("Event")
                .is_some_and(|v| v.eq_ignore_ascii_case("OutboundRegistrationDetail"))
        })
        .filter_map(|e| {
            let name = e.get("ObjectName")?.to_owned();
            let state = e.get("Status").unwrap_or(UNKNOWN);
            // Asterisk's own words, bounded: they go into JSON and a page.
            let state: String = state
                .chars()
                .filter(char::is_ascii_graphic)
                .take(32)
                .collect();
            let detail = e
                .get("NextReg")
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(|n| format!("next attempt in {n} s"));
            Some((name, RegistrationStatus { state, detail }))
        })
        .collect()
}

/// Restarts the registrations `names` (`PJSIPRegister`): after an apply that replaced the
/// password of a registration whose own lines did not change, which Asterisk would
/// otherwise keep using the old one until its next refresh (see
/// `policy::asterisk::registrations_to_restart`).
pub async fn restart(ami: &mut AmiClient, names: &[String]) -> Result<(), AmiError> {
    for name in names {
        ami.action("PJSIPRegister", &[("Registration", name)])
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pairs: &[(&str, &str)]) -> Message {
        Message(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn only_registration_details_are_read_and_auth_details_are_dropped() {
        let events = [
            event(&[
                ("Event", "OutboundRegistrationDetail"),
                ("ObjectName", "carrier"),
                ("Status", "Rejected"),
                ("NextReg", "0"),
            ]),
            event(&[
                ("Event", "AuthDetail"),
                ("ObjectName", "carrier"),
                ("Password", "Provider-Pass-1"),
            ]),
            event(&[
                ("Event", "OutboundRegistrationDetail"),
                ("ObjectName", "backup"),
                ("Status", "Registered"),
                ("NextReg", "3590"),
            ]),
        ];
        let found = statuses(&events);
        assert_eq!(found.len(), 2);
        assert_eq!(found["carrier"].state, "Rejected");
        assert_eq!(found["carrier"].detail, None);
        assert_eq!(
            found["backup"].detail.as_deref(),
            Some("next attempt in 3590 s")
        );
        assert!(!format!("{found:?}").contains("Provider-Pass-1"));
    }
}
