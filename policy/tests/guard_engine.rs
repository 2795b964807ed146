//! The detection engine, one detector at a time, driven through the real extractor: each test
//! writes the SIP (or AMI) Asterisk would see, so the whole path is covered.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use policy::guard::{
    AccountRules, DialPattern, Direction, Engine, EventKind, GuardModel, GuardPolicy, Observation,
    Outcome, Timestamp, Transport, TrunkRules, Verdict, parse_message, parse_security_event,
};

const T0: u64 = 1_750_000_000; // some time in 2025, seconds

fn at(secs: u64) -> Timestamp {
    Timestamp::from_secs(T0 + secs)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// An engine plus helpers that write SIP like a phone, an attacker and Asterisk.
struct Pbx {
    engine: Engine,
    call: u32,
    /// The nonce requests with credentials answer (the last one Asterisk sent, or a forged
    /// one nobody sent).
    nonce: String,
}

/// Adds `b` to `a`.
fn merge(a: &mut Verdict, b: Verdict) {
    a.events.extend(b.events);
    a.bans.extend(b.bans);
    a.known.extend(b.known);
}

impl Pbx {
    fn new(policy: GuardPolicy) -> Self {
        Self {
            engine: Engine::new(policy).expect("valid policy"),
            call: 0,
            nonce: "never-sent".to_owned(),
        }
    }

    fn with_model(mut self, model: GuardModel) -> Self {
        self.engine.set_model(model);
        self
    }

    fn sip(&mut self, now: Timestamp, peer: &str, direction: Direction, bytes: &[u8]) -> Verdict {
        self.sip_over(now, peer, direction, Transport::Udp, bytes)
    }

    fn sip_over(
        &mut self,
        now: Timestamp,
        peer: &str,
        direction: Direction,
        transport: Transport,
        bytes: &[u8],
    ) -> Verdict {
        let msg = parse_message(bytes).expect("test SIP parses");
        let obs = Observation::from_sip(&msg, now, addr(peer), transport, direction);
        self.engine.observe(&obs, now)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a SIP request has that many fields worth varying"
    )]
    fn request(
        &mut self,
        now: Timestamp,
        peer: &str,
        method: &str,
        ruri_user: Option<&str>,
        from: &str,
        to: &str,
        auth: Option<&str>,
        user_agent: &str,
        call_id: &str,
        cseq: u32,
    ) -> Verdict {
        let ruri = match ruri_user {
            Some(u) => format!("sip:{u}@pbx.example.com"),
            None => "sip:pbx.example.com".to_owned(),
        };
        let nonce = &self.nonce;
        let auth = auth
            .map(|u| {
                format!(
                    "Authorization: Digest username=\"{u}\", realm=\"asterisk\", nonce=\"{nonce}\", uri=\"{ruri}\", response=\"0\"\r\n"
                )
            })
            .unwrap_or_default();
        let bytes = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {peer};branch=z9hG4bK{cseq}\r\n\
From: <sip:{from}@pbx.example.com>;tag=t\r\nTo: <sip:{to}@pbx.example.com>\r\n\
Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{auth}User-Agent: {user_agent}\r\nContent-Length: 0\r\n\r\n"
        );
        self.sip(now, peer, Direction::ToAsterisk, bytes.as_bytes())
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a SIP response has that many fields worth varying"
    )]
    fn response(
        &mut self,
        now: Timestamp,
        peer: &str,
        status: u16,
        method: &str,
        call_id: &str,
        cseq: u32,
        extra: &str,
    ) -> Verdict {
        let bytes = format!(
            "SIP/2.0 {status} Whatever\r\nVia: SIP/2.0/UDP {peer};branch=z9hG4bK{cseq}\r\n\
From: <sip:x@pbx.example.com>;tag=t\r\nTo: <sip:x@pbx.example.com>;tag=as\r\n\
Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Server: Asterisk PBX 22.1.0\r\nContent-Length: 0\r\n\r\n"
        );
        self.sip(now, peer, Direction::FromAsterisk, bytes.as_bytes())
    }

    /// Asterisk's 401 with a fresh nonce, which later requests with credentials answer.
    fn challenge(
        &mut self,
        now: Timestamp,
        peer: &str,
        method: &str,
        call_id: &str,
        cseq: u32,
    ) -> Verdict {
        self.call += 1;
        self.nonce = format!("{}/{:08x}", now.0 / 1000, self.call);
        let header = format!(
            "WWW-Authenticate: Digest realm=\"asterisk\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"\r\n",
            self.nonce
        );
        self.response(now, peer, 401, method, call_id, cseq, &header)
    }

    /// What a phone (or svcrack) does to log in as `user`: a REGISTER, Asterisk's challenge,
    /// the REGISTER again with credentials answering that challenge, and Asterisk's `status`
    /// answer. Returns every verdict of the exchange together.
    fn login(&mut self, now: Timestamp, peer: &str, user: &str, status: u16) -> Verdict {
        self.call += 1;
        let call_id = format!("call-{}", self.call);
        let mut v = self.request(
            now,
            peer,
            "REGISTER",
            None,
            user,
            user,
            None,
            "Yealink SIP-T46S",
            &call_id,
            1,
        );
        merge(&mut v, self.challenge(now, peer, "REGISTER", &call_id, 1));
        merge(
            &mut v,
            self.request(
                now,
                peer,
                "REGISTER",
                None,
                user,
                user,
                Some(user),
                "Yealink SIP-T46S",
                &call_id,
                2,
            ),
        );
        merge(
            &mut v,
            self.response(now, peer, status, "REGISTER", &call_id, 2, ""),
        );
        v
    }

    /// A REGISTER with credentials whose nonce Asterisk never sent to `peer` (what a forger
    /// writing datagrams with somebody else's address can do), and Asterisk's answer.
    fn forged_login(&mut self, now: Timestamp, peer: &str, user: &str, status: u16) -> Verdict {
        self.call += 1;
        self.nonce = format!("forged-{}", self.call);
        let call_id = format!("forged-{}", self.call);
        let mut v = self.request(
            now,
            peer,
            "REGISTER",
            None,
            user,
            user,
            Some(user),
            "Yealink SIP-T46S",
            &call_id,
            2,
        );
        merge(
            &mut v,
            self.response(now, peer, status, "REGISTER", &call_id, 2, ""),
        );
        v
    }

    fn ami(&mut self, now: Timestamp, block: &str) -> Verdict {
        let event = parse_security_event(block.as_bytes()).expect("AMI parses");
        let obs = event.observation(now).expect("has an address");
        self.engine.observe(&obs, now)
    }
}

fn kinds(v: &Verdict) -> Vec<EventKind> {
    v.events.iter().map(|e| e.kind).collect()
}

// ---------------------------------------------------------------- password guessing

