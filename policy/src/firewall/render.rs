//! The ruleset of table `inet sipwarden`, rendered from a checked policy and the current
//! contents of the timed sets.

use ipnet::IpNet;
use nftables::expr::Expression;
use nftables::schema::{NfCmd, NfListObject, SetFlag};
use nftables::stmt::Statement;
use nftables::types::NfHook;

use super::batch::NftBatch;
use super::nft::{self, Family};
use super::policy::{CheckedFirewallPolicy, Rate, RateTiers};
use super::state::{DynamicState, normalise, normalise_ports};
use super::{
    ALLOW_SET, AMI_SET, BAN_PORT_SET, BAN_SET, BLOCKLIST_SET, GUARD_CHAIN, KNOWN_SET, SIP_METHODS,
    TIMED_SET_SIZE,
};

/// Priority of our base chains: `filter - 10`, so banned sources are dropped before the
/// host's own filter chains (priority `filter`) spend time on them. It is still after
/// conntrack (-200), which the `ct state` rule needs.
const PRIORITY: i32 = -10;

/// The rendered ruleset: one `nft -j -f` transaction that replaces table `inet sipwarden`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    batch: NftBatch,
    summary: Vec<String>,
}

impl Ruleset {
    /// The JSON document for `nft -j -f` (byte-stable, see [`NftBatch::to_json`]).
    pub fn to_json(&self) -> String {
        self.batch.to_json()
    }

    /// The commands.
    pub fn batch(&self) -> &NftBatch {
        &self.batch
    }

    /// One line per rule, `chain: what it does`, in evaluation order, for the console and
    /// the API's preview.
    pub fn summary(&self) -> String {
        let mut text = self.summary.join("\n");
        text.push('\n');
        text
    }
}

/// Renders the transaction that makes table `inet sipwarden` match `policy`, carrying over
/// the bans, temporary allows and known-good sources in `state`.
///
/// # How the table is replaced
///
/// The batch starts with `add table`, `delete table`, `add table` (all `inet sipwarden`)
/// and then adds every object. `add` of an existing table is a no-op, so the `delete` never
/// fails on a first apply; deleting and recreating (rather than `flush table`, which only
/// empties chains) means no set, chain or meter of an older version survives, and a set whose
/// flags changed is recreated instead of failing. nft applies the whole file as one kernel
/// transaction: packets see the old table or the new one, never none. Only our table is
/// named, so other tables (the host's firewall, Docker's) are never touched.
///
/// # Why bans survive
///
/// Deleting the table deletes its sets' elements, so the renderer takes the sets' current
/// contents as `state` (with their remaining time) and re-adds them in the same
/// transaction. The alternative, leaving the ban sets in place and flushing only the chains,
/// would keep bans without a read, but would tie every future version to the sets' original
/// definitions and leave stale objects behind; a pure function of (policy, state) is also
/// what makes the golden files and the auto-revert exact. See [`DynamicState`] for the
/// single-writer rule this asks of the backend.
pub fn render_ruleset(policy: &CheckedFirewallPolicy, state: &DynamicState) -> Ruleset {
    let mut r = Renderer::default();
    r.add(NfListObject::Table(nft::table()));
    r.batch
        .push(NfCmd::Delete(NfListObject::Table(nft::table())));
    if !policy.enabled() {
        // Disabled: the add/delete pair above removes our table (and only ours), if present.
        r.summary
            .push("firewall disabled: table inet sipwarden removed".to_owned());
        return r.finish();
    }
    r.add(NfListObject::Table(nft::table()));
    r.sets(policy, state);
    r.chains(policy);
    r.finish()
}

#[derive(Default)]
struct Renderer {
    batch: NftBatch,
    summary: Vec<String>,
}

impl Renderer {
    fn finish(self) -> Ruleset {
        Ruleset {
            batch: self.batch,
            summary: self.summary,
        }
    }

    fn add(&mut self, object: NfListObject<'static>) {
        self.batch.push(NfCmd::Add(object));
    }

