//! Live capture of the SIP ports with libpcap, both directions, fed to the [`Guard`].
//!
//! The kernel runs a BPF filter so only SIP ports reach user space; the capture loop runs on
//! its own thread (libpcap blocks) and hands each frame to a [`SipReader`] (the pure part:
//! decoding, TCP framing, who is Asterisk; in `policy::guard::reader`), whose observations
//! the guard judges at once. The ring the kernel fills starts small and grows when it drops
//! packets.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use policy::guard::Timestamp;
pub use policy::guard::reader::{CaptureCounters, CaptureStats, SipPorts, SipReader};
use tokio::sync::watch;

use super::Guard;
use super::ami_tap::TapState;
use super::packet::Link;

/// Where and what the live tap captures.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// Interface name; `any` for all of them (Linux cooked capture).
    pub interface: String,
    /// The SIP ports.
    pub ports: SipPorts,
}

/// Why the live capture cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot capture on {interface}: {source}")]
    Open {
        interface: String,
        source: pcap::Error,
    },
    #[error("cannot start the capture thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot read link type {dlt} ({name}) of {interface}")]
    Link {
        interface: String,
        dlt: i32,
        name: String,
    },
}

/// The running capture tap.
#[derive(Clone)]
pub struct CaptureTap {
    /// Capturing, or why not.
    pub state: watch::Receiver<TapState>,
    /// What it has seen.
    pub counters: Arc<CaptureCounters>,
    stop: Arc<AtomicBool>,
    breaker: Arc<std::sync::Mutex<Option<pcap::BreakLoop>>>,
}

impl std::fmt::Debug for CaptureTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureTap")
            .field("state", &*self.state.borrow())
            .field("counters", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl CaptureTap {
    /// Ends the capture thread.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
        // libpcap wakes a blocked read for this (on Linux a read may wait for packets
        // beyond its timeout, so the flag alone could wait for the next packet).
        if let Some(b) = crate::sync::lock(&self.breaker).as_ref() {
            b.breakloop();
        }
    }
}

/// Kernel ring for captured packets at start. The ring is resident memory from the moment the
/// capture opens (the kernel maps it whole, and libpcap asks for twice the size given), so
/// it starts small: 4 MiB hold some 1,000 packets, far more than a PBX's normal traffic
/// needs between two reads.
const BUFFER_START: i32 = 4 << 20;
/// The largest ring: with [`SNAP_LENGTH`] some 15,000 packets, 150 ms of a 100,000 packets/s
/// flood while a busy host does not schedule the capture thread. The ring doubles up to this
/// whenever the kernel dropped packets since the last look (a second), so memory grows with
/// the work, not before it.
const BUFFER_MAX: i32 = 64 << 20;
/// The longest frame captured whole. Immediate mode gives every packet a ring slot of this
/// size, so it is not 64 KiB (that left 32 MiB holding ~500 packets, and a 50,000
/// packets/s burst lost 2 %, measured). On a 1500-byte MTU every whole UDP datagram fits
/// (longer SIP arrives fragmented, which the guard skips anyway), and so does a SIP message
/// in a TCP segment; longer frames (offloaded or coalesced TCP) are counted as truncated
/// and their flow reads on from its next message.
const SNAP_LENGTH: i32 = 4096;
/// How long one read waits (libpcap on Linux may wait longer; `stop` wakes it).
const READ_TIMEOUT_MS: i32 = 100;

fn open(
    config: &CaptureConfig,
    buffer_bytes: i32,
) -> Result<(pcap::Capture<pcap::Active>, Link), CaptureError> {
    let err = |source| CaptureError::Open {
        interface: config.interface.clone(),
        source,
    };
    // Immediate mode: each packet is handed over as it arrives. Without it (TPACKET_V3
    // blocks) a packet waits for its block to fill or time out, and the kernel's block
    // timer ticks in jiffies: the threshold answer reached the engine after 11 ms (p50),
    // 31 ms (p99), measured; the ban must not wait for that.
    let mut cap = pcap::Capture::from_device(config.interface.as_str())
        .map_err(err)?
        .immediate_mode(true)
        .snaplen(SNAP_LENGTH)
        .buffer_size(buffer_bytes)
        .timeout(READ_TIMEOUT_MS)
        .open()
        .map_err(err)?;
    cap.filter(&config.ports.bpf_filter(), true).map_err(err)?;
    let dlt = cap.get_datalink();
    let link = Link::from_dlt(dlt.0).ok_or_else(|| CaptureError::Link {
        interface: config.interface.clone(),
        dlt: dlt.0,
        name: dlt.get_name().unwrap_or_default(),
    })?;
    Ok((cap, link))
}

fn local_addresses() -> Vec<IpAddr> {
    match pcap::Device::list() {
        Ok(devices) => devices
            .iter()
            .flat_map(|d| d.addresses.iter().map(|a| a.addr))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list this host's addresses; telling Asterisk's side by port");
            Vec::new()
        }
    }
}