#[test]
fn guessing_bans_on_exactly_the_nth_failed_challenge() {
    for n in [1u32, 3, 5, 8] {
        let mut policy = GuardPolicy::default();
        policy.guessing.max_failures = n;
        let mut pbx = Pbx::new(policy);
        for i in 1..n {
            let v = pbx.login(at(u64::from(i)), "203.0.113.9:5060", "1001", 401);
            assert!(v.is_empty(), "failure {i} of {n} must not ban: {v:?}");
        }
        let v = pbx.login(at(u64::from(n)), "203.0.113.9:5060", "1001", 401);
        assert_eq!(kinds(&v), [EventKind::Guessing], "failure {n} of {n} bans");
        assert_eq!(v.bans.len(), 1);
        assert_eq!(v.bans[0].source, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(v.bans[0].offence, 1);
        assert!(
            v.bans[0].proven,
            "it answered Asterisk's nonce: the address is proven"
        );
        assert_eq!(v.bans[0].duration, Duration::from_secs(900));
        assert_eq!(v.events[0].outcome, Outcome::Banned);
        assert_eq!(v.events[0].account.as_deref(), Some("1001"));
        assert_eq!(v.events[0].method.as_deref(), Some("401 to REGISTER"));
        assert!(
            v.events[0]
                .evidence
                .contains(&format!("{n} failed challenges"))
        );
    }
}

#[test]
fn a_banned_source_produces_nothing_more_until_the_ban_ends() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..5 {
        pbx.login(at(i), "203.0.113.9:5060", "1001", 401);
    }
    assert!(
        pbx.engine
            .banned_until(addr("203.0.113.9:1").ip(), at(5))
            .is_some()
    );
    for i in 0..20 {
        assert!(
            pbx.login(at(10 + i), "203.0.113.9:5060", "1001", 401)
                .is_empty()
        );
    }
    assert!(pbx.engine.stats().from_banned >= 20);
    // After the 15-minute ban the source is judged afresh (and is a repeat offender).
    let mut last = Verdict::default();
    for i in 0..5 {
        last = pbx.login(at(1000 + i), "203.0.113.9:5060", "1001", 401);
    }
    assert_eq!(last.bans[0].offence, 2);
}

#[test]
fn the_first_challenge_of_every_request_is_no_failure() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..20 {
        let call_id = format!("c{i}");
        let v = pbx.request(
            at(i),
            "198.51.100.7:5060",
            "REGISTER",
            None,
            "1001",
            "1001",
            None,
            "Yealink",
            &call_id,
            1,
        );
        assert!(v.is_empty());
        let v = pbx.response(at(i), "198.51.100.7:5060", 401, "REGISTER", &call_id, 1, "");
        assert!(v.is_empty());
    }
}

#[test]
fn a_stale_nonce_challenge_is_no_failure() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..10u32 {
        let call_id = format!("c{i}");
        pbx.request(
            at(u64::from(i)),
            "198.51.100.7:5060",
            "REGISTER",
            None,
            "1001",
            "1001",
            Some("1001"),
            "Yealink",
            &call_id,
            2,
        );
        let v = pbx.response(
            at(u64::from(i)),
            "198.51.100.7:5060",
            401,
            "REGISTER",
            &call_id,
            2,
            "WWW-Authenticate: Digest realm=\"asterisk\", nonce=\"new\", stale=true, algorithm=MD5\r\n",
        );
        assert!(v.is_empty(), "stale nonce {i} counted: {v:?}");
    }
}

#[test]
fn a_challenge_answering_another_cseq_is_not_matched() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..10u32 {
        let call_id = format!("c{i}");
        pbx.request(
            at(u64::from(i)),
            "203.0.113.9:5060",
            "REGISTER",
            None,
            "1001",
            "1001",
            Some("1001"),
            "x",
            &call_id,
            2,
        );
        // Asterisk's answer to the unauthenticated CSeq 1, not to the credentials.
        let v = pbx.response(
            at(u64::from(i)),
            "203.0.113.9:5060",
            401,
            "REGISTER",
            &call_id,
            1,
            "",
        );
        assert!(v.is_empty());
    }
}

#[test]
fn chan_sip_403_and_invite_407_count_as_failures() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..4 {
        assert!(pbx.login(at(i), "203.0.113.9:5060", "1001", 403).is_empty());
    }
    let call_id = "inv";
    pbx.request(
        at(5),
        "203.0.113.9:5060",
        "INVITE",
        Some("100"),
        "1001",
        "100",
        Some("1001"),
        "x",
        call_id,
        2,
    );
    let v = pbx.response(at(5), "203.0.113.9:5060", 407, "INVITE", call_id, 2, "");
    assert_eq!(kinds(&v), [EventKind::Guessing]);
}

#[test]
fn guessing_failures_expire_with_the_window() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 5 in 600 s
    for i in 0..4 {
        assert!(pbx.login(at(i), "203.0.113.9:5060", "1001", 401).is_empty());
    }
    for i in 0..4 {
        assert!(
            pbx.login(at(700 + i), "203.0.113.9:5060", "1001", 401)
                .is_empty()
        );
    }
    assert_eq!(
        kinds(&pbx.login(at(710), "203.0.113.9:5060", "1001", 401)),
        [EventKind::Guessing]
    );
}

#[test]
fn ami_challenge_response_failed_bans_on_the_nth_event() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let block = "Event: ChallengeResponseFailed\r\nPrivilege: security,all\r\nService: PJSIP\r\n\
AccountID: 1001\r\nSessionID: abc\r\nLocalAddress: IPV4/UDP/192.0.2.5/5060\r\n\
RemoteAddress: IPV4/UDP/192.0.2.66/5060\r\nChallenge: x\r\nResponse: y\r\nExpectedResponse:\r\n\r\n";
    for i in 0..4 {
        assert!(pbx.ami(at(i), block).is_empty());
    }
    let v = pbx.ami(at(4), block);
    assert_eq!(kinds(&v), [EventKind::Guessing]);
    assert_eq!(
        v.events[0].method.as_deref(),
        Some("ChallengeResponseFailed")
    );
    assert_eq!(v.bans[0].source, "192.0.2.66".parse::<IpAddr>().unwrap());
}

const CRF_FROM_9: &str = "Event: ChallengeResponseFailed\r\nService: PJSIP\r\nAccountID: 1001\r\n\
SessionID: x\r\nRemoteAddress: IPV4/UDP/203.0.113.9/5060\r\n\r\n";

#[test]
fn a_failure_seen_on_the_wire_and_in_a_security_event_counts_once() {
    // Both taps report every wrong password; the ban still lands on exactly the 5th, in
    // whichever order the two reports arrive.
    for wire_first in [true, false] {
        let mut pbx = Pbx::new(GuardPolicy::default());
        for i in 0..4 {
            if wire_first {
                assert!(pbx.login(at(i), "203.0.113.9:5060", "1001", 401).is_empty());
                assert!(pbx.ami(at(i), CRF_FROM_9).is_empty(), "echo {i} counted");
            } else {
                assert!(pbx.ami(at(i), CRF_FROM_9).is_empty());
                assert!(
                    pbx.login(at(i), "203.0.113.9:5060", "1001", 401).is_empty(),
                    "echo {i} counted"
                );
            }
        }
        let v = if wire_first {
            pbx.login(at(4), "203.0.113.9:5060", "1001", 401)
        } else {
            pbx.ami(at(4), CRF_FROM_9)
        };
        assert_eq!(kinds(&v), [EventKind::Guessing], "wire first: {wire_first}");
        assert_eq!(pbx.engine.stats().echoed_failures, 4);
    }
}

