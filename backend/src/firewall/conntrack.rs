//! Deleting a banned source's conntrack entries, so its running flows end at once.
//!
//! The ban rule matches every packet, so the drop does not depend on this. But other tables
//! of the host (and Asterisk behind NAT in a container) decide by conntrack state, and an entry
//! that lives on keeps a NAT binding and an "established" verdict for the attacker until it
//! times out (180 s for a UDP stream). Deleting it makes the ban total.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::error::{FirewallError, tail};
use super::target::{Target, describe, run};

/// Deadline of one `conntrack` run; listing a full table of a million entries takes seconds.
pub const CONNTRACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Up to this many sources are deleted one `conntrack -D` each; beyond, the table is listed
/// once and only the sources that have entries are deleted (a batch of 10,000 bans usually
/// hits a handful of live flows, and 10,000 processes would take seconds).
const DELETE_EACH_UP_TO: usize = 8;

/// `conntrack` in one [`Target`].
#[derive(Debug, Clone)]
pub struct Conntrack {
    target: Target,
}

impl Conntrack {
    /// `conntrack` in `target`.
    pub fn new(target: Target) -> Self {
        Self { target }
    }

    /// Deletes every entry whose original source is one of `sources`; returns how many went.
    pub async fn delete_sources(&self, sources: &[IpAddr]) -> Result<u64, FirewallError> {
        let sources: Vec<IpAddr> = sources.iter().map(IpAddr::to_canonical).collect();
        let targets = if sources.len() <= DELETE_EACH_UP_TO {
            sources
        } else {
            self.sources_with_entries(&sources).await?
        };
        let mut deleted = 0;
        for source in targets {
            deleted += self.delete_source(source).await?;
        }
        Ok(deleted)
    }

    /// Deletes the entries of one source port of an address (UDP and TCP flows), so that
    /// one phone's flow ends while the others behind the same address go on.
    pub async fn delete_ports(&self, sources: &[SocketAddr]) -> Result<u64, FirewallError> {
        let mut deleted = 0;
        for source in sources {
            let address = source.ip().to_canonical().to_string();
            let port = source.port().to_string();
            for protocol in ["udp", "tcp"] {
                let args = [
                    "-D",
                    "-f",
                    family(source.ip().to_canonical()),
                    "-s",
                    &address,
                    "-p",
                    protocol,
                    "--orig-port-src",
                    &port,
                ];
                deleted += self.delete(self.target.command("conntrack", args)).await?;
            }
        }
        Ok(deleted)
    }

    async fn delete_source(&self, source: IpAddr) -> Result<u64, FirewallError> {
        let family = family(source);
        let address = source.to_string();
        self.delete(
            self.target
                .command("conntrack", ["-D", "-f", family, "-s", &address]),
        )
        .await
    }

    async fn delete(&self, cmd: tokio::process::Command) -> Result<u64, FirewallError> {
        let command = describe(&cmd);
        let done = run(cmd, None, CONNTRACK_TIMEOUT).await?;
        // conntrack exits 1 when nothing matched; its summary line is the reliable signal.
        match deleted_count(&done.stderr) {
            Some(n) => Ok(n),
            None => Err(FirewallError::Failed {
                command,
                status: done.status,
                stderr: tail(&done.stderr, 2000),
            }),
        }
    }

    /// The subset of `sources` that have at least one entry, from one listing per family.
    async fn sources_with_entries(&self, sources: &[IpAddr]) -> Result<Vec<IpAddr>, FirewallError> {
        let wanted: HashSet<IpAddr> = sources.iter().copied().collect();
        let mut found: HashSet<IpAddr> = HashSet::new();
        for family in ["ipv4", "ipv6"] {
            if !sources.iter().any(|s| self::family(*s) == family) {
                continue;
            }
            let cmd = self.target.command("conntrack", ["-L", "-f", family]);
            let command = describe(&cmd);
            let done = run(cmd, None, CONNTRACK_TIMEOUT).await?;
            if !done.success {
                return Err(FirewallError::Failed {
                    command,
                    status: done.status,
                    stderr: tail(&done.stderr, 2000),
                });
            }
            found.extend(
                done.stdout
                    .lines()
                    .filter_map(original_source)
                    .filter(|s| wanted.contains(s)),
            );
        }
        let mut found: Vec<IpAddr> = found.into_iter().collect();
        found.sort();
        Ok(found)
    }
}

fn family(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(_) => "ipv6",
    }
}

/// `conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.` → 3.
fn deleted_count(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.contains("flow entries have been deleted"))?;
    let before = line.split("flow entries").next()?;
    before.split_whitespace().last()?.parse().ok()
}

/// The first `src=` of a listing line is the original direction's source.
fn original_source(line: &str) -> Option<IpAddr> {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("src="))
        .and_then(|a| a.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deleted_count_is_read_from_conntracks_summary() {
        assert_eq!(
            deleted_count(
                "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n"
            ),
            Some(0)
        );
        assert_eq!(
            deleted_count("conntrack v1.4.7 (conntrack-tools): 12 flow entries have been deleted."),
            Some(12)
        );
        assert_eq!(deleted_count("conntrack: Operation not permitted"), None);
    }

    #[test]
    fn the_original_source_is_the_first_src_of_a_listing_line() {
        let line = "udp      17 29 src=203.0.113.10 dst=192.0.2.10 sport=40000 dport=5060 \
                    src=192.0.2.10 dst=203.0.113.10 sport=5060 dport=40000 mark=0 use=1";
        assert_eq!(original_source(line), "203.0.113.10".parse().ok());
        assert_eq!(original_source("garbage"), None);
    }
}