    fn elements(&mut self, set: String, elems: Vec<Expression<'static>>) {
        // nft refuses an `add element` with no elements.
        if !elems.is_empty() {
            self.add(nft::element(set, elems));
        }
    }

    fn rule(&mut self, chain: &'static str, expr: Vec<Statement<'static>>, comment: &str) {
        self.summary.push(format!("{chain}: {comment}"));
        self.add(nft::rule(chain, expr, comment));
    }

    fn sets(&mut self, policy: &CheckedFirewallPolicy, state: &DynamicState) {
        let pinned = policy.pinned_allow();
        let temporary = normalise(&state.temporary_allows);
        let bans = normalise(&state.bans);
        let known = normalise(&state.known_good);
        let port_bans = normalise_ports(&state.port_bans);
        for family in Family::BOTH {
            let of = |net: &&IpNet| Family::of_net(net) == family;
            // allow: interval for networks, timeout for "trust my address for N hours".
            let name = nft::set_name(ALLOW_SET, family);
            self.add(nft::set(
                name.clone(),
                family,
                &[SetFlag::Interval, SetFlag::Timeout],
                None,
            ));
            let mut elems: Vec<_> = pinned.iter().filter(of).map(nft::network).collect();
            // A temporary allow inside a pinned network is redundant, and an interval set
            // refuses overlapping elements, so it is left out.
            elems.extend(
                temporary
                    .iter()
                    .filter(|t| Family::of(t.address) == family)
                    .filter(|t| policy.pinned_allow_covering(t.address).is_none())
                    .map(|t| nft::timed(nft::address(t.address), t.timeout_secs)),
            );
            self.elements(name, elems);

            // ban: single addresses with timeouts, filled by the guard at run time.
            let name = nft::set_name(BAN_SET, family);
            self.add(nft::set(
                name.clone(),
                family,
                &[SetFlag::Timeout],
                Some(TIMED_SET_SIZE),
            ));
            let elems = bans
                .iter()
                .filter(|b| Family::of(b.address) == family)
                .map(|b| nft::timed(nft::address(b.address), b.timeout_secs))
                .collect();
            self.elements(name, elems);

            // banport: one source port of an address (a phone behind a NAT address whose
            // other phones must go on working), filled by the guard at run time.
            let name = nft::set_name(BAN_PORT_SET, family);
            self.add(nft::port_set(name.clone(), family, TIMED_SET_SIZE));
            let elems = port_bans
                .iter()
                .filter(|b| Family::of(b.source.ip()) == family)
                .map(|b| {
                    nft::timed(
                        nft::address_port(b.source.ip(), b.source.port()),
                        b.timeout_secs,
                    )
                })
                .collect();
            self.elements(name, elems);

            // blocklist: networks; imported lists will be added here later.
            let name = nft::set_name(BLOCKLIST_SET, family);
            self.add(nft::set(name.clone(), family, &[SetFlag::Interval], None));
            let elems = policy
                .blocklist()
                .iter()
                .filter(of)
                .map(nft::network)
                .collect();
            self.elements(name, elems);

            // known: sources that authenticated recently; they get the generous rate tier.
            let name = nft::set_name(KNOWN_SET, family);
            self.add(nft::set(
                name.clone(),
                family,
                &[SetFlag::Timeout],
                Some(TIMED_SET_SIZE),
            ));
            let elems = known
                .iter()
                .filter(|k| Family::of(k.address) == family)
                .map(|k| nft::timed(nft::address(k.address), k.timeout_secs))
                .collect();
            self.elements(name, elems);

            // ami: the AMI users' networks.
            let name = nft::set_name(AMI_SET, family);
            self.add(nft::set(name.clone(), family, &[SetFlag::Interval], None));
            let elems = policy
                .ami_networks()
                .iter()
                .filter(of)
                .map(nft::network)
                .collect();
            self.elements(name, elems);
        }
    }