#[test]
fn failures_only_one_tap_sees_still_count() {
    // Three seen by both, then two the wire missed (a fragmented request, say): five.
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..3 {
        assert!(pbx.login(at(i), "203.0.113.9:5060", "1001", 401).is_empty());
        assert!(pbx.ami(at(i), CRF_FROM_9).is_empty());
    }
    assert!(pbx.ami(at(3), CRF_FROM_9).is_empty());
    assert_eq!(kinds(&pbx.ami(at(4), CRF_FROM_9)), [EventKind::Guessing]);
}

#[test]
fn a_report_long_after_the_other_taps_is_a_new_failure() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..4 {
        assert!(pbx.login(at(i), "203.0.113.9:5060", "1001", 401).is_empty());
    }
    assert_eq!(kinds(&pbx.ami(at(60), CRF_FROM_9)), [EventKind::Guessing]);
}

#[test]
fn chan_sip_invalid_password_and_unknown_accounts_count_too() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let unknown = "Event: ChallengeResponseFailed\nAccountID: <unknown>\nRemoteAddress: IPV4/UDP/192.0.2.66/5060\n";
    let invalid = "Event: InvalidPassword\nService: SIP\nAccountID: 1001\nRemoteAddress: IPV4/UDP/192.0.2.66/5060\n";
    for i in 0..2 {
        assert!(pbx.ami(at(i), unknown).is_empty());
        assert!(pbx.ami(at(i), invalid).is_empty());
    }
    assert_eq!(kinds(&pbx.ami(at(3), unknown)), [EventKind::Guessing]);
}

// ---------------------------------------------------------------- allowlist and NAT offices

#[test]
fn a_source_the_firewall_trusts_is_never_banned_but_still_reported() {
    let model = GuardModel::default().with_trusted(vec!["203.0.113.0/24".parse().unwrap()]);
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(model);
    let mut events = Vec::new();
    for i in 0..200 {
        let v = pbx.login(at(i), "203.0.113.9:5060", "1001", 401);
        assert!(v.bans.is_empty(), "trusted source banned");
        events.extend(v.events);
    }
    // Reported when the threshold is crossed, then at most once a minute.
    assert!(!events.is_empty());
    assert!(events.len() <= 1 + 200 / 60, "{} events", events.len());
    assert!(events.iter().all(|e| e.outcome == Outcome::Allowlisted));
    assert_eq!(pbx.engine.stats().bans, 0);
    // Scanners too.
    let v = pbx.request(
        at(300),
        "203.0.113.9:5060",
        "OPTIONS",
        Some("100"),
        "100",
        "100",
        None,
        "friendly-scanner",
        "s",
        1,
    );
    assert!(v.bans.is_empty());
    assert_eq!(v.events[0].outcome, Outcome::Allowlisted);
}

#[test]
fn an_ipv4_mapped_address_is_the_same_source() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..4 {
        pbx.login(at(i), "203.0.113.9:5060", "1001", 401);
    }
    let v = pbx.login(at(5), "[::ffff:203.0.113.9]:5060", "1001", 401);
    assert_eq!(v.bans[0].source, "203.0.113.9".parse::<IpAddr>().unwrap());
}

/// Twenty accounts, all allowed from the office network.
fn office_model() -> GuardModel {
    let accounts = (0..20)
        .map(|i| AccountRules {
            name: format!("acct{i}"),
            extension: Some(format!("{}", 100 + i)),
            permitted: vec!["198.51.100.0/24".parse().expect("a network")],
            denied: vec![],
            may_dial: vec![],
        })
        .collect();
    GuardModel::new(accounts, vec![])
}

#[test]
fn an_office_of_twenty_phones_behind_one_address_is_never_banned_and_its_stale_phone_is_stopped_by_port()
 {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(office_model());
    let office = |port: u32| format!("198.51.100.20:{}", 5060 + port);
    // Twenty phones register, each from its own NAT port, and re-register every minute for
    // an hour.
    let mut known = Vec::new();
    for minute in 0..60u64 {
        for phone in 0..20u32 {
            let v = pbx.login(
                at(minute * 60 + u64::from(phone)),
                &office(phone),
                &format!("acct{phone}"),
                200,
            );
            assert!(v.is_quiet(), "phone {phone} at minute {minute}: {v:?}");
            known.extend(v.known);
        }
    }
    // The firewall hears of the known address once an hour, not at every registration.
    assert_eq!(known.len(), 1, "{known:?}");
    assert_eq!(known[0].source, "198.51.100.20".parse::<IpAddr>().unwrap());
    // A twenty-first phone with a stale password fails and retries from its own port.
    let stale = office(20);
    for attempt in 1..5u64 {
        let v = pbx.login(at(3600 + attempt), &stale, "acct7", 401);
        assert!(v.is_quiet(), "failure {attempt} acted: {v:?}");
    }
    let v = pbx.login(at(3605), &stale, "acct7", 401);
    assert_eq!(kinds(&v), [EventKind::Guessing]);
    assert_eq!(v.events[0].outcome, Outcome::BannedPort);
    assert_eq!(v.events[0].detector, "guessing-port");
    assert!(
        v.events[0].evidence.contains("only port 5080"),
        "{}",
        v.events[0].evidence
    );
    assert_eq!(v.bans.len(), 1);
    assert_eq!(v.bans[0].port, Some(5080));
    // Its port is dropped from now on; the other phones go on registering.
    assert!(pbx.login(at(3606), &stale, "acct7", 401).is_empty());
    for phone in 0..20u32 {
        let v = pbx.login(
            at(3610 + u64::from(phone)),
            &office(phone),
            &format!("acct{phone}"),
            200,
        );
        assert!(v.is_quiet(), "phone {phone} after the stale one: {v:?}");
    }
    assert!(
        pbx.engine
            .banned_until("198.51.100.20".parse().unwrap(), at(3700))
            .is_none()
    );
    assert_eq!(pbx.engine.stats().port_bans, 1);
}

#[test]
fn a_known_address_is_banned_whole_only_at_the_higher_threshold() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(office_model()); // 5 per port, 30 per address
    pbx.login(at(0), "198.51.100.20:5060", "acct0", 200);
    let mut port_bans = 0;
    let mut whole = None;
    // A guesser behind the office address, moving to a new port after each port ban.
    for i in 0..40u32 {
        let peer = format!("198.51.100.20:{}", 6000 + i / 5);
        let v = pbx.login(at(10 + u64::from(i)), &peer, "acct3", 401);
        port_bans += v.bans.iter().filter(|b| b.port.is_some()).count();
        if let Some(b) = v.bans.iter().find(|b| b.port.is_none()) {
            whole = Some((i + 1, *b, v.events[0].detector));
            break;
        }
    }
    let (failures, ban, detector) = whole.expect("banned as a whole in the end");
    assert_eq!(failures, 30);
    assert_eq!(detector, "guessing-known-address");
    assert!(ban.proven);
    assert_eq!(port_bans, 5, "one per exhausted port before that");
}

