//! Running `nft`: whole batches as one transaction (`nft -j -f -`), and reading table
//! `inet sipwarden` back (its JSON for the timed sets, its text for a revert).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use policy::firewall::{DynamicState, TABLE, TimedAddress, TimedPort};
use serde_json::Value;

use super::error::FirewallError;
use super::target::{Target, describe, run_checked};

/// Default deadline of one `nft` run. A full ruleset with a million bans loads in a few
/// seconds; anything slower means the kernel or `nft` is stuck, and a stuck apply must not
/// hold the writer lock (and with it every ban) forever.
pub const NFT_TIMEOUT: Duration = Duration::from_secs(30);

/// `nft` in one [`Target`]: applies JSON batches and reads our table.
#[derive(Debug, Clone)]
pub struct Nft {
    target: Target,
    timeout: Duration,
}

impl Nft {
    /// `nft` in `target` with the default deadline.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            timeout: NFT_TIMEOUT,
        }
    }

    /// The same with another deadline per run.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The namespace it runs in.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Applies a JSON document (`{"nftables": [...]}`) as one kernel transaction: every
    /// command or, on any error, none. The error carries nft's stderr.
    pub async fn apply_json(&self, json: &str) -> Result<(), FirewallError> {
        let cmd = self.target.command("nft", ["-j", "-f", "-"]);
        run_checked(cmd, Some(json.as_bytes()), self.timeout)
            .await
            .map(drop)
    }

    /// Applies an nft script in the text syntax as one transaction. Used only to restore a
    /// table listing we did not render ourselves (see [`super::safe::Previous::Listing`]).
    pub async fn apply_text(&self, script: &str) -> Result<(), FirewallError> {
        let cmd = self.target.command("nft", ["-f", "-"]);
        run_checked(cmd, Some(script.as_bytes()), self.timeout)
            .await
            .map(drop)
    }

    /// Whether table `inet sipwarden` exists.
    pub async fn table_exists(&self) -> Result<bool, FirewallError> {
        let cmd = self.target.command("nft", ["-j", "list", "tables", "inet"]);
        let command = describe(&cmd);
        let out = run_checked(cmd, None, self.timeout).await?;
        let doc = parse(&command, &out)?;
        Ok(objects(&doc).any(|o| {
            o.get("table")
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                == Some(TABLE)
        }))
    }

    /// `nft -j list table inet sipwarden`, or `None` when there is no such table.
    pub async fn table_json(&self) -> Result<Option<Value>, FirewallError> {
        if !self.table_exists().await? {
            return Ok(None);
        }
        let cmd = self
            .target
            .command("nft", ["-j", "list", "table", "inet", TABLE]);
        let command = describe(&cmd);
        let out = run_checked(cmd, None, self.timeout).await?;
        parse(&command, &out).map(Some)
    }

    /// `nft list table inet sipwarden` in the text syntax (which `nft -f` reads back), or
    /// `None` when there is no such table.
    pub async fn table_text(&self) -> Result<Option<String>, FirewallError> {
        if !self.table_exists().await? {
            return Ok(None);
        }
        let cmd = self.target.command("nft", ["list", "table", "inet", TABLE]);
        run_checked(cmd, None, self.timeout).await.map(Some)
    }

    /// The bans, temporary allows and known-good sources in the kernel right now, each with
    /// the time it has left: what a re-render must carry over. Empty when there is no table.
    pub async fn dynamic_state(&self) -> Result<DynamicState, FirewallError> {
        Ok(self
            .table_json()
            .await?
            .map(|doc| dynamic_state_of(&doc))
            .unwrap_or_default())
    }
}

fn parse(command: &str, out: &str) -> Result<Value, FirewallError> {
    serde_json::from_str(out).map_err(|e| FirewallError::Output {
        command: command.to_owned(),
        reason: format!("not JSON: {e}"),
    })
}