    fn chains(&mut self, policy: &CheckedFirewallPolicy) {
        // Base chains use `policy accept`: sipwarden drops only what it has a reason to drop
        // (a ban, a blocklist entry, a rate, a closed management port). Whatever else reaches
        // the host stays the business of the host's own firewall; a second table with
        // `policy drop` would silently break services nobody told us about. An `accept` here
        // ends only this table's verdict, so it never overrides a drop elsewhere.
        //
        // Both `input` (Asterisk on the host) and `forward` (Asterisk in a container, reached
        // through the bridge after DNAT) jump to one `guard` chain, so both see the same rules.
        self.add(NfListObject::Chain(nft::base_chain(
            "input",
            NfHook::Input,
            PRIORITY,
        )));
        self.add(NfListObject::Chain(nft::base_chain(
            "forward",
            NfHook::Forward,
            PRIORITY,
        )));
        self.add(NfListObject::Chain(nft::regular_chain(GUARD_CHAIN)));
        self.rule("input", vec![nft::jump(GUARD_CHAIN)], "sipwarden guard");
        self.rule("forward", vec![nft::jump(GUARD_CHAIN)], "sipwarden guard");
        self.guard_rules(policy);
    }

    fn guard_rules(&mut self, policy: &CheckedFirewallPolicy) {
        let g = GUARD_CHAIN;
        let ports = policy.ports();
        // Loopback carries the local AMI clients and the console's own traffic; the kernel
        // never accepts a packet from outside on `lo`, so nothing here can be spoofed in.
        self.rule(
            g,
            vec![nft::from_loopback(), nft::accept()],
            "loopback is never dropped",
        );
        // Allow comes first: trusted and pinned admin addresses are never dropped by any later
        // rule, not even a ban (invariant: nobody locks themselves out).
        for f in Family::BOTH {
            let set = nft::set_name(ALLOW_SET, f);
            self.rule(
                g,
                vec![nft::saddr_in(f, &set, true), nft::accept()],
                &format!("allowlisted source ({set})"),
            );
        }
        // Bans and the blocklist match every packet, not only new flows: a ban must cut a
        // flow that is already established (the backend also deletes its conntrack entries,
        // but the rule alone already stops it).
        for f in Family::BOTH {
            let set = nft::set_name(BAN_SET, f);
            self.rule(
                g,
                vec![nft::saddr_in(f, &set, true), nft::counter(), nft::drop()],
                &format!("banned source ({set})"),
            );
        }
        for f in Family::BOTH {
            let set = nft::set_name(BAN_PORT_SET, f);
            let mut expr = nft::saddr_sport_in(f, &set);
            expr.extend([nft::counter(), nft::drop()]);
            self.rule(g, expr, &format!("banned source port ({set})"));
        }
        for f in Family::BOTH {
            let set = nft::set_name(BLOCKLIST_SET, f);
            self.rule(
                g,
                vec![nft::saddr_in(f, &set, true), nft::counter(), nft::drop()],
                &format!("blocklisted source ({set})"),
            );
        }
        // SIP over UDP, per method and source. These run before the established fast path on
        // purpose: conntrack calls a UDP flow "established" as soon as Asterisk answered once
        // (a 401 is an answer), so a scanner would pass every later packet.
        //
        // Matching the method at the start of the payload misses a request padded with leading
        // CRLFs (which RFC 3261 lets servers skip); the guard, which parses SIP, still sees it.
        let rates = policy.rate_limits();
        for (method, tiers) in [
            (SIP_METHODS[0], rates.register),
            (SIP_METHODS[1], rates.invite),
            (SIP_METHODS[2], rates.options),
        ] {
            let name = method.trim_end().to_ascii_lowercase();
            for f in Family::BOTH {
                self.metered(
                    f,
                    &format!("sip_{name}"),
                    tiers,
                    vec![
                        nft::dport("udp", &[ports.sip_udp]),
                        nft::udp_payload_starts_with(method.as_bytes()),
                    ],
                    &format!("udp {} {}", ports.sip_udp, method.trim_end()),
                );
            }
        }
        // AMI: loopback and allowlisted sources were accepted above; the AMI users' networks
        // are accepted here; everyone else is dropped, established sessions included, so
        // narrowing the AMI networks takes effect at once.
        for f in Family::BOTH {
            let set = nft::set_name(AMI_SET, f);
            self.rule(
                g,
                vec![
                    nft::nfproto(f),
                    nft::dport("tcp", &[ports.ami]),
                    nft::saddr_in(f, &set, true),
                    nft::accept(),
                ],
                &format!("AMI from its users' networks ({set})"),
            );
        }
        self.rule(
            g,
            vec![nft::dport("tcp", &[ports.ami]), nft::counter(), nft::drop()],
            "AMI closed to everyone else",
        );
        if policy.restrict_console() {
            // Admin networks are in the allow sets, accepted above together with loopback and
            // trusted networks; whoever reaches this rule is none of them.
            self.rule(
                g,
                vec![
                    nft::dport("tcp", &[ports.console]),
                    nft::counter(),
                    nft::drop(),
                ],
                "console only for loopback, trusted and admin networks",
            );
        }
        // The established/related fast path sits here, after every rule that must see all
        // packets (bans, blocklist, UDP meters, AMI, console): what follows only concerns new
        // TCP connections, so an established flow has nothing left to fear.
        self.rule(
            g,
            vec![nft::ct_state(&["established", "related"]), nft::accept()],
            "established flows passed every check above",
        );
        // SIP over TCP and TLS: the payload is a stream (and encrypted for TLS), so count new
        // connections per source instead of requests.
        for f in Family::BOTH {
            self.metered(
                f,
                "sip_conn",
                rates.tcp_connections,
                vec![
                    nft::dport("tcp", &[ports.sip_tcp, ports.sip_tls]),
                    nft::ct_state(&["new"]),
                ],
                &format!("new tcp connections to {}/{}", ports.sip_tcp, ports.sip_tls),
            );
        }
    }