#[test]
fn the_known_status_ends_with_the_trust_period() {
    let mut policy = GuardPolicy::default();
    policy.guessing.trust_secs = 3600;
    let mut pbx = Pbx::new(policy).with_model(office_model());
    let office = "198.51.100.20:5060";
    pbx.login(at(0), office, "acct1", 200);
    assert!(
        pbx.engine
            .is_known("198.51.100.20".parse().unwrap(), at(3599))
    );
    assert!(
        !pbx.engine
            .is_known("198.51.100.20".parse().unwrap(), at(3601))
    );
    for i in 0..4 {
        assert!(pbx.login(at(4000 + i), office, "acct1", 401).is_quiet());
    }
    let v = pbx.login(at(4005), office, "acct1", 401);
    assert_eq!(
        v.events[0].outcome,
        Outcome::Banned,
        "an ordinary source again"
    );
}

#[test]
fn unproven_evidence_never_bans_a_known_address_but_a_stranger_briefly() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(office_model());
    pbx.login(at(0), "198.51.100.20:5060", "acct1", 200);
    // Forged failures and a forged scanner datagram "from" the office.
    for i in 0..40 {
        let v = pbx.forged_login(at(10 + i), "198.51.100.20:5070", "acct1", 401);
        assert!(
            v.bans.is_empty(),
            "forged failure {i} banned the office: {v:?}"
        );
        assert!(
            v.events
                .iter()
                .all(|e| e.outcome == Outcome::Protected && !e.proven)
        );
    }
    let v = pbx.request(
        at(60),
        "198.51.100.20:5080",
        "OPTIONS",
        None,
        "x",
        "x",
        None,
        "friendly-scanner",
        "f",
        1,
    );
    assert!(v.bans.is_empty());
    assert_eq!(v.events[0].outcome, Outcome::Protected);
    assert!(
        v.events[0].evidence.contains("unproven"),
        "{}",
        v.events[0].evidence
    );
    // The same forgeries against an address that never logged in ban it, briefly, and it
    // counts as no offence.
    let mut last = Verdict::default();
    for i in 0..5 {
        last = pbx.forged_login(at(100 + i), "203.0.113.40:5060", "1001", 401);
    }
    assert_eq!(last.events[0].outcome, Outcome::Banned);
    assert!(!last.bans[0].proven);
    assert_eq!(last.bans[0].duration, Duration::from_secs(300));
    assert_eq!(last.bans[0].offence, 0);
    assert!(pbx.engine.export_offences().is_empty());
}

#[test]
fn a_nonce_sent_to_another_address_proves_nothing() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    // Asterisk challenges the real office phone...
    pbx.challenge(at(0), "198.51.100.20:5060", "REGISTER", "c", 1);
    // ...and somebody elsewhere replays that nonce with a wrong password.
    let mut last = Verdict::default();
    for i in 0..5 {
        merge(
            &mut last,
            pbx.request(
                at(1 + i),
                "203.0.113.41:5060",
                "REGISTER",
                None,
                "1001",
                "1001",
                Some("1001"),
                "x",
                &format!("r{i}"),
                2,
            ),
        );
        last = pbx.response(
            at(1 + i),
            "203.0.113.41:5060",
            401,
            "REGISTER",
            &format!("r{i}"),
            2,
            "",
        );
    }
    assert!(!last.bans[0].proven);
}

#[test]
fn failed_challenges_over_tcp_are_proven_without_a_nonce() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let mut last = Verdict::default();
    for i in 0..5u32 {
        let call = format!("t{i}");
        let req = format!(
            "REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP 203.0.113.42:40000;branch=z9hG4bK{i}\r\nFrom: <sip:1001@pbx>;tag=1\r\nTo: <sip:1001@pbx>\r\nCall-ID: {call}\r\nCSeq: 2 REGISTER\r\nAuthorization: Digest username=\"1001\", nonce=\"x\", response=\"0\"\r\nContent-Length: 0\r\n\r\n"
        );
        pbx.sip_over(
            at(u64::from(i)),
            "203.0.113.42:40000",
            Direction::ToAsterisk,
            Transport::Tcp,
            req.as_bytes(),
        );
        let resp = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/TCP 203.0.113.42:40000;branch=z9hG4bK{i}\r\nFrom: <sip:1001@pbx>;tag=1\r\nTo: <sip:1001@pbx>;tag=2\r\nCall-ID: {call}\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n"
        );
        last = pbx.sip_over(
            at(u64::from(i)),
            "203.0.113.42:40000",
            Direction::FromAsterisk,
            Transport::Tcp,
            resp.as_bytes(),
        );
    }
    assert!(last.bans[0].proven);
    assert_eq!(last.bans[0].duration, Duration::from_secs(900));
}

#[test]
fn ami_alone_proves_an_address_by_matching_the_challenges() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let sent = |n: u32| {
        format!(
            "Event: ChallengeSent\nService: PJSIP\nAccountID: 1001\nRemoteAddress: IPV4/UDP/203.0.113.43/5060\nChallenge: 17000{n}/ab\n"
        )
    };
    let failed = |n: u32| {
        format!(
            "Event: ChallengeResponseFailed\nService: PJSIP\nAccountID: 1001\nRemoteAddress: IPV4/UDP/203.0.113.43/5060\nChallenge: 17000{n}/ab\n"
        )
    };
    let mut last = Verdict::default();
    for i in 0..5 {
        assert!(pbx.ami(at(u64::from(i)), &sent(i)).is_empty());
        last = pbx.ami(at(u64::from(i)), &failed(i));
    }
    assert_eq!(kinds(&last), [EventKind::Guessing]);
    assert!(last.bans[0].proven);
}

#[test]
fn the_hosts_gateway_is_banned_by_port_on_proof_and_never_whole() {
    let model = GuardModel::default().with_infrastructure(vec!["192.0.2.1/32".parse().unwrap()]);
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(model);
    // Behind a gateway that masquerades every outside caller, each caller has its own port.
    let mut bans = Vec::new();
    for i in 0..60u32 {
        let peer = format!("192.0.2.1:{}", 30000 + i / 5);
        bans.extend(pbx.login(at(u64::from(i)), &peer, "1001", 401).bans);
    }
    assert_eq!(bans.len(), 12);
    assert!(bans.iter().all(|b| b.port.is_some()));
    // A forged scanner datagram from it: reported, nothing banned.
    let v = pbx.request(
        at(100),
        "192.0.2.1:5060",
        "OPTIONS",
        None,
        "x",
        "x",
        None,
        "friendly-scanner",
        "g",
        1,
    );
    assert!(v.bans.is_empty());
    assert_eq!(v.events[0].outcome, Outcome::Protected);
}

