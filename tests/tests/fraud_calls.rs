//! Toll-fraud protection with real calls (#15): a real Asterisk 22 rendered by sipwarden,
//! sipwarden serving the pre-call decision beside it, phones placing calls with SIP digest
//! authentication from the office and from the Internet, and a provider stand-in in its own
//! namespace that answers every call it is offered. One appliance for every scenario, in
//! order:
//!
//! 1. the internal class cannot reach a national or an international number, and a premium
//!    (IRSF) range is refused to the international class: the provider is never offered them;
//! 2. over a limit of two concurrent international calls, the third is refused while the
//!    first two stay up;
//! 3. a burst of calls from stolen credentials locks the account, and its running calls are
//!    hung up within a second (the figure is printed); emergency numbers still pass;
//! 4. in report-only mode nothing is blocked and everything is recorded;
//! 5. with sipwarden stopped the fail modes hold: international closed, national open,
//!    emergency always.
//!
//! Root only.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::appliance::Appliance;
use tests::asterisk;
use tests::netns::{Lab, Net};
use tests::sip_call::{self, HeldCall, ProviderCounts};

const TEST: &str = "fraud_calls";
const INTERNATIONAL: &str = "0033140000000";
const NATIONAL: &str = "030123456";
const PREMIUM: &str = "00881123456";
const EMERGENCY: &str = "112";

/// A phone's account: its SIP user name and secret.
#[derive(Clone)]
struct Account {
    user: String,
    secret: String,
}

/// Places a call from `host` (each call from its own port).
async fn place(lab_host: IpAddr, pbx: SocketAddr, who: &Account, number: &str) -> sip_call::Placed {
    sip_call::place(
        SocketAddr::new(lab_host, 0),
        pbx,
        &who.user,
        &who.secret,
        number,
    )
    .await
    .unwrap()
}

/// Places a call and hangs it up at once if it was answered; the final status.
async fn try_call(host: IpAddr, pbx: SocketAddr, who: &Account, number: &str) -> u16 {
    let placed = place(host, pbx, who, number).await;
    if let Some(call) = placed.call {
        call.hang_up().await.unwrap();
    }
    placed.status
}

#[test]
fn every_external_call_is_decided_and_a_fraud_burst_is_stopped_within_a_second() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none() || !tests::root::require_commands(TEST, &["nft"]) {
        return;
    }
    let lab = Lab::builder()
        .host("pbx", Net::Pbx)
        .host("desk", Net::Office)
        .host("thief", Net::Internet)
        .host("itsp", Net::Internet)
        .build()
        .expect("building the lab");
    let pbx = SocketAddr::new(IpAddr::V4(lab.host("pbx").ipv4), 5060);
    let (desk, thief, itsp) = (
        IpAddr::V4(lab.host("desk").ipv4),
        IpAddr::V4(lab.host("thief").ipv4),
        lab.host("itsp").ipv4,
    );

    // The provider answers every call from the start: Asterisk qualifies the trunk.
    let counts = Arc::new(ProviderCounts::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let provider_counts = counts.clone();
    std::thread::scope(|scope| {
        let itsp_ns = lab.ns("itsp");
        scope.spawn(move || {
            itsp_ns
                .block_on(async move {
                    let sock = tokio::net::UdpSocket::bind(SocketAddr::new(itsp.into(), 5060))
                        .await
                        .unwrap();
                    tokio::select! {
                        r = sip_call::provider(sock, provider_counts) => r.unwrap(),
                        _ = stopped => {}
                    }
                })
                .unwrap();
        });
        scenarios(&lab, pbx, desk, thief, itsp.into(), &counts);
        stop.send(()).unwrap();
    });
    eprintln!("{TEST}: done in {:?}", started.elapsed());
}

