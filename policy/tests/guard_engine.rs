//! The detection engine, one detector at a time, driven through the real extractor: each test
//! writes the SIP (or AMI) Asterisk would see, so the whole path is covered.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use policy::guard::{
    AccountRules, DialPattern, Direction, Engine, EventKind, GuardModel, GuardPolicy, Observation,
    Outcome, Timestamp, Transport, Verdict, parse_message, parse_security_event,
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
}

impl Pbx {
    fn new(policy: GuardPolicy) -> Self {
        Self {
            engine: Engine::new(policy).expect("valid policy"),
            call: 0,
        }
    }

    fn with_model(mut self, model: GuardModel) -> Self {
        self.engine.set_model(model);
        self
    }

    fn sip(&mut self, now: Timestamp, peer: &str, direction: Direction, bytes: &[u8]) -> Verdict {
        let msg = parse_message(bytes).expect("test SIP parses");
        let obs = Observation::from_sip(&msg, now, addr(peer), Transport::Udp, direction);
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
        let auth = auth
            .map(|u| {
                format!(
                    "Authorization: Digest username=\"{u}\", realm=\"asterisk\", nonce=\"n\", uri=\"{ruri}\", response=\"0\"\r\n"
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

    /// An authenticated REGISTER as `user` and Asterisk's `status` answer; returns the
    /// verdict of the answer.
    fn login(&mut self, now: Timestamp, peer: &str, user: &str, status: u16) -> Verdict {
        self.call += 1;
        let call_id = format!("call-{}", self.call);
        let v = self.request(
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
        assert!(v.is_empty(), "the request itself decides nothing: {v:?}");
        self.response(now, peer, status, "REGISTER", &call_id, 2, "")
    }

    fn ami(&mut self, now: Timestamp, block: &str) -> Verdict {
        let event = parse_security_event(block.as_bytes()).expect("AMI parses");
        let obs = Observation::from_security_event(&event, now).expect("has an address");
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
fn an_allowlisted_source_is_never_banned_but_still_reported() {
    let policy = GuardPolicy {
        allowlist: vec!["203.0.113.0/24".parse().unwrap()],
        ..GuardPolicy::default()
    };
    let mut pbx = Pbx::new(policy);
    let mut events = Vec::new();
    for i in 0..200 {
        let v = pbx.login(at(i), "203.0.113.9:5060", "1001", 401);
        assert!(v.bans.is_empty(), "allowlisted source banned");
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

#[test]
fn a_nat_office_is_not_banned_for_its_own_accounts_typos_below_the_higher_threshold() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 5, own account 30
    let office = "198.51.100.20:5060";
    assert!(pbx.login(at(0), office, "alice", 200).is_empty());
    for i in 1..30 {
        let v = pbx.login(at(i), office, "alice", 401);
        assert!(v.is_empty(), "own-account failure {i} banned the office");
    }
    let v = pbx.login(at(30), office, "alice", 401);
    assert_eq!(v.events[0].detector, "guessing-own-account");
    assert_eq!(v.bans.len(), 1);
}

#[test]
fn a_nat_office_is_banned_for_guessing_other_accounts() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    let office = "198.51.100.20:5060";
    pbx.login(at(0), office, "alice", 200);
    for i in 1..5 {
        assert!(pbx.login(at(i), office, "bob", 401).is_empty());
    }
    assert_eq!(
        kinds(&pbx.login(at(5), office, "bob", 401)),
        [EventKind::Guessing]
    );
}

#[test]
fn the_nat_office_credit_ends_with_the_trust_period() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // trust 3600 s
    let office = "198.51.100.20:5060";
    pbx.login(at(0), office, "alice", 200);
    for i in 0..4 {
        assert!(pbx.login(at(4000 + i), office, "alice", 401).is_empty());
    }
    assert_eq!(
        kinds(&pbx.login(at(4005), office, "alice", 401)),
        [EventKind::Guessing]
    );
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
    // Re-registering within the trust it earned is not news.
    assert!(pbx.login(at(120), guesser, "alice", 200).is_empty());
}

#[test]
fn a_login_without_failures_before_it_is_no_event() {
    let mut pbx = Pbx::new(GuardPolicy::default());
    assert!(
        pbx.login(at(0), "198.51.100.7:5060", "alice", 200)
            .is_empty()
    );
    // Another source's failures are not this one's.
    pbx.login(at(1), "198.51.100.8:5060", "alice", 401);
    assert!(
        pbx.login(at(2), "198.51.100.9:5060", "alice", 200)
            .is_empty()
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
fn distributed_guessing_marks_the_account_and_bans_each_new_source_at_once() {
    let mut pbx = Pbx::new(GuardPolicy::default()); // 20 failures from >= 5 sources
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
    assert_eq!((round, bot), (3, 5), "fires on the 20th failure");
    assert_eq!(kinds(&v), [EventKind::DistributedGuessing]);
    assert_eq!(v.bans.len(), 1);
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
fn real_accounts_used_from_their_networks_do_not_count_as_enumeration() {
    let accounts = (0..40)
        .map(|i| AccountRules {
            name: format!("acct{i}"),
            extension: Some(format!("{}", 100 + i)),
            permitted: vec!["198.51.100.0/24".parse().unwrap()],
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
    // The same names from elsewhere are a scan.
    let mut fired = false;
    for i in 0..40 {
        let v = svwar_probe(
            &mut pbx,
            at(100 + i),
            "203.0.113.1:5060",
            &format!("{}", 100 + i),
        );
        fired |= kinds(&v) == [EventKind::Enumeration];
    }
    assert!(fired);
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
                may_dial: vec![p("_0NXXXXXXXX")],
            },
            AccountRules {
                name: "guest".into(),
                extension: None,
                permitted: vec![],
                may_dial: vec![],
            },
        ],
        vec![p("_0X."), p("_00X."), p("_011X."), p("_+X.")],
    )
}

#[test]
fn an_unauthenticated_invite_to_an_international_number_from_nobody_is_banned() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let v = pbx.request(
        at(0),
        "203.0.113.90:5060",
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
    assert_eq!(v.bans.len(), 1);
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
fn a_correct_login_from_outside_the_permitted_networks_is_banned() {
    let mut pbx = Pbx::new(GuardPolicy::default()).with_model(toll_model());
    let v = pbx.login(at(0), "203.0.113.93:5060", "k3v9x", 200);
    assert_eq!(kinds(&v), [EventKind::AclViolation]);
    assert_eq!(v.bans.len(), 1);
    // From inside: fine.
    assert!(
        pbx.login(at(0), "198.51.100.93:5060", "k3v9x", 200)
            .is_empty()
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
    assert_eq!(s.messages, 10);
    assert_eq!(s.events, 1);
    assert_eq!(s.bans, 1);
    assert_eq!(s.tracked_sources, 1);
    assert_eq!(s.tracked_offenders, 1);
}