#[test]
fn a_login_after_failures_from_the_same_source_is_reported_once_and_not_banned() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 5 failures ban
    let guesser = "203.0.113.50:5060";
    for i in 0..3 {
        assert!(pbx.login(at(i), guesser, "alice", 401).is_empty());
    }
    let v = pbx.login(at(3), guesser, "alice", 200);
    assert_eq!(kinds(&v), [EventKind::LoginAfterFailures]);
    assert_eq!(v.events[0].outcome, Outcome::Reported);
    assert_eq!(v.events[0].account.as_deref(), Some("alice"));
    assert!(
        v.events[0].evidence.contains("after 3 failed"),
        "{:?}",
        v.events[0]
    );
    assert!(v.bans.is_empty());
    // A login after failures (maybe a guess that hit) does not make the address known.
    assert!(v.known.is_empty());
    assert!(!pbx.engine.is_known("203.0.113.50".parse().unwrap(), at(4)));
    // Re-registering within the login it earned is not news.
    assert!(pbx.login(at(120), guesser, "alice", 200).is_quiet());
}

#[test]
fn a_login_without_failures_before_it_is_no_event() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    assert!(
        pbx.login(at(0), "198.51.100.7:5060", "alice", 200)
            .is_quiet()
    );
    // Another source's failures are not this one's, nor another account's.
    pbx.login(at(1), "198.51.100.8:5060", "alice", 401);
    pbx.login(at(1), "198.51.100.9:5061", "bob", 401);
    assert!(
        pbx.login(at(2), "198.51.100.9:5060", "alice", 200)
            .is_quiet()
    );
}

// ---------------------------------------------------------------- repeat offenders

#[test]
fn bans_grow_for_repeat_offenders_and_stop_at_the_cap() {
    let mut policy = GuardPolicy::default();
    policy.guessing.max_failures = 1;
    policy.bans.base_secs = 600;
    policy.bans.factor = 3;
    policy.bans.max_secs = 10_000;
    let mut pbx = Pbx::new(policy);
    let mut now = 0;
    let mut durations = Vec::new();
    for _ in 0..6 {
        let v = pbx.login(at(now), "203.0.113.9:5060", "1001", 401);
        let ban = v.bans[0];
        durations.push(ban.duration.as_secs());
        now += ban.duration.as_secs() + 1;
    }
    assert_eq!(durations, [600, 1800, 5400, 10_000, 10_000, 10_000]);
}

#[test]
fn offence_history_survives_a_restart_through_export_and_import() {
    let mut policy = GuardPolicy::default();
    policy.guessing.max_failures = 1;
    let mut pbx = Pbx::new(policy.clone());
    pbx.login(at(0), "203.0.113.9:5060", "1001", 401);
    pbx.login(at(1000), "203.0.113.9:5060", "1001", 401);
    let history = pbx.engine.export_offences();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].offences, 2);
    let json = serde_json::to_string(&history).unwrap();

    let mut restarted = Pbx::new(policy);
    restarted
        .engine
        .import_offences(serde_json::from_str::<Vec<policy::guard::OffenceRecord>>(&json).unwrap());
    let v = restarted.login(at(2000), "203.0.113.9:5060", "1001", 401);
    assert_eq!(v.bans[0].offence, 3);
    assert_eq!(v.bans[0].duration, Duration::from_secs(900 * 16));
}

#[test]
fn an_old_offence_is_forgotten() {
    let mut policy = GuardPolicy::default();
    policy.guessing.max_failures = 1;
    policy.bans.forget_after_secs = 86_400;
    let mut pbx = Pbx::new(policy);
    pbx.login(at(0), "203.0.113.9:5060", "1001", 401);
    let v = pbx.login(at(200_000), "203.0.113.9:5060", "1001", 401);
    assert_eq!(v.bans[0].offence, 1);
}

// ---------------------------------------------------------------- distributed guessing

#[test]
fn distributed_guessing_bans_every_source_that_failed_on_the_account_at_once() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 10 failures from >= 5 sources
    let mut fired = None;
    'outer: for round in 0..4u64 {
        for bot in 1..=5 {
            let peer = format!("192.0.2.{bot}:5060");
            let v = pbx.login(at(round * 10 + bot), &peer, "1001", 401);
            if !v.is_empty() {
                fired = Some((round, bot, v));
                break 'outer;
            }
        }
    }
    let (round, bot, v) = fired.expect("distributed guessing fired");
    assert_eq!((round, bot), (1, 5), "fires on the 10th failure");
    assert!(
        v.events
            .iter()
            .all(|e| e.kind == EventKind::DistributedGuessing)
    );
    // This bot and the four that failed before it, at once.
    let mut banned: Vec<String> = v.bans.iter().map(|b| b.source.to_string()).collect();
    banned.sort();
    assert_eq!(
        banned,
        [
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.4",
            "192.0.2.5"
        ]
    );
    assert!(v.bans.iter().all(|b| b.proven && b.port.is_none()));
    assert_eq!(v.events.len(), 5);
    // A fresh bot is banned at its first failure while the account is under attack.
    let v = pbx.login(at(100), "192.0.2.77:5060", "1001", 401);
    assert_eq!(kinds(&v), [EventKind::DistributedGuessing]);
    // Another account is not under attack.
    assert!(
        pbx.login(at(101), "192.0.2.78:5060", "1002", 401)
            .is_empty()
    );
}

#[test]
fn a_distributed_guess_from_twenty_sources_stops_within_the_first_round() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let mut reached = 0;
    for round in 0..3u64 {
        for bot in 1..=20u64 {
            let peer = format!("203.0.113.{}:5060", 100 + bot);
            if pbx
                .engine
                .banned_until(addr(&peer).ip(), at(round * 60 + bot))
                .is_none()
            {
                reached += 1;
            }
            pbx.login(at(round * 60 + bot), &peer, "1001", 401);
        }
    }
    assert_eq!(
        reached, 20,
        "each source guessed once, and the second round found all banned"
    );
}

#[test]
fn forged_failures_do_not_put_an_account_under_attack() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for bot in 1..=30u64 {
        let v = pbx.forged_login(at(bot), &format!("192.0.2.{bot}:5060"), "1001", 401);
        assert!(
            v.events
                .iter()
                .all(|e| e.kind != EventKind::DistributedGuessing)
        );
    }
    // A real phone failing once on that account is not swept up.
    assert!(
        pbx.login(at(40), "198.51.100.99:5060", "1001", 401)
            .is_empty()
    );
}

#[test]
fn many_failures_from_one_source_are_not_distributed_guessing() {
    let mut policy = GuardPolicy::default();
    policy.guessing.max_failures = 100;
    let mut pbx = Pbx::new(policy);
    for i in 0..50 {
        let v = pbx.login(at(i), "192.0.2.1:5060", "1001", 401);
        assert!(v.is_empty());
    }
}

// ---------------------------------------------------------------- enumeration

fn svwar_probe(pbx: &mut Pbx, now: Timestamp, peer: &str, ext: &str) -> Verdict {
    let call_id = format!("svwar-{ext}");
    pbx.request(
        now, peer, "REGISTER", None, ext, ext, None, "Zoiper", &call_id, 1,
    )
}