/// A captured packet's time to the microsecond, from which ban latencies are measured.
#[must_use]
pub fn capture_instant(header: &pcap::PacketHeader) -> std::time::SystemTime {
    let secs = u64::try_from(header.ts.tv_sec).unwrap_or(0);
    let micros = u64::try_from(header.ts.tv_usec).unwrap_or(0);
    std::time::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// The engine's time for a captured packet.
#[must_use]
pub fn packet_time(header: &pcap::PacketHeader) -> Timestamp {
    let secs = u64::try_from(header.ts.tv_sec).unwrap_or(0);
    let micros = u64::try_from(header.ts.tv_usec).unwrap_or(0);
    Timestamp(secs.saturating_mul(1000).saturating_add(micros / 1000))
}

/// Opens the capture (so a missing permission or device is reported here, at once) and runs
/// it on its own thread, judging with `guard`; bans are carried out on `runtime`.
pub fn start(
    config: CaptureConfig,
    guard: Arc<Guard>,
    runtime: tokio::runtime::Handle,
) -> Result<CaptureTap, CaptureError> {
    let (mut cap, link) = open(&config, BUFFER_START)?;
    let (tx, rx) = watch::channel(TapState::Connected);
    let counters = Arc::new(CaptureCounters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let breaker = Arc::new(std::sync::Mutex::new(Some(cap.breakloop_handle())));
    let tap = CaptureTap {
        state: rx,
        counters: counters.clone(),
        stop: stop.clone(),
        breaker: breaker.clone(),
    };
    tracing::info!(interface = %config.interface, filter = %config.ports.bpf_filter(), ?link, "SIP capture tap started");
    let spawned = std::thread::Builder::new()
        .name("sip-capture".to_owned())
        .spawn(move || {
            // Every decision on the wire is made on this thread.
            crate::priority::raise_this_thread("the SIP capture thread");
            run(
                config, cap, link, &guard, &runtime, &counters, &stop, &breaker, &tx,
            );
        });
    if let Err(e) = spawned {
        tap.stop();
        return Err(CaptureError::Thread(e));
    }
    Ok(tap)
}

#[allow(
    clippy::too_many_arguments,
    reason = "the thread's whole world, passed once"
)]
fn run(
    config: CaptureConfig,
    mut cap: pcap::Capture<pcap::Active>,
    mut link: Link,
    guard: &Guard,
    runtime: &tokio::runtime::Handle,
    counters: &Arc<CaptureCounters>,
    stop: &AtomicBool,
    breaker: &std::sync::Mutex<Option<pcap::BreakLoop>>,
    state: &watch::Sender<TapState>,
) {
    let mut reader = SipReader::new(config.ports.clone(), counters.clone());
    reader.set_local_addresses(local_addresses());
    let mut last_stats = Instant::now();
    let mut last_addresses = Instant::now();
    let mut pause = Duration::from_secs(1);
    // Counters of earlier captures (libpcap's restart from 0 when it is reopened).
    let mut base = (0u64, 0u64, 0u64);
    let mut buffer = BUFFER_START;
    while !stop.load(Relaxed) {
        match cap.next_packet() {
            Ok(p) if p.header.caplen < p.header.len => reader.truncated_frame(link, p.data),
            Ok(p) => {
                let captured = capture_instant(p.header);
                reader.frame(link, packet_time(p.header), p.data, &mut |obs| {
                    guard.observe_detached(obs, obs.time, captured, runtime);
                });
            }
            Err(pcap::Error::TimeoutExpired) => {}
            // `breakloop` from `CaptureTap::stop`.
            Err(pcap::Error::NoMorePackets) if stop.load(Relaxed) => break,
            Err(e) => {
                tracing::warn!(interface = %config.interface, error = %e, "SIP capture lost, the guard sees only AMI meanwhile; reopening");
                let _ = state.send(TapState::Disconnected(e.to_string()));
                if let Ok(s) = cap.stats() {
                    base.0 += u64::from(s.received);
                    base.1 += u64::from(s.dropped);
                    base.2 += u64::from(s.if_dropped);
                }
                loop {
                    std::thread::sleep(pause);
                    if stop.load(Relaxed) {
                        return;
                    }
                    match open(&config, buffer) {
                        Ok((mut c, l)) => {
                            *crate::sync::lock(breaker) = Some(c.breakloop_handle());
                            (cap, link) = (c, l);
                            pause = Duration::from_secs(1);
                            let _ = state.send(TapState::Connected);
                            tracing::info!(interface = %config.interface, "SIP capture tap reopened");
                            break;
                        }
                        Err(e) => {
                            let _ = state.send(TapState::Disconnected(e.to_string()));
                            pause = (pause * 2).min(Duration::from_secs(30));
                        }
                    }
                }
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            if let Ok(s) = cap.stats() {
                counters.set_kernel_stats(
                    base.0 + u64::from(s.received),
                    base.1 + u64::from(s.dropped),
                    base.2 + u64::from(s.if_dropped),
                );
                // A ring too small for the traffic: a bigger one replaces it (the packets
                // still in the old ring are lost; they were being dropped anyway).
                if s.dropped > 0 && buffer < BUFFER_MAX {
                    let bigger = buffer.saturating_mul(2).min(BUFFER_MAX);
                    match open(&config, bigger) {
                        Ok((mut c, l)) => {
                            base.0 += u64::from(s.received);
                            base.1 += u64::from(s.dropped);
                            base.2 += u64::from(s.if_dropped);
                            *crate::sync::lock(breaker) = Some(c.breakloop_handle());
                            (cap, link) = (c, l);
                            tracing::info!(interface = %config.interface, dropped = s.dropped, mib = bigger >> 20, "SIP capture ring grown after the kernel dropped packets");
                            buffer = bigger;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot grow the SIP capture ring");
                            buffer = BUFFER_MAX;
                        }
                    }
                }
            }
        }
        // Addresses change (DHCP, a new interface); which side is Asterisk depends on them.
        if last_addresses.elapsed() >= Duration::from_secs(30) {
            last_addresses = Instant::now();
            reader.set_local_addresses(local_addresses());
        }
    }
    if let Ok(s) = cap.stats() {
        counters.set_kernel_stats(
            base.0 + u64::from(s.received),
            base.1 + u64::from(s.dropped),
            base.2 + u64::from(s.if_dropped),
        );
    }
    let _ = state.send(TapState::Disconnected("stopped".to_owned()));
}
