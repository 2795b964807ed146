//! The guard that knows the PBX it protects, against a real Asterisk 22: every attack is
//! caught, and the parties the PBX depends on are never cut off. One appliance (sipwarden
//! serving beside Asterisk in the lab's pbx namespace, capture and AMI taps up) for every
//! scenario, in order:
//!
//! 1. a branch office of 20 phones behind one NAT address registers and re-registers with
//!    the right secrets; a 21st phone with a stale password is stopped by its source port
//!    alone (reported), the office is never banned and goes into the firewall's known set;
//! 2. the provider's trunk delivers calls from 50 different callers: never banned, no event;
//! 3. one datagram with a scanner's User-Agent and the trunk's address as a forged source
//!    bans nothing (reported as protected); the same from an unknown address gets a short,
//!    unproven ban; the trunk still delivers calls afterwards;
//! 4. a distributed guess from 20 addresses, each one password per round, stops within the
//!    first round;
//! 5. an unauthenticated INVITE to an international number is a `toll-fraud-probe` on the
//!    live Events page; answering Asterisk's challenge proves it and bans;
//! 6. `PUT /api/v1/guard/policy` lowers the guessing threshold to 3, and the next guesser
//!    (`svcrack` in disguise, against another account) gets exactly 3 passwords to Asterisk.
//!
//! Root only.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::appliance::Appliance;
use tests::asterisk;
use tests::browser::Browser;
use tests::netns::{Lab, Net};
use tests::root;

const TEST: &str = "guard_pbx";
const WAIT: Duration = Duration::from_secs(20);
/// Phones in the branch office.
const PHONES: u16 = 20;
/// The stale phone's source port (the good ones use 6000..6020).
const STALE_PORT: u16 = 6100;
/// The trunk's DIDs (ringing the reception, which never registers: calls end at once).
const DIDS: [&str; 2] = ["4930555001", "4930555002"];
/// Addresses of the distributed guess: 203.0.113.101 to .120 on the bots host.
const BOTS: u8 = 20;

/// One REST call from the pbx namespace, where the server listens.
fn call(
    lab: &Lab,
    api: &Api,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (api, method, path) = (api.clone(), method.to_owned(), path.to_owned());
    lab.ns("pbx")
        .block_on(async move { api.call(&method, &path, body).await })
        .unwrap()
}

/// The guard's events from `ip` (any port), after waiting up to [`WAIT`] for `until`.
fn events_from(lab: &Lab, api: &Api, ip: &str, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, page) = call(
            lab,
            api,
            "GET",
            &format!("/api/v1/events?source={ip}&limit=500"),
            None,
        );
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if until(&items) || Instant::now() > deadline {
            return items;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The active bans, after waiting up to [`WAIT`] for `until`.
fn bans(lab: &Lab, api: &Api, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, page) = call(lab, api, "GET", "/api/v1/bans?limit=500", None);
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if until(&items) || Instant::now() > deadline {
            return items;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `nft list set` output holds the element `element` (an address, or `address .
/// port`), not merely an address that starts with it (203.0.113.10 is no 203.0.113.101).
fn holds(set: &str, element: &str) -> bool {
    set.match_indices(element).any(|(at, _)| {
        let before = set[..at].chars().next_back();
        let after = set[at + element.len()..].chars().next();
        let edge =
            |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '.' && c != ':');
        edge(before) && edge(after)
    })
}

fn banned(bans: &[Value], target: &str) -> bool {
    bans.iter().any(|b| b["address"] == target)
}

/// An OPTIONS probe with a scanner's User-Agent, as svmap sends it.
fn scanner_probe(from: SocketAddr, pbx: IpAddr) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@{pbx} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-forged\r\n\
         Max-Forwards: 70\r\nFrom: <sip:100@{pbx}>;tag=forged\r\nTo: <sip:100@{pbx}>\r\n\
         Call-ID: forged-{}@{}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: friendly-scanner\r\n\
         Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
        from.port(),
        from.ip()
    )
    .into_bytes()
}

