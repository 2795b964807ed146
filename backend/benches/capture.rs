//! The live capture path, measured as it runs in `serve` (libpcap, kernel BPF filter, the
//! capture thread, extractor, engine, enforcer):
//!
//! 1. loss: SIP REGISTERs sent over loopback at fixed rates (50,000 to 200,000 packets/s),
//!    counted as judged messages: how many were lost, and what the kernel says it dropped;
//! 2. latency: from sending the answer that crosses the guessing threshold (the 5th 401 to a
//!    source's wrong passwords) to the source's element being in a kernel ban set (the real
//!    nftables session of `backend::firewall`, in a throw-away namespace, so the host's
//!    firewall is never touched; the conntrack flush follows): p50, p99, max.
//!
//! Not criterion: these are rates and distributions of a live system, printed as figures.
//! Needs root (capture, namespaces, nftables); without it, says so and does nothing.
//!
//! `cargo bench -p backend --bench capture`

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use backend::firewall::{Firewall, Target};
use backend::guard::pcap_tap::{self, CaptureConfig, SipPorts};
use backend::guard::{Enforcer, Guard};
use policy::firewall::CheckPolicy;
use policy::firewall::{FirewallPolicy, TimedAddress};
use policy::guard::{BanDecision, Engine, GuardPolicy};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// A namespace removed on drop.
struct Namespace(String);