    /// Two rules: sources in the known set against the known tier, all others against the
    /// unknown tier. The set test is in both rules, so a known source under its generous
    /// limit never falls through to the tight one.
    fn metered(
        &mut self,
        family: Family,
        meter: &str,
        tiers: RateTiers,
        matches: Vec<Statement<'static>>,
        what: &str,
    ) {
        let known_set = nft::set_name(KNOWN_SET, family);
        for (tier, rate, member) in [
            ("known", tiers.known, true),
            ("unknown", tiers.unknown, false),
        ] {
            let mut expr = vec![nft::nfproto(family)];
            expr.extend(matches.iter().cloned());
            expr.push(nft::saddr_in(family, &known_set, member));
            expr.push(nft::meter(
                nft::set_name(&format!("{meter}_{tier}"), family),
                nft::meter_key(family),
                meter_timeout(rate),
                rate.per_minute,
                rate.burst,
            ));
            expr.push(nft::counter());
            expr.push(nft::drop());
            self.rule(
                GUARD_CHAIN,
                expr,
                &format!(
                    "{what} over {}/min burst {} ({tier} {})",
                    rate.per_minute,
                    rate.burst,
                    family.suffix()
                ),
            );
        }
    }
}

/// How long a source's bucket is kept after its last packet: at least a minute, and at least
/// the time an empty bucket needs to refill, so an attacker gains nothing by pausing until the
/// entry expires and starting again with a full burst.
fn meter_timeout(rate: Rate) -> u32 {
    let refill = (u64::from(rate.burst) * 60).div_ceil(u64::from(rate.per_minute.max(1)));
    u32::try_from(refill.max(60)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_kept_at_least_a_minute() {
        assert_eq!(meter_timeout(Rate::new(600, 120)), 60);
    }

    #[test]
    fn a_bucket_is_kept_until_it_has_refilled() {
        // 30 packets of burst at 10 per minute take three minutes to refill.
        assert_eq!(meter_timeout(Rate::new(10, 30)), 180);
        assert_eq!(meter_timeout(Rate::new(7, 10)), 86);
    }
}