#[test]
fn the_guard_catches_each_attack_and_never_cuts_off_the_office_or_the_trunk() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none()
        || !root::require_commands(TEST, &["nft", "conntrack", "svcrack"])
    {
        return;
    }
    let lab = Lab::builder()
        .host("pbx", Net::Pbx)
        .host("branch", Net::Internet)
        .host("itsp", Net::Internet)
        .host("attacker", Net::Internet)
        .host("bots", Net::Internet)
        .host("prober", Net::Internet)
        .host("guesser", Net::Internet)
        .build()
        .expect("building the lab");
    let pbx_ip = IpAddr::V4(lab.host("pbx").ipv4);
    let pbx = SocketAddr::new(pbx_ip, 5060);
    let (branch, itsp) = (lab.host("branch").ipv4, lab.host("itsp").ipv4);

    let Appliance {
        server,
        asterisk: ast,
        remote_id,
        ..
    } = Appliance::start(
        &lab,
        &[],
        &["AMI security tap connected", "SIP capture tap started"],
    )
    .expect("starting the appliance");
    // Signed in once inside the pbx namespace (where the server listens); its connections
    // stay there.
    let base = server.url("");
    let api = lab
        .ns("pbx")
        .block_on(async move {
            Api::sign_in_at(&base, "admin", tests::server::ADMIN_PASSWORD)
                .await
                .unwrap()
        })
        .unwrap();

    // The model: twenty branch phones and a reception, allowed from the branch's address
    // only; the provider's trunk with two DIDs. Applied to the running Asterisk.
    let mut phones: Vec<(String, String)> = Vec::new();
    for n in 0..=PHONES {
        let (status, created) = call(
            &lab,
            &api,
            "POST",
            "/api/v1/endpoints",
            Some(
                json!({"extension": format!("{}", 2000 + n), "display_name": format!("Branch phone {n}"),
                        "permit": [format!("{branch}/32")]}),
            ),
        );
        assert_eq!(status, StatusCode::CREATED, "{created}");
        if n > 0 {
            phones.push((
                created["id"].as_str().unwrap().to_owned(),
                created["secret"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let trunk = json!({"name": "itsp", "peer": itsp.to_string(), "outbound": true,
                       "dids": DIDS.iter().map(|d| json!({"did": d, "extension": "2000"})).collect::<Vec<_>>()});
    let (status, created) = call(&lab, &api, "POST", "/api/v1/trunks", Some(trunk));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, report) = call(&lab, &api, "POST", "/api/v1/config/apply", None);
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], true, "{report}");
    // The guard judges by the new model (the apply's change signal).
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, status) = call(&lab, &api, "GET", "/api/v1/guard/status", None);
        if status["model"]["trunks"] == 1 && status["model"]["accounts"].as_u64() >= Some(22) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guard never saw the model: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // ---- 1. The branch office: twenty phones behind one address, and one stale phone.
    // A round: every phone (re-)registers from its own port, one after the other. The
    // firewall meters REGISTERs per source: an address that logged in gets 600/min with a
    // burst of 120 (its "known" tier), any other 20/min with a burst of 10, so the first
    // phone's login must put the office into the known set before the sixth phone is heard.
    let register_round = |round: u32, phones: &[(String, String)]| -> Vec<u16> {
        let phones = phones.to_vec();
        let codes = lab
            .ns("branch")
            .block_on(async move {
                let mut codes = Vec::new();
                for (i, (id, secret)) in phones.iter().enumerate() {
                    let local = SocketAddr::new(IpAddr::V4(branch), 6000 + i as u16);
                    codes.push(
                        tests::sip::register(local, pbx, id, secret)
                            .await
                            .map_err(|e| format!("phone {i} in round {round}: {e}")),
                    );
                }
                codes
            })
            .unwrap();
        codes
            .into_iter()
            .map(|c| c.unwrap_or_else(|e| panic!("{e}\n{}", server.log())))
            .collect()
    };
    assert_eq!(register_round(0, &phones[..1]), [200]);
    let known_after = Instant::now();
    while !holds(&lab.ns("pbx").nft_set("known_v4"), &branch.to_string()) {
        assert!(
            known_after.elapsed() < WAIT,
            "the office never became known:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "{TEST}: the office was in the known set {:?} after its first login",
        known_after.elapsed()
    );
    for round in 0..2 {
        assert!(
            register_round(round, &phones).iter().all(|c| *c == 200),
            "round {round}"
        );
    }
    let (stale_id, _) = phones[7].clone();
    let stale = lab
        .ns("branch")
        .block_on(async move {
            let local = SocketAddr::new(IpAddr::V4(branch), STALE_PORT);
            let mut codes = Vec::new();
            for _ in 0..6 {
                // A phone retries a refused registration after a pause, not at once.
                tokio::time::sleep(Duration::from_millis(200)).await;
                codes.push(
                    tests::sip::register(local, pbx, &stale_id, "an-old-password")
                        .await
                        .ok(),
                );
            }
            codes
        })
        .unwrap();
    eprintln!("{TEST}: the stale phone's attempts: {stale:?}");
    // Five wrong passwords are answered; then its port is dropped (no answer at all).
    assert_eq!(&stale[..5], &[Some(401); 5], "{stale:?}");
    assert_eq!(
        stale[5], None,
        "the stale phone's port was not banned: {stale:?}"
    );
    // The others go on registering from the same address.
    // Phones re-register every minute or so; a few seconds here leave the known tier room.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        register_round(2, &phones).iter().all(|c| *c == 200),
        "a round after the port ban"
    );
    let stale_target = format!("{branch}:{STALE_PORT}");
    let after_office = bans(&lab, &api, |b| banned(b, &stale_target));
    assert!(
        banned(&after_office, &stale_target),
        "no ban of the stale phone's port: {after_office:?}\n{}",
        server.log()
    );
    assert!(
        !banned(&after_office, &branch.to_string()),
        "the office was banned: {after_office:?}"
    );
    let port_ban = after_office
        .iter()
        .find(|b| b["address"] == stale_target.as_str())
        .unwrap();
    assert_eq!(port_ban["port"], STALE_PORT, "{port_ban}");
    let kernel = lab.ns("pbx").nft_set("banport_v4");
    assert!(
        holds(&kernel, &format!("{branch} . {STALE_PORT}")),
        "{kernel}"
    );
    assert!(!holds(
        &lab.ns("pbx").nft_set("ban_v4"),
        &branch.to_string()
    ));
    assert!(
        holds(&lab.ns("pbx").nft_set("known_v4"), &branch.to_string()),
        "the office is not in the generous tier"
    );
    let office_events = events_from(&lab, &api, &branch.to_string(), |e| !e.is_empty());
    assert!(
        office_events.iter().all(|e| e["outcome"] != "banned"),
        "{office_events:?}"
    );
    assert!(
        office_events
            .iter()
            .any(|e| e["outcome"] == "banned-port" && e["kind"] == "guessing"),
        "the stale phone is not reported: {office_events:?}"
    );
    assert!(
        office_events.iter().all(|e| e["kind"] != "enumeration"),
        "{office_events:?}"
    );
    // The administrator lifts the port ban: the phone is heard again at once (the kernel and
    // the running engine both forget it), and its right password registers.
    let (status, _) = call(
        &lab,
        &api,
        "DELETE",
        &format!("/api/v1/bans/{stale_target}"),
        None,
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!holds(
        &lab.ns("pbx").nft_set("banport_v4"),
        &format!("{branch} . {STALE_PORT}")
    ));
    let (stale_id, stale_secret) = phones[7].clone();
    let code = lab
        .ns("branch")
        .block_on(async move {
            let local = SocketAddr::new(IpAddr::V4(branch), STALE_PORT);
            tests::sip::register(local, pbx, &stale_id, &stale_secret).await
        })
        .unwrap()
        .expect("the unbanned port is answered");
    assert_eq!(code, 200);

    // ---- 2. The trunk delivers calls from fifty callers.
    let calls = lab
        .ns("itsp")
        .block_on(async move {
            let mut finals = Vec::new();
            for caller in 0..50u32 {
                let did = DIDS[(caller % 2) as usize];
                let from = format!("+4917{caller:07}");
                match tests::sip::invite(
                    SocketAddr::new(IpAddr::V4(itsp), 5060),
                    pbx,
                    &from,
                    did,
                    None,
                    "Provider SBC 1.0",
                )
                .await
                {
                    Ok(statuses) => finals.push(statuses[0]),
                    Err(e) => {
                        return Err(format!("call {caller} from the trunk got no answer: {e}"));
                    }
                }
            }
            Ok(finals)
        })
        .unwrap()
        .unwrap_or_else(|e| {
            let chain = lab
                .ns("pbx")
                .exec("nft", ["list", "chain", "inet", "sipwarden", "guard"])
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!(
                "{e}\n{}\nAsterisk: {}\nnft: {chain}\n{}",
                server.log(),
                ast.cli("pjsip show channels").unwrap_or_default(),
                lab.ns("pbx").nft_set("known_v4")
            )
        });
    eprintln!(
        "{TEST}: the trunk's 50 calls ended with {:?}",
        calls.iter().collect::<std::collections::BTreeSet<_>>()
    );
    assert!(
        calls.iter().all(|c| *c != 401 && *c != 403),
        "the trunk was challenged: {calls:?}"
    );

    // ---- 3. Forged datagrams with a scanner's User-Agent.
    let forged_trunk = SocketAddr::new(IpAddr::V4(itsp), 5060);
    let unknown = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 99)), 5060);
    for from in [forged_trunk, unknown] {
        lab.ns("attacker")
            .block_on(
                async move { tests::sip::send_forged(from, pbx, &scanner_probe(from, pbx_ip)) },
            )
            .unwrap()
            .unwrap();
    }
    let after_forgery = bans(&lab, &api, |b| banned(b, "203.0.113.99"));
    let unknown_ban = after_forgery
        .iter()
        .find(|b| b["address"] == "203.0.113.99")
        .unwrap_or_else(|| panic!("{after_forgery:?}"));
    assert!(
        unknown_ban["reason"].as_str().unwrap().contains("unproven"),
        "{unknown_ban}"
    );
    assert!(
        unknown_ban["remaining_secs"].as_u64().unwrap() <= 300,
        "{unknown_ban}"
    );
    assert!(holds(&lab.ns("pbx").nft_set("ban_v4"), "203.0.113.99"));
    let trunk_events = events_from(&lab, &api, &itsp.to_string(), |e| !e.is_empty());
    assert_eq!(
        trunk_events.len(),
        1,
        "the trunk's own calls are no events: {trunk_events:?}"
    );
    assert_eq!(trunk_events[0]["kind"], "scanner");
    assert_eq!(trunk_events[0]["outcome"], "protected", "{trunk_events:?}");
    assert_eq!(trunk_events[0]["proven"], false);
    // Trust given by hand reaches the running engine at once: the same forgery from an
    // address just allowlisted is reported, not banned.
    let trusted = |lab: &Lab| {
        call(lab, &api, "GET", "/api/v1/guard/status", None).1["model"]["trusted"].as_u64()
    };
    let before = trusted(&lab);
    let (status, allowed) = call(
        &lab,
        &api,
        "POST",
        "/api/v1/allowlist",
        Some(json!({"address": "203.0.113.98", "hours": 1, "note": "a partner"})),
    );
    assert_eq!(status, StatusCode::CREATED, "{allowed}");
    let t = Instant::now();
    while trusted(&lab) == before {
        assert!(t.elapsed() < WAIT, "the guard never heard of the allowlist");
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "{TEST}: the running guard trusted the allowlisted address {:?} after the API answered",
        t.elapsed()
    );
    let partner = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 98)), 5060);
    lab.ns("attacker")
        .block_on(
            async move { tests::sip::send_forged(partner, pbx, &scanner_probe(partner, pbx_ip)) },
        )
        .unwrap()
        .unwrap();
    let partner_events = events_from(&lab, &api, "203.0.113.98", |e| !e.is_empty());
    assert_eq!(partner_events.len(), 1, "{partner_events:?}");
    assert_eq!(
        partner_events[0]["outcome"], "allowlisted",
        "{partner_events:?}"
    );
    assert!(!holds(&lab.ns("pbx").nft_set("ban_v4"), "203.0.113.98"));
    // Still connected: the trunk's next call is answered.
    let statuses = lab
        .ns("itsp")
        .block_on(async move {
            tests::sip::invite(
                SocketAddr::new(IpAddr::V4(itsp), 5060),
                pbx,
                "+491700000099",
                DIDS[0],
                None,
                "Provider SBC 1.0",
            )
            .await
        })
        .unwrap()
        .expect("the trunk still reaches Asterisk");
    assert_ne!(statuses[0], 401);

    // ---- 4. A distributed guess: twenty addresses, one password each per round.
    let bots = lab.ns("bots");
    for n in 0..BOTS {
        bots.ip([
            "addr",
            "add",
            &format!("203.0.113.{}/24", 101 + n),
            "dev",
            "eth0",
        ])
        .unwrap();
    }
    let bot_ips: Vec<String> = (0..BOTS)
        .map(|n| format!("203.0.113.{}", 101 + n))
        .collect();
    let mut reached_per_round = Vec::new();
    for round in 0..3 {
        let (ips, target) = (bot_ips.clone(), remote_id.clone());
        let answers = bots
            .block_on(async move {
                let guesses = ips.iter().map(|a| {
                    let local = SocketAddr::new(a.parse().unwrap(), 0);
                    let target = target.clone();
                    async move {
                        tests::sip::register(local, pbx, &target, &format!("round-{round}-guess"))
                            .await
                    }
                });
                futures_join(guesses).await
            })
            .unwrap();
        if round == 0 {
            // The guard decided every bot's ban within the round; a botnet's next round comes
            // seconds later, by then they are all in the kernel.
            let t = Instant::now();
            loop {
                // One listing of the set per look, not one per bot.
                let kernel = lab.ns("pbx").nft_set("ban_v4");
                if bot_ips.iter().all(|a| holds(&kernel, a)) {
                    break;
                }
                if t.elapsed() > WAIT {
                    for (a, answer) in bot_ips.iter().zip(&answers) {
                        if !holds(&kernel, a) {
                            let events = events_from(&lab, &api, a, |_| true);
                            eprintln!(
                                "{TEST}: bot {a} not banned; its round: {answer:?}; Asterisk's failed challenges from it: {}; its events: {events:#?}",
                                ast.failed_challenges_from(a, "UDP")
                            );
                        }
                    }
                    panic!("not every bot reached the kernel:\n{}", server.log());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            eprintln!(
                "{TEST}: all {BOTS} bots were in the kernel {:?} after the round ended",
                t.elapsed()
            );
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        let total: usize = bot_ips
            .iter()
            .map(|a| ast.failed_challenges_from(a, "UDP"))
            .sum();
        reached_per_round.push(total);
    }
    eprintln!(
        "{TEST}: distributed guess, guesses that reached Asterisk after each round: {reached_per_round:?}"
    );
    assert_eq!(
        reached_per_round[0], BOTS as usize,
        "the first round reached Asterisk whole"
    );
    assert_eq!(
        reached_per_round[2], reached_per_round[0],
        "later rounds reached Asterisk: {reached_per_round:?}"
    );
    let after_bots = bans(&lab, &api, |b| bot_ips.iter().all(|a| banned(b, a)));
    for a in &bot_ips {
        assert!(banned(&after_bots, a), "bot {a} not banned: {after_bots:?}");
    }
    let kernel = lab.ns("pbx").nft_set("ban_v4");
    assert!(bot_ips.iter().all(|a| holds(&kernel, a)), "{kernel}");

    // ---- 5. A toll-fraud probe, watched on the live Events page: the prober waits until the
    //         page's stream is open (a stream has no replay).
    let prober = lab.host("prober").ipv4;
    let (go, ready) = std::sync::mpsc::channel::<()>();
    let (probe, shot) = std::thread::scope(|scope| {
        let lab = &lab;
        let probing = scope.spawn(move || {
            ready
                .recv_timeout(Duration::from_secs(120))
                .expect("the page never opened");
            lab.ns("prober")
                .block_on(async move {
                    // "9999" is nobody's account: the classic probe, then its answer to the
                    // challenge with made-up credentials.
                    tests::sip::invite(
                        SocketAddr::new(IpAddr::V4(prober), 5070),
                        pbx,
                        "9999",
                        "00972599123456",
                        Some(("9999", "guess")),
                        "Zoiper rv2.10",
                    )
                    .await
                })
                .unwrap()
        });
        let base = server.url("");
        let watched = prober.to_string();
        let shot = lab
            .ns("pbx")
            .block_on(async move {
                let browser = Browser::start(TEST).await.unwrap();
                let Some(browser) = browser else {
                    go.send(()).unwrap();
                    return None;
                };
                browser
                    .sign_in_at(&base, "admin", tests::server::ADMIN_PASSWORD)
                    .await
                    .unwrap();
                browser.client.goto(&format!("{base}/events")).await.unwrap();
                browser.wait_live("open", WAIT).await.unwrap();
                go.send(()).unwrap();
                browser
                    .wait_for(&format!("[...document.querySelectorAll('#live-rows tr')].some(r => r.textContent.includes('{watched}') && r.querySelector('td.kind').dataset.kind === 'toll-fraud-probe')"), WAIT)
                    .await
                    .unwrap();
                let shot = browser.screenshot("toll-fraud-probe-live").await.unwrap();
                browser.close().await;
                Some(shot)
            })
            .unwrap();
        (probing.join().unwrap(), shot)
    });
    let probe = probe.expect("Asterisk answered the probe");
    eprintln!("{TEST}: the probe got {probe:?}; live page: {shot:?}");
    assert_eq!(
        probe,
        [401, 401],
        "challenged, and its made-up answer refused"
    );
    let probe_events = events_from(&lab, &api, &prober.to_string(), |e| e.len() >= 2);
    let outcomes: Vec<(&str, &str)> = probe_events
        .iter()
        .filter(|e| e["kind"] == "toll-fraud-probe")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["detector"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("reported", "toll-fraud-unknown-caller")),
        "{probe_events:?}"
    );
    assert!(
        outcomes.contains(&("banned", "toll-fraud-unknown-caller")),
        "{probe_events:?}"
    );
    assert!(holds(&lab.ns("pbx").nft_set("ban_v4"), &prober.to_string()));

    // ---- 6. A new guessing threshold, judged by at once.
    let (status, mut policy) = call(&lab, &api, "GET", "/api/v1/guard/policy", None);
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy["guessing"]["max_failures"], 5);
    let (status, problem) = call(
        &lab,
        &api,
        "PUT",
        "/api/v1/guard/policy",
        Some(json!({"guessing": {"max_failures": 0}})),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "guessing.max_failures", "{problem}");
    policy["guessing"]["max_failures"] = json!(3);
    let (status, stored) = call(&lab, &api, "PUT", "/api/v1/guard/policy", Some(policy));
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["guessing"]["max_failures"], 3);
    let guesser = lab.host("guesser").ipv4;
    // svcrack in disguise (as real attackers run it) against another account than the one
    // under distributed attack, where every failure bans at once.
    let home = tempfile::tempdir().unwrap();
    let words = home.path().join("words.txt");
    let guesses: Vec<String> = (0..30).map(|i| format!("wrong-guess-{i:02}")).collect();
    std::fs::write(&words, guesses.join("\n") + "\n").unwrap();
    let pbx_arg = pbx_ip.to_string();
    let out = tests::sipvicious::run(
        lab.ns("guesser"),
        "svcrack",
        Some(tests::sipvicious::DISGUISE),
        &[
            "-u",
            "sales",
            "-d",
            words.to_str().unwrap(),
            "-p5060",
            &pbx_arg,
        ],
        home.path(),
    );
    let answered = String::from_utf8_lossy(&out.stdout).lines().count();
    std::thread::sleep(Duration::from_millis(500));
    let single = ast.failed_challenges_from(&guesser.to_string(), "UDP");
    eprintln!(
        "{TEST}: with the threshold at 3, {single} guesses of svcrack reached Asterisk (it said {answered} lines)"
    );
    let (_, status) = call(&lab, &api, "GET", "/api/v1/guard/status", None);
    assert_eq!(
        single,
        3,
        "guesses that reached Asterisk; ban latency {} {}\n{}",
        status["ban_to_kernel"],
        status["ban_recorded"],
        server
            .log()
            .lines()
            .filter(|l| l.contains("guard banned") || l.contains("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // ---- Nobody the PBX depends on was banned.
    let all = bans(&lab, &api, |_| true);
    let legitimate = [branch.to_string(), itsp.to_string()];
    let wrongly: Vec<&Value> = all
        .iter()
        .filter(|b| legitimate.iter().any(|a| b["address"] == a.as_str()))
        .collect();
    eprintln!("{TEST}: bans of legitimate parties: {}", wrongly.len());
    assert!(wrongly.is_empty(), "{wrongly:?}");
    let kernel = lab.ns("pbx").nft_set("ban_v4");
    assert!(legitimate.iter().all(|a| !holds(&kernel, a)), "{kernel}");
    let (_, status) = call(&lab, &api, "GET", "/api/v1/guard/status", None);
    eprintln!(
        "{TEST}: bans into the kernel (µs from the deciding packet): {}; recorded: {}",
        status["ban_to_kernel"], status["ban_recorded"]
    );
    assert!(status["protected"].as_u64().unwrap() >= 1, "{status}");
    assert!(status["port_bans"].as_u64().unwrap() >= 1, "{status}");
    drop(server);

    eprintln!("{TEST}: whole test {:?}", started.elapsed());
}

/// Runs futures side by side on the current thread's runtime, in order of their results.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