#[test]
fn enumeration_bans_at_the_nth_distinct_username() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 10 names
    for ext in 100..109 {
        let v = svwar_probe(&mut pbx, at(ext), "203.0.113.50:5060", &ext.to_string());
        assert!(v.is_empty(), "name {ext} fired early");
    }
    // The same names again add nothing.
    for ext in 100..109 {
        assert!(svwar_probe(&mut pbx, at(200), "203.0.113.50:5060", &ext.to_string()).is_empty());
    }
    let v = svwar_probe(&mut pbx, at(300), "203.0.113.50:5060", "109");
    assert_eq!(kinds(&v), [EventKind::Enumeration]);
    assert_eq!(v.events[0].account.as_deref(), Some("109"));
}

#[test]
fn a_slow_enumeration_one_name_every_ten_minutes_is_still_caught() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let mut fired = false;
    for (i, ext) in (200..210).enumerate() {
        let v = svwar_probe(
            &mut pbx,
            at(i as u64 * 600),
            "203.0.113.50:5060",
            &ext.to_string(),
        );
        fired |= kinds(&v) == [EventKind::Enumeration];
    }
    assert!(fired);
}

#[test]
fn invalid_account_id_events_count_as_enumeration() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let mut last = Verdict::default();
    for ext in 0..10 {
        last = pbx.ami(
            at(ext),
            &format!("Event: InvalidAccountID\nAccountID: {ext}\nRemoteAddress: IPV4/UDP/192.0.2.9/5060\n"),
        );
    }
    assert_eq!(kinds(&last), [EventKind::Enumeration]);
}

#[test]
fn real_accounts_do_not_count_as_enumeration_unless_they_fail() {
    let accounts = (0..40)
        .map(|i| AccountRules {
            name: format!("acct{i}"),
            extension: Some(format!("{}", 100 + i)),
            permitted: vec!["198.51.100.0/24".parse().unwrap()],
            denied: vec![],
            may_dial: vec![],
        })
        .collect();
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(GuardModel::new(accounts, vec![]));
    // Forty phones behind one NAT address register: extension in From/To, account name in
    // the credentials.
    for i in 0..40u32 {
        let ext = format!("{}", 100 + i);
        let v = pbx.request(
            at(u64::from(i)),
            "198.51.100.1:5060",
            "REGISTER",
            None,
            &ext,
            &ext,
            Some(&format!("acct{i}")),
            "Yealink",
            &ext,
            2,
        );
        assert!(v.is_empty(), "office phone {i} counted: {v:?}");
    }
    // Unknown names are a scan.
    let mut fired = false;
    for i in 0..10 {
        let v = svwar_probe(
            &mut pbx,
            at(100 + i),
            "203.0.113.1:5060",
            &format!("{}", 500 + i),
        );
        fired |= kinds(&v) == [EventKind::Enumeration];
    }
    assert!(fired);
    // So are real names that fail: ten accounts tried from one address, one guess each.
    let anywhere = || {
        let accounts = (0..20)
            .map(|i| AccountRules {
                name: format!("acct{i}"),
                extension: None,
                permitted: vec![],
                denied: vec![],
                may_dial: vec![],
            })
            .collect();
        GuardModel::new(accounts, vec![])
    };
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(anywhere());
    let mut kinds_seen = Vec::new();
    for i in 0..10u32 {
        kinds_seen.extend(kinds(&pbx.login(
            at(u64::from(i)),
            "203.0.113.2:5060",
            &format!("acct{i}"),
            401,
        )));
    }
    assert_eq!(
        kinds_seen,
        [EventKind::Guessing],
        "guessing fires first, at five"
    );
    let mut policy = GuardPolicy::default();
    policy.guessing.max_failures = 100;
    let mut pbx = Pbx::new(policy).with_model(anywhere());
    let mut kinds_seen = Vec::new();
    for i in 0..10u32 {
        kinds_seen.extend(kinds(&pbx.login(
            at(u64::from(i)),
            "203.0.113.2:5060",
            &format!("acct{i}"),
            401,
        )));
    }
    assert_eq!(kinds_seen, [EventKind::Enumeration]);
}

// ---------------------------------------------------------------- scanners

#[test]
fn known_scanner_user_agents_are_banned_on_first_sight() {
    for ua in [
        "friendly-scanner",
        "sipvicious 0.3.4",
        "SIPCLI/v1.8",
        "VaxSIPUserAgent/3.1",
        "pplsip",
        "sundayddr",
        "sipsak 0.9.8",
        "iWar",
    ] {
        let mut pbx = Pbx::new(GuardPolicy::default());
        let v = pbx.request(
            at(0),
            "203.0.113.66:5070",
            "OPTIONS",
            Some("100"),
            "100",
            "100",
            None,
            ua,
            "svmap",
            1,
        );
        assert_eq!(kinds(&v), [EventKind::Scanner], "{ua}");
        assert_eq!(v.events[0].user_agent.as_deref(), Some(ua));
        assert_eq!(v.events[0].detector, "scanner-user-agent");
        assert_eq!(v.bans.len(), 1);
        // One datagram: its source may be forged, so the ban is short and no offence.
        assert!(!v.bans[0].proven && !v.events[0].proven);
        assert_eq!(v.bans[0].duration, Duration::from_secs(300));
    }
}

#[test]
fn a_folded_or_oddly_cased_scanner_user_agent_is_still_caught() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let v = pbx.sip(
        at(0),
        "203.0.113.66:5070",
        Direction::ToAsterisk,
        b"OPTIONS sip:100@pbx SIP/2.0\nv: SIP/2.0/UDP 203.0.113.66:5070;branch=z9hG4bK1\nf: <sip:100@pbx>;tag=1\nt: <sip:100@pbx>\ni: 1\nCSeq: 1 OPTIONS\nuser-agent :\n  Friendly-Scanner\nl: 0\n\n",
    );
    assert_eq!(kinds(&v), [EventKind::Scanner]);
}

#[test]
fn ordinary_phones_are_not_scanners() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for ua in [
        "Yealink SIP-T46S 66.86.0.15",
        "Grandstream GXP2170 1.0.11",
        "Z 5.6.1 v2.10.19.9",
        "Linphone/5.2.0 (belle-sip/5.2.0)",
        "MicroSIP/3.21.3",
        "Cisco-CP7841/11.0",
    ] {
        let v = pbx.request(
            at(0),
            "198.51.100.3:5060",
            "OPTIONS",
            None,
            "1001",
            "1001",
            None,
            ua,
            ua,
            1,
        );
        assert!(v.is_empty(), "{ua}");
    }
}

#[test]
fn an_unauthenticated_options_sweep_is_a_scanner() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 30 in 300 s
    for i in 0..29u32 {
        let v = pbx.request(
            at(u64::from(i)),
            "203.0.113.70:5060",
            "OPTIONS",
            None,
            "probe",
            "probe",
            None,
            "Nothing",
            &i.to_string(),
            1,
        );
        assert!(v.is_empty());
    }
    let v = pbx.request(
        at(30),
        "203.0.113.70:5060",
        "OPTIONS",
        None,
        "probe",
        "probe",
        None,
        "Nothing",
        "x",
        1,
    );
    assert_eq!(v.events[0].detector, "scanner-sweep");
}

