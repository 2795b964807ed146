//! How fast the running appliance bans: `sipwarden serve` beside a real Asterisk 22 in a lab
//! namespace, both taps up, attacked from other namespaces. For each ban, the time from the
//! capture of the packet that decided it to the kernel's acknowledgement (the server logs it
//! per ban, `to_kernel_us`), and how many guesses reached Asterisk (its own security log).
//!
//! 1. single guessers at full speed over UDP, one after another, each from its own address;
//! 2. the same over TCP;
//! 3. 50 addresses crossing the guessing threshold within the same 100 ms (the threshold set
//!    to one wrong password for it).
//!
//! `cargo bench -p tests --bench ban_path` (root; a release build of the appliance).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::api::Api;
use tests::appliance::Appliance;
use tests::asterisk;
use tests::netns::{Lab, Net};

const NAME: &str = "ban_path";
/// The default guessing threshold.
const THRESHOLD: usize = 5;
/// Single guessers per transport.
const SINGLES: u8 = 20;
/// Addresses of the burst.
const BURST: u8 = 50;

/// `field` (`to_kernel_us`, `queued_us`, `kernel_us`) of the server's "guard banned a source"
/// lines for `ip`.
fn logged(log: &str, ip: &str, field: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("guard banned a source") && l.contains(&format!("target={ip} ")))
        .filter_map(|l| {
            // With the space before it, `kernel_us=` is not read out of `to_kernel_us=`.
            let rest = l.split(&format!(" {field}=")).nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// The three figures of the bans of `ips`: the whole path, and two of its parts.
fn report_all(what: &str, log: &str, ips: &[String]) {
    for (field, part) in [
        ("to_kernel_us", "to the kernel"),
        ("queued_us", "deciding packet to the ban path"),
        ("kernel_us", "the kernel transaction"),
    ] {
        let us = ips.iter().flat_map(|ip| logged(log, ip, field)).collect();
        report(&format!("{what}, {part}"), us);
    }
}

fn report(what: &str, mut us: Vec<u64>) {
    us.sort_unstable();
    let at = |q: f64| us[((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1];
    if us.is_empty() {
        println!("{what}: no samples");
        return;
    }
    println!(
        "{what}: {} bans, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        us.len(),
        at(0.5) as f64 / 1000.0,
        at(0.99) as f64 / 1000.0,
        *us.last().unwrap_or(&0) as f64 / 1000.0
    );
}

/// Guesses `account`'s password from `ip` at full speed until the PBX stops answering.
/// (Each guesser gets an account of its own: many sources failing on one account would be a
/// distributed guess, banned sooner.)
async fn guess_until_banned(ip: IpAddr, pbx: SocketAddr, tcp: bool, account: String) -> usize {
    let mut answered = 0;
    for i in 0..50 {
        let password = format!("wrong-{i}");
        let done = if tcp {
            tests::sip::register_tcp(ip, pbx, &account, &password).await
        } else {
            tests::sip::register(SocketAddr::new(ip, 0), pbx, &account, &password).await
        };
        match done {
            Ok(_) => answered += 1,
            Err(_) => break,
        }
    }
    answered
}

fn main() {
    if asterisk::require_rootfs(NAME).is_none()
        || !tests::root::require_commands(NAME, &["nft", "conntrack"])
    {
        return;
    }
    let lab = Lab::builder()
        .host("pbx", Net::Pbx)
        .host("guessers", Net::Internet)
        .host("burst", Net::Internet)
        .build()
        .expect("building the lab");
    let pbx = SocketAddr::new(IpAddr::V4(lab.host("pbx").ipv4), 5060);
    let appliance = Appliance::start(
        &lab,
        &[],
        &["AMI security tap connected", "SIP capture tap started"],
    )
    .expect("starting the appliance");
    let ast = &appliance.asterisk;
    // A phone on TCP, so that Asterisk listens on TCP too (it renders only the transports in
    // use), then applied.
    let base = appliance.server.url("");
    let api = lab
        .ns("pbx")
        .block_on(async move {
            let api = Api::sign_in_at(&base, "admin", tests::server::ADMIN_PASSWORD)
                .await
                .expect("signing in");
            api.create(
                "/api/v1/endpoints",
                json!({"extension": "1500", "display_name": "TCP phone", "transport": "tcp",
                       "permit": [Net::Internet.cidr_v4()]}),
            )
            .await;
            let (status, report) = api.call("POST", "/api/v1/config/apply", None).await;
            assert!(status.is_success() && report["applied"] == true, "{report}");
            api
        })
        .expect("the TCP phone");

    for (label, tcp, first) in [("UDP", false, 100u8), ("TCP", true, 130u8)] {
        let mut reached = Vec::new();
        let mut ips = Vec::new();
        for n in 0..SINGLES {
            let ip = format!("203.0.113.{}", first + n);
            lab.ns("guessers")
                .ip(["addr", "add", &format!("{ip}/24"), "dev", "eth0"])
                .expect("an address");
            let addr: IpAddr = ip.parse().expect("an address");
            let answered = lab
                .ns("guessers")
                .block_on(async move {
                    guess_until_banned(addr, pbx, tcp, format!("sales{label}{n}")).await
                })
                .expect("guessing");
            std::thread::sleep(Duration::from_millis(200));
            reached.push(ast.failed_challenges_from(&ip, label));
            ips.push(ip);
            let _ = answered;
        }
        println!(
            "{NAME}: single guessers over {label}: guesses that reached Asterisk {:?} (threshold {THRESHOLD})",
            reached
        );
        // Which tap decided: the wire ("401 to REGISTER") or AMI ("ChallengeResponseFailed").
        let first_ip = format!("203.0.113.{first}");
        let (query, events) = (api.clone(), format!("/api/v1/events?source={first_ip}"));
        let decided = lab
            .ns("pbx")
            .block_on(async move { query.call("GET", &events, None).await.1 })
            .expect("events");
        println!(
            "{NAME}: over {label}, {first_ip} was judged on {:?}",
            decided["items"].as_array().map(|items| items
                .iter()
                .map(|e| e["method"].to_string())
                .collect::<Vec<_>>())
        );
        report_all(
            &format!("{NAME}: single guessers over {label}"),
            &appliance.server.log(),
            &ips,
        );
    }

    // The burst: 50 addresses cross the threshold within the same 100 ms. At the default
    // threshold Asterisk needs longer than that to answer 250 wrong passwords, so the threshold
    // is one wrong password for this part.
    let lowered = api.clone();
    lab.ns("pbx")
        .block_on(async move {
            let (status, body) = lowered
                .call(
                    "PUT",
                    "/api/v1/guard/policy",
                    Some(json!({"guessing": {"max_failures": 1}})),
                )
                .await;
            assert!(status.is_success(), "{body}");
        })
        .expect("the policy");
    let ips: Vec<String> = (0..BURST)
        .map(|n| format!("203.0.113.{}", 170 + n))
        .collect();
    for ip in &ips {
        lab.ns("burst")
            .ip(["addr", "add", &format!("{ip}/24"), "dev", "eth0"])
            .expect("an address");
    }
    let addrs: Vec<IpAddr> = ips.iter().map(|a| a.parse().expect("an address")).collect();
    let started = Instant::now();
    lab.ns("burst")
        .block_on(async move {
            let tasks: Vec<_> = addrs
                .into_iter()
                .enumerate()
                .map(|(n, ip)| {
                    tokio::spawn(async move {
                        let account = format!("burst{n}");
                        // Until unanswered: a banned address's later tries only time out.
                        for i in 0..THRESHOLD {
                            if tests::sip::register(
                                SocketAddr::new(ip, 0),
                                pbx,
                                &account,
                                &format!("w{i}"),
                            )
                            .await
                            .is_err()
                            {
                                break;
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        })
        .expect("the burst");
    std::thread::sleep(Duration::from_millis(500));
    let log = appliance.server.log();
    let batches: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("guard banned a source")
                && ips.iter().any(|ip| l.contains(&format!("target={ip} ")))
        })
        .filter_map(|l| l.split("batch=").nth(1)?.split_whitespace().next())
        .collect();
    println!(
        "{NAME}: burst of {BURST} addresses took {:?}; bans in transactions of {:?}",
        started.elapsed(),
        batches
    );
    report_all(
        &format!("{NAME}: {BURST} addresses within the same 100 ms"),
        &log,
        &ips,
    );
}