/// The objects of an `nft -j list` document (`{"nftables": [{"table": …}, {"set": …}]}`).
fn objects(doc: &Value) -> impl Iterator<Item = &Value> {
    doc.get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Reads the timed sets out of an `nft -j list table` document.
pub(crate) fn dynamic_state_of(doc: &Value) -> DynamicState {
    let mut state = DynamicState::default();
    for set in objects(doc).filter_map(|o| o.get("set")) {
        let Some(name) = set.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some(base) = name
            .strip_suffix("_v4")
            .or_else(|| name.strip_suffix("_v6"))
        else {
            continue;
        };
        if base == policy::firewall::BAN_PORT_SET {
            let elems = set.get("elem").and_then(Value::as_array);
            state
                .port_bans
                .extend(elems.into_iter().flatten().filter_map(timed_port));
            continue;
        }
        let into = match base {
            policy::firewall::BAN_SET => &mut state.bans,
            policy::firewall::KNOWN_SET => &mut state.known_good,
            // Only elements with a timeout are temporary; the pinned networks come from the
            // policy and are rendered again from it.
            policy::firewall::ALLOW_SET => &mut state.temporary_allows,
            _ => continue,
        };
        let elems = set.get("elem").and_then(Value::as_array);
        for elem in elems.into_iter().flatten() {
            if let Some(timed) = timed_address(elem, base == policy::firewall::ALLOW_SET) {
                into.push(timed);
            }
        }
    }
    state
}

/// One port-ban element: `{"elem": {"val": {"concat": ["192.0.2.1", 5062]}, "expires": 598}}`
/// or the bare `{"concat": [...]}`.
fn timed_port(elem: &Value) -> Option<TimedPort> {
    let (val, inner) = match elem.get("elem") {
        Some(inner) => (inner.get("val")?, Some(inner)),
        None => (elem, None),
    };
    let parts = val.get("concat")?.as_array()?;
    let address: IpAddr = parts.first()?.as_str()?.parse().ok()?;
    let port = u16::try_from(parts.get(1)?.as_u64()?).ok()?;
    let source = SocketAddr::new(address, port);
    let left = inner.and_then(|i| i.get("expires").or_else(|| i.get("timeout")));
    Some(match left.and_then(Value::as_u64) {
        // As for addresses: an element in its last second keeps one.
        Some(secs) => TimedPort::expiring(source, u32::try_from(secs.max(1)).unwrap_or(u32::MAX)),
        None => TimedPort {
            source,
            timeout_secs: None,
        },
    })
}

/// One set element: `"192.0.2.1"` (no timeout) or
/// `{"elem": {"val": "192.0.2.1", "timeout": 600, "expires": 598}}`. Prefixes and ranges
/// (pinned networks) give `None`.
fn timed_address(elem: &Value, only_timed: bool) -> Option<TimedAddress> {
    if let Some(text) = elem.as_str() {
        if only_timed {
            return None;
        }
        return text.parse::<IpAddr>().ok().map(TimedAddress::permanent);
    }
    let inner = elem.get("elem")?;
    let address: IpAddr = inner.get("val")?.as_str()?.parse().ok()?;
    let expires = inner.get("expires").and_then(Value::as_u64);
    let timeout = inner.get("timeout").and_then(Value::as_u64);
    match (expires, timeout) {
        // The kernel reports whole seconds left; an element in its last second shows 0, and
        // rounding that to "expired" would drop a ban a moment early, so it keeps one second.
        (Some(left), _) => Some(TimedAddress::expiring(
            address,
            u32::try_from(left.max(1)).unwrap_or(u32::MAX),
        )),
        (None, Some(t)) => Some(TimedAddress::expiring(
            address,
            u32::try_from(t.max(1)).unwrap_or(u32::MAX),
        )),
        (None, None) if !only_timed => Some(TimedAddress::permanent(address)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_sets_are_read_back_with_the_time_they_have_left() {
        let doc: Value = serde_json::from_str(
            r#"{"nftables": [
              {"metainfo": {"version": "1.0.6"}},
              {"table": {"family": "inet", "name": "sipwarden", "handle": 1}},
              {"set": {"family": "inet", "name": "ban_v4", "table": "sipwarden",
                "type": "ipv4_addr", "flags": ["timeout"],
                "elem": [{"elem": {"val": "192.0.2.1", "timeout": 600, "expires": 598}},
                         "192.0.2.2",
                         {"elem": {"val": "192.0.2.3", "timeout": 60, "expires": 0}}]}},
              {"set": {"family": "inet", "name": "allow_v6", "table": "sipwarden",
                "type": "ipv6_addr", "flags": ["interval", "timeout"],
                "elem": [{"prefix": {"addr": "2001:db8::", "len": 32}},
                         {"elem": {"val": "2001:db8:1::5", "timeout": 3600, "expires": 3000}}]}},
              {"set": {"family": "inet", "name": "ami_v4", "table": "sipwarden",
                "type": "ipv4_addr", "elem": ["192.0.2.9"]}},
              {"set": {"family": "inet", "name": "banport_v4", "table": "sipwarden",
                "type": ["ipv4_addr", "inet_service"], "flags": ["timeout"],
                "elem": [{"elem": {"val": {"concat": ["198.51.100.20", 5062]}, "timeout": 900, "expires": 899}}]}}
            ]}"#,
        )
        .expect("test json");
        let state = dynamic_state_of(&doc);
        let ip = |t: &str| t.parse::<IpAddr>().expect("test address");
        assert_eq!(
            state.bans,
            [
                TimedAddress::expiring(ip("192.0.2.1"), 598),
                TimedAddress::permanent(ip("192.0.2.2")),
                TimedAddress::expiring(ip("192.0.2.3"), 1),
            ]
        );
        assert_eq!(
            state.temporary_allows,
            [TimedAddress::expiring(ip("2001:db8:1::5"), 3000)]
        );
        assert!(state.known_good.is_empty());
        assert_eq!(
            state.port_bans,
            [TimedPort::expiring(
                "198.51.100.20:5062".parse().expect("test source"),
                899
            )]
        );
    }
}