impl Namespace {
    fn new() -> Option<Namespace> {
        let name = format!("swbench-cap-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Namespace(name))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Counts bans, nothing else (the loss run's loopback is never banned anyway).
struct Nothing;

#[async_trait::async_trait]
impl Enforcer for Nothing {
    async fn enforce(&self, _: &[BanDecision], _: SystemTime) {}
}

/// Bans in the namespace's kernel set and notes when each ban was in.
struct KernelBans {
    firewall: Firewall,
    /// When the ban decision reached the enforcer, and when the element was in.
    done: Mutex<HashMap<IpAddr, (SystemTime, SystemTime)>>,
    /// Bans whose conntrack flush has finished.
    flushed: Mutex<Vec<IpAddr>>,
}

#[async_trait::async_trait]
impl Enforcer for KernelBans {
    async fn enforce(&self, bans: &[BanDecision], _captured: SystemTime) {
        let decided = SystemTime::now();
        for ban in bans {
            // Loopback sources stand for Internet ones: 127.a.b.c is banned as 10.a.b.c.
            let IpAddr::V4(v4) = ban.source else { continue };
            let [_, a, b, c] = v4.octets();
            let stand_in = IpAddr::V4(Ipv4Addr::new(10, a, b, c));
            let entry = [TimedAddress::expiring(stand_in, 600)];
            // As `Firewall::ban_many` does: the element first (from then on the source's
            // packets are dropped: that is the moment measured), then its flows.
            match self.firewall.ban_in_kernel(&entry).await {
                Ok(sources) => {
                    if let Ok(mut done) = self.done.lock() {
                        done.insert(ban.source, (decided, SystemTime::now()));
                    }
                    if let Err(e) = self.firewall.conntrack().delete_sources(&sources).await {
                        eprintln!("conntrack flush failed: {e}");
                    }
                    if let Ok(mut flushed) = self.flushed.lock() {
                        flushed.push(ban.source);
                    }
                }
                Err(e) => eprintln!("ban failed: {e}"),
            }
        }
    }
}

/// A REGISTER whose Call-ID, tag and CSeq carry a 10-digit number, and where it starts, so the
/// sender can renumber one buffer instead of formatting each packet.
fn register_template(port: u16) -> (Vec<u8>, Vec<usize>) {
    let text = format!(
        "REGISTER sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK0000000000\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=0000000000\r\nTo: <sip:1001@127.0.0.1>\r\n\
         Call-ID: bench-0000000000@127.0.0.1\r\nCSeq: 0000000000 REGISTER\r\nContact: <sip:1001@127.0.0.1:5062>\r\n\
         User-Agent: Yealink SIP-T46S 66.86.0.15\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
    );
    let at = text.match_indices("0000000000").map(|(i, _)| i).collect();
    (text.into_bytes(), at)
}

fn renumber(packet: &mut [u8], at: &[usize], n: u64) {
    let digits = format!("{:010}", n % 10_000_000_000);
    for &i in at {
        packet[i..i + 10].copy_from_slice(digits.as_bytes());
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Waits until the judged-message count stops moving.
fn settle(counters: &pcap_tap::CaptureCounters) -> u64 {
    let mut last = counters.snapshot().messages;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = counters.snapshot().messages;
        if now == last {
            return now;
        }
        last = now;
    }
}

fn loss(rt: &tokio::runtime::Runtime) {
    // A port of its own, so other traffic on loopback is not counted.
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    // Loopback is never banned (the engine trusts it), so the flood is judged to the end.
    let Ok(engine) = Engine::new(GuardPolicy::default()) else {
        return;
    };
    let guard = Guard::new(engine, Arc::new(Nothing));
    let tap = match pcap_tap::start(
        CaptureConfig {
            interface: "lo".to_owned(),
            ports: SipPorts {
                udp: vec![port],
                tcp: vec![],
            },
        },
        guard,
        rt.handle().clone(),
    ) {
        Ok(tap) => tap,
        Err(e) => {
            eprintln!("SKIPPED capture loss: {e}");
            return;
        }
    };
    // Something listens, so the kernel sends no port-unreachable per packet.
    let Ok(sink) = UdpSocket::bind(("127.0.0.1", port)) else {
        return;
    };
    let Ok(sender) = UdpSocket::bind("127.0.0.1:0") else {
        return;
    };
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    let mut n = 0u64;
    let (mut packet, at) = register_template(port);
    // Warm up (first packets wake the capture thread up).
    for _ in 0..1000 {
        n += 1;
        renumber(&mut packet, &at, n);
        let _ = sender.send_to(&packet, target);
    }
    let mut judged = settle(&tap.counters);
    for rate in [50_000u64, 100_000, 200_000] {
        let total = rate * 3;
        let before = tap.counters.snapshot();
        let started = Instant::now();
        // Paced in slices of 1 ms.
        let per_slice = rate / 1000;
        let mut sent = 0u64;
        let mut send_errors = 0u64;
        while sent < total {
            let due = Duration::from_micros(sent * 1_000_000 / rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
            for _ in 0..per_slice {
                n += 1;
                renumber(&mut packet, &at, n);
                if sender.send_to(&packet, target).is_err() {
                    send_errors += 1;
                }
                sent += 1;
            }
        }
        let took = started.elapsed();
        let now = settle(&tap.counters);
        let after = tap.counters.snapshot();
        let got = now - judged;
        judged = now;
        eprintln!(
            "capture at {rate} packets/s (achieved {:.0}/s): sent {sent}, judged {got}, lost {} \
             ({:.3} %), send errors {send_errors}, kernel drops {} (as of its last report)",
            sent as f64 / took.as_secs_f64(),
            sent.saturating_sub(got),
            sent.saturating_sub(got) as f64 * 100.0 / sent as f64,
            after.kernel_dropped - before.kernel_dropped,
        );
    }
    drop(sink);
    tap.stop();
}

fn latency(rt: &tokio::runtime::Runtime) {
    let Some(ns) = Namespace::new() else {
        eprintln!("SKIPPED ban latency: could not create a network namespace");
        return;
    };
    let Ok(state) = tempfile::tempdir() else {
        return;
    };
    let firewall = Firewall::new(Target::netns(&ns.0), state.path());
    let Ok(policy) = FirewallPolicy::default().check() else {
        return;
    };
    if let Err(e) = rt.block_on(firewall.apply(&policy)) {
        eprintln!("SKIPPED ban latency: could not load the ruleset: {e}");
        return;
    }
    let enforcer = Arc::new(KernelBans {
        firewall,
        done: Mutex::new(HashMap::new()),
        flushed: Mutex::new(Vec::new()),
    });
    let Ok(engine) = Engine::new(GuardPolicy::default()) else {
        return;
    };
    let threshold = engine.policy().guessing.max_failures;
    let guard = Guard::new(engine, enforcer.clone());
    let mut events = guard.subscribe();
    let mut kernel_part = Vec::new();
    let mut sent_at: HashMap<IpAddr, SystemTime> = HashMap::new();
    let port = 40_000 + (std::process::id() % 20_000) as u16;
    let tap = match pcap_tap::start(
        CaptureConfig {
            interface: "lo".to_owned(),
            ports: SipPorts {
                udp: vec![port],
                tcp: vec![],
            },
        },
        guard,
        rt.handle().clone(),
    ) {
        Ok(tap) => tap,
        Err(e) => {
            eprintln!("SKIPPED ban latency: {e}");
            return;
        }
    };
    let Ok(asterisk) = UdpSocket::bind(("127.0.0.1", port)) else {
        return;
    };
    let mut took = Vec::new();
    let mut to_decision = Vec::new();
    let mut scanner_to_decision = Vec::new();
    for i in 0..300u32 {
        let ip = Ipv4Addr::new(127, 1, (i >> 8) as u8, (i & 0xff) as u8 + 1);
        let Ok(attacker) = UdpSocket::bind((ip, 0)) else {
            continue;
        };
        let Ok(attacker_addr) = attacker.local_addr() else {
            continue;
        };
        let mut crossed = SystemTime::now();
        if i % 2 == 1 {
            // Every other source is a scanner, judged on its first packet: the capture and
            // engine path alone, no request-answer pairing.
            let probe = format!(
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {attacker_addr};branch=z9hG4bKs{i}\r\n\
                 From: <sip:100@127.0.0.1>;tag=a\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: scan-{i}\r\n\
                 CSeq: 1 OPTIONS\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
            );
            crossed = SystemTime::now();
            let _ = attacker.send_to(probe.as_bytes(), asterisk_addr(port));
        }
        for guess in (1..=threshold).filter(|_| i % 2 == 0) {
            let call = format!("lat-{i}-{guess}");
            // An account per source: the same account from many sources would be distributed
            // guessing, banned on its first failure.
            let user = format!("u{i}");
            let request = format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {attacker_addr};branch=z9hG4bK{call}\r\n\
                 From: <sip:{user}@127.0.0.1>;tag=a\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: {call}\r\n\
                 CSeq: 2 REGISTER\r\nAuthorization: Digest username=\"{user}\", realm=\"asterisk\", \
                 nonce=\"n\", uri=\"sip:127.0.0.1\", response=\"00\"\r\nUser-Agent: Zoiper\r\n\
                 Content-Length: 0\r\n\r\n"
            );
            let answer = format!(
                "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP {attacker_addr};branch=z9hG4bK{call}\r\n\
                 From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>;tag=b\r\nCall-ID: {call}\r\n\
                 CSeq: 2 REGISTER\r\nWWW-Authenticate: Digest realm=\"asterisk\", nonce=\"m\"\r\n\
                 Server: Asterisk PBX 22\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = attacker.send_to(request.as_bytes(), asterisk_addr(port));
            // As Asterisk answers a moment later.
            std::thread::sleep(Duration::from_micros(200));
            crossed = SystemTime::now();
            let _ = asterisk.send_to(answer.as_bytes(), attacker_addr);
            std::thread::sleep(Duration::from_micros(300));
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let done = enforcer
                .done
                .lock()
                .ok()
                .and_then(|d| d.get(&IpAddr::V4(ip)).copied());
            if let Some((decided, at)) = done {
                sent_at.insert(IpAddr::V4(ip), crossed);
                if i % 2 == 1 {
                    scanner_to_decision.push(decided.duration_since(crossed).unwrap_or_default());
                } else {
                    took.push(at.duration_since(crossed).unwrap_or_default());
                    to_decision.push(decided.duration_since(crossed).unwrap_or_default());
                }
                break;
            }
            if Instant::now() > deadline {
                eprintln!("no ban of {ip} within 2 s");
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // One ban at a time: the next source starts once this one's conntrack flush (a
        // process run) is over, so each sample is a single ban's latency, not a queue's.
        while Instant::now() < deadline
            && !enforcer
                .flushed
                .lock()
                .is_ok_and(|f| f.contains(&IpAddr::V4(ip)))
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // The last conntrack flush runs on the runtime; let it finish before the runtime goes.
    std::thread::sleep(Duration::from_millis(500));
    tap.stop();
    if took.is_empty() {
        return;
    }
    took.sort();
    to_decision.sort();
    scanner_to_decision.sort();
    // Each event carries its packet's capture timestamp (ms): how much of the latency passed
    // before libpcap even had the packet.
    let mut kinds: HashMap<String, usize> = HashMap::new();
    while let Ok(event) = events.try_recv() {
        *kinds
            .entry(format!("{:?}/{}", event.kind, event.detector))
            .or_default() += 1;
        if let Some(sent) = sent_at.get(&event.source.ip()) {
            let sent_ms = sent
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            kernel_part.push(Duration::from_millis(event.time.0.saturating_sub(sent_ms)));
        }
    }
    kernel_part.sort();
    eprintln!("events by kind/detector: {kinds:?}");
    if !kernel_part.is_empty() {
        eprintln!(
            "packet sent -> captured by the kernel (pcap timestamp, ms resolution), {} samples: p50 {:?}, p99 {:?}",
            kernel_part.len(),
            percentile(&kernel_part, 50),
            percentile(&kernel_part, 99),
        );
    }
    if !scanner_to_decision.is_empty() {
        eprintln!(
            "scanner packet sent -> ban decision at the enforcer, {} samples: p50 {:?}, p99 {:?}, max {:?}",
            scanner_to_decision.len(),
            percentile(&scanner_to_decision, 50),
            percentile(&scanner_to_decision, 99),
            percentile(&scanner_to_decision, 100)
        );
    }
    eprintln!(
        "threshold answer sent -> ban decision at the enforcer (capture + engine), {} samples: \
         p50 {:?}, p99 {:?}, max {:?}",
        to_decision.len(),
        percentile(&to_decision, 50),
        percentile(&to_decision, 99),
        percentile(&to_decision, 100)
    );
    eprintln!(
        "threshold answer sent -> element in the kernel ban set, {} samples: \
         p50 {:?}, p99 {:?}, max {:?}",
        took.len(),
        percentile(&took, 50),
        percentile(&took, 99),
        percentile(&took, 100)
    );
}

fn asterisk_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn main() {
    if !is_root() {
        eprintln!("SKIPPED capture benchmark: needs root (packet capture, namespaces, nftables)");
        return;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("SKIPPED capture benchmark: no tokio runtime: {e}");
            return;
        }
    };
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, briefly.
    if std::env::args().any(|a| a == "--bench") {
        loss(&rt);
        latency(&rt);
    } else {
        eprintln!("capture benchmark: run with `cargo bench -p backend --bench capture`");
    }
}