/// Waits until the provider has `up` calls up (its BYEs arrive just after the phone's).
async fn provider_up(counts: &ProviderCounts, up: i64) -> i64 {
    for _ in 0..100 {
        if counts.up.load(Ordering::Relaxed) == up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    counts.up.load(Ordering::Relaxed)
}

fn findings(lab: &Lab, api: &Api, endpoint: &str) -> Vec<Value> {
    let (_, body) = api.call_in(
        lab.ns("pbx"),
        "GET",
        &format!("/api/v1/fraud/findings?endpoint_id={endpoint}"),
        None,
    );
    body.as_array().cloned().unwrap_or_default()
}

#[allow(
    clippy::too_many_lines,
    reason = "one appliance, the scenarios in order"
)]
fn scenarios(
    lab: &Lab,
    pbx: SocketAddr,
    desk: IpAddr,
    thief: IpAddr,
    itsp: IpAddr,
    counts: &Arc<ProviderCounts>,
) {
    let Appliance {
        mut server,
        asterisk: ast,
        remote_id,
        remote_secret,
    } = Appliance::start(lab, &[], &["fraud decision listening"]).expect("starting the appliance");
    let pbx_ns = lab.ns("pbx");
    let base = server.url("");
    let api = pbx_ns
        .block_on(async move {
            Api::sign_in_at(&base, "admin", tests::server::ADMIN_PASSWORD)
                .await
                .unwrap()
        })
        .unwrap();
    // The appliance's remote worker is of the internal class.
    let internal = Account {
        user: remote_id,
        secret: remote_secret,
    };
    // Their own call limit (Asterisk's GROUP count) is above the fraud policy's, so what
    // refuses a third call here is the fraud decision.
    let mut international = Vec::new();
    for (extension, name) in [("2001", "Sales"), ("2002", "Night desk")] {
        let (status, created) = api.call_in(
            pbx_ns,
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": extension, "display_name": name,
                "calling_class": "international", "max_calls": 6,
                "permit": [Net::Office.cidr_v4(), Net::Internet.cidr_v4()]})),
        );
        assert_eq!(status, StatusCode::CREATED, "{created}");
        international.push(Account {
            user: created["id"].as_str().unwrap().to_owned(),
            secret: created["secret"].as_str().unwrap().to_owned(),
        });
    }
    let (sales, night) = (international[0].clone(), international[1].clone());
    let trunk = json!({"name": "itsp", "peer": itsp.to_string(), "outbound": true});
    let (status, created) = api.call_in(pbx_ns, "POST", "/api/v1/trunks", Some(trunk));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, report) = api.call_in(pbx_ns, "POST", "/api/v1/config/apply", None);
    assert_eq!(
        (status, &report["applied"]),
        (StatusCode::OK, &json!(true)),
        "{report}"
    );
    let dialplan = ast.cli("dialplan show sw-dial-international").unwrap();
    assert!(dialplan.contains("sw-fraud-decision"), "{dialplan}");

    // ---- 1. Classes and ranges.
    let desk_ns = lab.ns("desk");
    let (who, sales_c) = (internal.clone(), sales.clone());
    let statuses = desk_ns
        .block_on(async move {
            let mut statuses = Vec::new();
            for number in [INTERNATIONAL, NATIONAL] {
                statuses.push(try_call(desk, pbx, &who, number).await);
            }
            statuses.push(try_call(desk, pbx, &sales_c, PREMIUM).await);
            statuses.push(try_call(desk, pbx, &who, EMERGENCY).await);
            statuses
        })
        .unwrap();
    assert!(
        statuses[0] >= 400 && statuses[1] >= 400,
        "the internal class reached out: {statuses:?}"
    );
    assert_eq!(statuses[2], 403, "a premium range is refused: {statuses:?}");
    assert_eq!(
        statuses[3], 200,
        "emergency numbers always pass: {statuses:?}"
    );
    assert_eq!(
        counts.offered.load(Ordering::Relaxed),
        1,
        "the provider was offered only the emergency call"
    );
    let premium: Vec<String> = findings(lab, &api, &sales.user)
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["rule"].as_str().unwrap(),
                f["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        premium.contains(&"high_risk_destination block".to_owned()),
        "{premium:?}"
    );

    // ---- 2. Two concurrent international calls stay up; the third is refused.
    // The administrator then hangs up the first from sipwarden (the API's hang-up, over
    // AMI); the phone hangs up the second.
    let (sales_c, c, admin_api) = (sales.clone(), counts.clone(), api.clone());
    let pbx_name = pbx_ns.name().to_owned();
    let (third, first_two, up_meanwhile, hung_up, up_after) = desk_ns
        .block_on(async move {
            let mut held: Vec<HeldCall> = Vec::new();
            for n in 1..=2 {
                let placed = place(desk, pbx, &sales_c, &format!("003314000000{n}")).await;
                assert_eq!(placed.status, 200, "call {n}");
                held.push(placed.call.unwrap());
            }
            let third = try_call(desk, pbx, &sales_c, "0033140000009").await;
            // Still up a second later.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let first_two: Vec<bool> = held.iter().map(|c| c.ended_at().is_none()).collect();
            let up_meanwhile = c.up.load(Ordering::Relaxed);
            let hang_up = tokio::task::spawn_blocking(move || {
                tests::netns::block_on_in(&pbx_name, async move {
                    let (_, running) = admin_api.call("GET", "/api/v1/fraud/calls", None).await;
                    let first = running[0]["uniqueid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    admin_api
                        .call("DELETE", &format!("/api/v1/fraud/calls/{first}"), None)
                        .await
                        .0
                })
            });
            let status = hang_up.await.unwrap().unwrap();
            let mut second = held.pop().unwrap();
            let mut first = held.pop().unwrap();
            let hung_up = (status, first.ended(Duration::from_secs(2)).await.is_some());
            assert!(
                second.ended(Duration::from_millis(100)).await.is_none(),
                "only the first"
            );
            second.hang_up().await.unwrap();
            (
                third,
                first_two,
                up_meanwhile,
                hung_up,
                provider_up(&c, 0).await,
            )
        })
        .unwrap();
    assert_eq!(
        hung_up,
        (StatusCode::NO_CONTENT, true),
        "the administrator's hang-up reached the phone"
    );
    assert_eq!(third, 403, "the third concurrent call is refused");
    assert_eq!(first_two, [true, true], "the first two stay up");
    assert_eq!((up_meanwhile, up_after), (2, 0), "calls up at the provider");
    let (_, running) = api.call_in(pbx_ns, "GET", "/api/v1/fraud/calls", None);
    assert_eq!(running, json!([]), "the hang-up handler told sipwarden");
    // Their records: answered, from the desk, to France, priced.
    let (_, records) = api.call_in(
        pbx_ns,
        "GET",
        &format!("/api/v1/fraud/call-records?endpoint_id={}", sales.user),
        None,
    );
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    for r in records {
        assert_eq!(r["dial_status"], "ANSWER", "{r}");
        assert_eq!(r["source"], desk.to_string(), "{r}");
        assert_eq!(r["region"], "FR", "{r}");
        assert!(r["answered_secs"].as_i64().unwrap() >= 1, "{r}");
    }

    // ---- 3. Stolen credentials: the night desk's account from the Internet. Two calls go
    // up, three more are refused (two at once is the limit), and the sixth attempt within
    // the minute (limit 5) locks the account: its two running calls are hung up.
    let (night_c, c) = (night.clone(), counts.clone());
    let (burst, gone_after, emergency, locked_national) = lab
        .ns("thief")
        .block_on(async move {
            let mut held: Vec<HeldCall> = Vec::new();
            for n in 1..=2 {
                let placed = place(thief, pbx, &night_c, &format!("004420794601{n}")).await;
                assert_eq!(placed.status, 200, "call {n} of the thief");
                held.push(placed.call.unwrap());
            }
            let mut burst = Vec::new();
            let mut locking_sent = Instant::now();
            for n in 3..=6 {
                locking_sent = Instant::now();
                burst.push(try_call(thief, pbx, &night_c, &format!("004420794602{n}")).await);
            }
            let mut gone_after = Vec::new();
            for call in &mut held {
                let at = call.ended(Duration::from_secs(5)).await;
                gone_after.push(at.map(|at| at.saturating_duration_since(locking_sent)));
            }
            provider_up(&c, 0).await;
            let emergency = try_call(thief, pbx, &night_c, EMERGENCY).await;
            let locked_national = try_call(thief, pbx, &night_c, NATIONAL).await;
            (burst, gone_after, emergency, locked_national)
        })
        .unwrap();
    assert_eq!(burst, [403, 403, 403, 403], "the burst is refused");
    eprintln!(
        "{TEST}: the locked account's calls were gone {gone_after:?} after the locking attempt was sent"
    );
    for gone in &gone_after {
        let gone = gone.expect("a running call of the locked account was hung up");
        assert!(gone < Duration::from_secs(1), "hung up after {gone:?}");
    }
    assert_eq!(
        counts.up.load(Ordering::Relaxed),
        0,
        "the provider's legs are gone too"
    );
    assert_eq!(
        emergency, 200,
        "a locked account still reaches emergency numbers"
    );
    assert_eq!(
        locked_national, 403,
        "a locked account reaches nothing else"
    );
    let (_, locks) = api.call_in(pbx_ns, "GET", "/api/v1/fraud/locks", None);
    assert_eq!(locks[0]["endpoint_id"], night.user, "{locks}");
    assert_eq!(locks[0]["rule"], "call_rate", "{locks}");

    // ---- 4. Report-only: every rule reports, nothing is blocked, everything is recorded.
    let (_, mut policy) = api.call_in(pbx_ns, "GET", "/api/v1/fraud/policy", None);
    for field in ["destination_mode", "high_risk_mode"] {
        policy[field] = json!("report");
    }
    for field in [
        "concurrent_global",
        "concurrent_per_trunk",
        "concurrent_per_endpoint",
        "calls_per_minute",
        "calls_to_one_number",
    ] {
        policy[field]["mode"] = json!("report");
    }
    let (status, body) = api.call_in(pbx_ns, "PUT", "/api/v1/fraud/policy", Some(policy));
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = api.call_in(
        pbx_ns,
        "DELETE",
        &format!("/api/v1/fraud/locks/{}", night.user),
        None,
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    let before = findings(lab, &api, &night.user).len();
    let night_c = night.clone();
    let statuses = desk_ns
        .block_on(async move {
            let mut statuses = Vec::new();
            for number in [PREMIUM, PREMIUM, "0033140000005"] {
                statuses.push(try_call(desk, pbx, &night_c, number).await);
            }
            statuses
        })
        .unwrap();
    assert_eq!(statuses, [200, 200, 200], "report-only blocks nothing");
    let reported = findings(lab, &api, &night.user);
    let new: Vec<(&str, &str)> = reported[..reported.len() - before]
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["outcome"].as_str().unwrap()))
        .collect();
    assert!(new.contains(&("high_risk_destination", "allow")), "{new:?}");
    // The account called from the Internet before; the office is a network new for it.
    assert!(new.contains(&("new_network", "allow")), "{new:?}");
    assert!(
        new.iter().all(|(_, outcome)| *outcome == "allow"),
        "{new:?}"
    );
    let (_, locks) = api.call_in(pbx_ns, "GET", "/api/v1/fraud/locks", None);
    assert_eq!(locks, json!([]), "report-only locks nobody");

    // ---- 5. sipwarden stopped: Asterisk cannot ask. International fails closed, national
    // fails open, emergency never asks.
    server.terminate().unwrap();
    let sales_c = sales.clone();
    let statuses = desk_ns
        .block_on(async move {
            let mut statuses = Vec::new();
            for number in [INTERNATIONAL, NATIONAL, EMERGENCY] {
                statuses.push(try_call(desk, pbx, &sales_c, number).await);
            }
            statuses
        })
        .unwrap();
    assert_eq!(statuses, [403, 200, 200], "the fail modes hold");
    drop(ast);
}