#[test]
fn a_source_that_sends_credentials_is_no_sweep() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    pbx.login(at(0), "198.51.100.8:5060", "alice", 200);
    for i in 0..100u32 {
        let v = pbx.request(
            at(u64::from(i)),
            "198.51.100.8:5060",
            "OPTIONS",
            None,
            "alice",
            "alice",
            None,
            "Yealink",
            &i.to_string(),
            1,
        );
        assert!(v.is_empty());
    }
}

// ---------------------------------------------------------------- floods

#[test]
fn an_invite_flood_is_banned_after_the_burst() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 20/s, burst 100
    let now = at(0);
    for i in 0..100u32 {
        let v = pbx.request(
            now,
            "203.0.113.80:5060",
            "INVITE",
            Some("100"),
            "a",
            "100",
            None,
            "x",
            &i.to_string(),
            1,
        );
        assert!(v.is_empty(), "request {i}");
    }
    let v = pbx.request(
        now,
        "203.0.113.80:5060",
        "INVITE",
        Some("100"),
        "a",
        "100",
        None,
        "x",
        "last",
        1,
    );
    assert_eq!(kinds(&v), [EventKind::Flood]);
}

#[test]
fn a_steady_rate_below_the_limit_is_no_flood() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..2000u64 {
        let now = Timestamp(at(0).0 + i * 100); // 10/s against 20/s
        let v = pbx.request(
            now,
            "203.0.113.80:5060",
            "INVITE",
            Some("100"),
            "a",
            "100",
            None,
            "x",
            &i.to_string(),
            1,
        );
        assert!(v.is_empty());
    }
}

// ---------------------------------------------------------------- toll fraud

fn toll_model() -> GuardModel {
    let p = |s: &str| DialPattern::parse(s).expect("test data");
    GuardModel::new(
        vec![
            AccountRules {
                name: "k3v9x".into(),
                extension: Some("201".into()),
                permitted: vec!["198.51.100.0/24".parse().expect("test data")],
                denied: vec![],
                may_dial: vec![p("_0NXXXXXXXX")],
            },
            AccountRules {
                name: "guest".into(),
                extension: None,
                permitted: vec![],
                denied: vec![],
                may_dial: vec![],
            },
        ],
        vec![p("_0X."), p("_00X."), p("_011X."), p("_+X.")],
    )
}

#[test]
fn a_toll_fraud_probe_is_reported_at_once_and_banned_when_it_answers_the_challenge() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let peer = "203.0.113.90:5060";
    let v = pbx.request(
        at(0),
        peer,
        "INVITE",
        Some("00972592345678"),
        "100",
        "00972592345678",
        None,
        "x",
        "tf",
        1,
    );
    assert_eq!(kinds(&v), [EventKind::TollFraudProbe]);
    assert_eq!(v.events[0].detector, "toll-fraud-unknown-caller");
    assert_eq!(
        v.events[0].outcome,
        Outcome::Reported,
        "one datagram proves nothing"
    );
    assert!(v.bans.is_empty());
    // Asterisk challenges; the prober answers with made-up credentials: now it is proven.
    pbx.challenge(at(0), peer, "INVITE", "tf", 1);
    let v = pbx.request(
        at(1),
        peer,
        "INVITE",
        Some("00972592345678"),
        "100",
        "00972592345678",
        Some("100"),
        "x",
        "tf",
        2,
    );
    assert_eq!(kinds(&v), [EventKind::TollFraudProbe]);
    assert_eq!(v.events[0].outcome, Outcome::Banned);
    assert!(v.bans[0].proven);
    // Emergency numbers are never toll fraud, even when a pattern matches them.
    let mut pbx = Pbx::new(GuardPolicy::default())
        .with_model(toll_model().with_emergency(["0112".to_owned()]));
    assert!(
        pbx.request(
            at(0),
            peer,
            "INVITE",
            Some("0112"),
            "100",
            "0112",
            None,
            "x",
            "e",
            1
        )
        .is_empty()
    );
}

#[test]
fn a_trunk_delivering_calls_from_fifty_callers_is_never_banned() {
    let trunk = TrunkRules {
        name: "itsp".into(),
        networks: vec!["198.51.100.200/32".parse().unwrap()],
        dids: vec!["4930123456".into(), "0301234567".into()],
    };
    let model = toll_model().with_trunks(vec![trunk]);
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(model);
    let trunk_peer = "198.51.100.200:5060";
    for caller in 0..50u32 {
        for did in ["4930123456", "0301234567"] {
            let from = format!("+4917{caller:07}");
            let v = pbx.request(
                at(u64::from(caller)),
                trunk_peer,
                "INVITE",
                Some(did),
                &from,
                did,
                None,
                "Provider SBC",
                &format!("{caller}-{did}"),
                1,
            );
            assert!(v.is_empty(), "call from {from} to {did}: {v:?}");
        }
        // The provider's keep-alives.
        let v = pbx.request(
            at(u64::from(caller)),
            trunk_peer,
            "OPTIONS",
            None,
            "ping",
            "pbx",
            None,
            "Provider SBC",
            &format!("o{caller}"),
            1,
        );
        assert!(v.is_empty());
    }
    // A scanner User-Agent "from" the trunk (forged, or a caller's text the provider passed
    // on): reported, never a ban.
    let v = pbx.request(
        at(60),
        trunk_peer,
        "OPTIONS",
        None,
        "x",
        "x",
        None,
        "friendly-scanner",
        "f",
        1,
    );
    assert!(v.bans.is_empty());
    assert_eq!(v.events[0].outcome, Outcome::Protected);
    assert!(
        v.events[0].evidence.contains("\"itsp\""),
        "{}",
        v.events[0].evidence
    );
    // Even proven guessing from the trunk's address only reports.
    for i in 0..20 {
        assert!(
            pbx.login(at(100 + i), trunk_peer, "k3v9x", 401)
                .bans
                .is_empty()
        );
    }
    assert_eq!(pbx.engine.stats().bans, 0);
}

#[test]
fn a_known_phone_dialling_within_its_class_is_fine() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    // The first INVITE of a call carries no credentials; the From user is the extension.
    let v = pbx.request(
        at(0),
        "198.51.100.5:5060",
        "INVITE",
        Some("0212345678"),
        "201",
        "0212345678",
        None,
        "Yealink",
        "ok",
        1,
    );
    assert!(v.is_empty(), "{v:?}");
    let v = pbx.request(
        at(0),
        "198.51.100.5:5060",
        "INVITE",
        Some("0212345678"),
        "201",
        "0212345678",
        Some("k3v9x"),
        "Yealink",
        "ok",
        2,
    );
    assert!(v.is_empty(), "{v:?}");
    // Internal numbers are never toll fraud.
    let v = pbx.request(
        at(1),
        "203.0.113.91:5060",
        "INVITE",
        Some("202"),
        "x",
        "202",
        None,
        "x",
        "in",
        1,
    );
    assert!(v.is_empty());
}

#[test]
fn a_known_account_dialling_outside_its_class_is_reported_not_banned() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let v = pbx.request(
        at(0),
        "198.51.100.5:5060",
        "INVITE",
        Some("0097259123"),
        "201",
        "0097259123",
        Some("k3v9x"),
        "Yealink",
        "x",
        2,
    );
    assert_eq!(kinds(&v), [EventKind::TollFraudProbe]);
    assert_eq!(v.events[0].outcome, Outcome::Reported);
    assert!(v.bans.is_empty());
}

#[test]
fn a_known_extension_calling_from_outside_its_networks_is_a_probe() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let v = pbx.request(
        at(0),
        "203.0.113.92:5060",
        "INVITE",
        Some("0212345678"),
        "201",
        "0212345678",
        None,
        "x",
        "x",
        1,
    );
    assert_eq!(v.events[0].detector, "toll-fraud-unknown-caller");
}

// ---------------------------------------------------------------- ACL violations

#[test]
fn credentials_used_from_outside_the_permitted_networks_are_a_proven_ban() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let v = pbx.login(at(0), "203.0.113.93:5060", "k3v9x", 200);
    assert_eq!(kinds(&v), [EventKind::AclViolation]);
    assert_eq!(v.events[0].detector, "acl-credentials");
    assert_eq!(v.bans.len(), 1);
    assert!(v.bans[0].proven);
    assert!(v.known.is_empty(), "a leaked secret makes no address known");
    // From inside: fine.
    assert!(
        pbx.login(at(0), "198.51.100.93:5060", "k3v9x", 200)
            .is_quiet()
    );
}

#[test]
fn ami_successful_auth_from_outside_the_permitted_networks_is_banned() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let v = pbx.ami(
        at(0),
        "Event: SuccessfulAuth\nService: PJSIP\nAccountID: k3v9x\nUsingPassword: 1\nRemoteAddress: IPV6/UDP/2001:db8::9/5060\n",
    );
    assert_eq!(kinds(&v), [EventKind::AclViolation]);
    assert_eq!(v.bans[0].source, "2001:db8::9".parse::<IpAddr>().unwrap());
}

// ---------------------------------------------------------------- malformed

#[test]
fn a_stream_of_garbage_is_banned_as_malformed() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 50 in 60 s
    let src = addr("203.0.113.99:5060");
    for i in 0..49 {
        let obs = Observation::malformed(at(i / 10), src, Transport::Udp);
        assert!(pbx.engine.observe(&obs, at(i / 10)).is_empty());
    }
    let obs = Observation::malformed(at(5), src, Transport::Udp);
    assert_eq!(
        kinds(&pbx.engine.observe(&obs, at(5))),
        [EventKind::Malformed]
    );
}

#[test]
fn attacker_text_in_events_is_sanitised_and_bounded() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let ua = format!("friendly-scanner\u{1b}[31m{}", "A".repeat(500));
    let v = pbx.request(
        at(0),
        "203.0.113.66:5060",
        "OPTIONS",
        None,
        "x",
        "x",
        None,
        &ua,
        "1",
        1,
    );
    let shown = v.events[0].user_agent.clone().unwrap();
    assert!(!shown.contains('\u{1b}'));
    assert!(shown.chars().count() <= 97);
}

#[test]
fn stats_count_messages_events_and_bans() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..5 {
        pbx.login(at(i), "203.0.113.9:5060", "1001", 401);
    }
    let s = pbx.engine.stats();
    assert_eq!(s.messages, 20);
    assert_eq!(s.events, 1);
    assert_eq!(s.bans, 1);
    assert_eq!(s.tracked_sources, 1);
    assert_eq!(s.tracked_offenders, 1);
}

// ---------------------------------------------------------------- policy and state changes

#[test]
fn a_new_policy_judges_the_next_attack_at_once_and_keeps_the_counts() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    for i in 0..2 {
        assert!(
            pbx.login(at(i), "203.0.113.60:5060", "1001", 401)
                .is_empty()
        );
    }
    let mut stricter = GuardPolicy::default();
    stricter.guessing.max_failures = 3;
    pbx.engine.set_policy(stricter.clone()).unwrap();
    assert_eq!(pbx.engine.policy(), &stricter);
    let v = pbx.login(at(3), "203.0.113.60:5060", "1001", 401);
    assert_eq!(
        kinds(&v),
        [EventKind::Guessing],
        "the third failure bans now"
    );
    assert!(v.events[0].evidence.contains("3 failed"));
    // New memory limits rebuild the tables, keeping offences and known addresses.
    pbx.login(at(10), "198.51.100.61:5060", "alice", 200);
    let mut smaller = stricter;
    smaller.limits.max_sources = 1000;
    pbx.engine.set_policy(smaller).unwrap();
    assert_eq!(pbx.engine.export_offences().len(), 1);
    assert!(
        pbx.engine
            .is_known("198.51.100.61".parse().unwrap(), at(11))
    );
    // An invalid policy changes nothing.
    let mut broken = GuardPolicy::default();
    broken.bans.factor = 0;
    assert_eq!(
        pbx.engine.set_policy(broken).unwrap_err().field,
        "bans.factor"
    );
    assert_eq!(pbx.engine.policy().guessing.max_failures, 3);
}

#[test]
fn known_addresses_survive_a_restart_through_export_and_import() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(office_model());
    let v = pbx.login(at(0), "198.51.100.20:5060", "acct1", 200);
    assert_eq!(v.known.len(), 1);
    assert_eq!(v.known[0].until, at(86_400));
    let saved = serde_json::to_string(&pbx.engine.export_known()).unwrap();
    let mut restarted = Pbx::new(GuardPolicy::default()).with_model(office_model());
    restarted
        .engine
        .import_known(serde_json::from_str::<Vec<policy::guard::KnownSource>>(&saved).unwrap());
    // Protected at once: a forged scanner datagram from the office bans nothing.
    let v = restarted.request(
        at(100),
        "198.51.100.20:5090",
        "OPTIONS",
        None,
        "x",
        "x",
        None,
        "friendly-scanner",
        "f",
        1,
    );
    assert_eq!(v.events[0].outcome, Outcome::Protected);
    // Its record is fresh: the next login is not announced again within the hour.
    assert!(
        restarted
            .login(at(200), "198.51.100.20:5060", "acct1", 200)
            .known
            .is_empty()
    );
}

#[test]
fn an_administrators_unban_of_a_port_lets_that_phone_back() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(office_model());
    pbx.login(at(0), "198.51.100.20:5060", "acct1", 200);
    for i in 0..5 {
        pbx.login(at(1 + i), "198.51.100.20:5070", "acct2", 401);
    }
    assert!(
        pbx.login(at(10), "198.51.100.20:5070", "acct2", 200)
            .is_empty(),
        "port banned"
    );
    pbx.engine.unban_port(addr("198.51.100.20:5070"));
    let v = pbx.login(at(11), "198.51.100.20:5070", "acct2", 200);
    assert_eq!(
        kinds(&v),
        [EventKind::LoginAfterFailures],
        "heard again, its failures remembered"
    );
}
