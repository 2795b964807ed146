//! What the guard is doing: its mode, its taps, the engine's counters and the event store's.

use wire::events::{GuardModelView, GuardStatusView, LatencyView, LogTapView, TapView};

use crate::config::GuardMode;
use crate::core::Core;
use crate::guard::ami_tap::TapState;
use crate::services::{Internal, events, guard_policy};

/// The guard's status now.
pub async fn status(core: &Core) -> Result<GuardStatusView, Internal> {
    let mode = match core.config.guard_mode {
        GuardMode::Enforce => "enforce",
        GuardMode::LogOnly => "log_only",
        GuardMode::Off => "off",
    };
    let events_total = events::count(&core.db).await?;
    let events_stored = core.events.stored();
    let (_, policy_version) = guard_policy::load(&core.db).await?;
    let Some(running) = core.guard.get() else {
        return Ok(GuardStatusView {
            mode: mode.to_owned(),
            running: false,
            taps: Vec::new(),
            messages: 0,
            events: 0,
            bans: 0,
            port_bans: 0,
            unproven_bans: 0,
            protected: 0,
            tracked_sources: 0,
            known_addresses: 0,
            source_evictions: 0,
            engine_bytes: 0,
            events_stored,
            events_dropped: 0,
            events_total,
            capture_packets: 0,
            capture_messages: 0,
            capture_dropped: 0,
            log_tap: None,
            model: None,
            ban_to_kernel: None,
            ban_recorded: None,
            policy_version,
        });
    };
    let latency = |h: &crate::guard::latency::Histogram| {
        let s = h.snapshot();
        let us = |d: Option<std::time::Duration>| {
            d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        };
        (s.count > 0).then(|| LatencyView {
            count: s.count,
            p50_us: us(s.p50),
            p99_us: us(s.p99),
            max_us: us(s.max),
        })
    };
    let summary = running.guard.model_summary();
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let stats = running.guard.stats();
    let capture = running
        .capture
        .as_ref()
        .map(|c| c.counters.snapshot())
        .unwrap_or_default();
    let taps = running
        .taps
        .iter()
        .map(|(name, rx)| {
            let (state, detail) = match &*rx.borrow() {
                TapState::Starting => ("starting", None),
                TapState::Connected => ("connected", None),
                TapState::Disconnected(why) => ("down", Some(why.clone())),
            };
            TapView {
                name: (*name).to_owned(),
                state: state.to_owned(),
                detail,
            }
        })
        .collect();
    Ok(GuardStatusView {
        mode: mode.to_owned(),
        running: true,
        taps,
        messages: stats.messages,
        events: stats.events,
        bans: stats.bans,
        port_bans: stats.port_bans,
        unproven_bans: stats.unproven_bans,
        protected: stats.protected,
        tracked_sources: stats.tracked_sources,
        known_addresses: stats.tracked_known,
        source_evictions: stats.source_evictions,
        engine_bytes: stats.state_bytes,
        events_stored,
        events_dropped: running.guard.store_dropped(),
        events_total,
        capture_packets: capture.packets,
        capture_messages: capture.messages,
        capture_dropped: capture.kernel_dropped + capture.interface_dropped,
        log_tap: running.log.as_ref().map(|c| {
            use std::sync::atomic::Ordering::Relaxed;
            LogTapView {
                observed: c.observed.load(Relaxed),
                deferred: c.deferred.load(Relaxed),
                unreadable: c.unreadable.load(Relaxed),
            }
        }),
        model: Some(GuardModelView {
            accounts: count(summary.accounts),
            trunks: count(summary.trunks),
            external_patterns: count(summary.external_patterns),
            trusted: count(summary.trusted),
            infrastructure: count(summary.infrastructure),
        }),
        ban_to_kernel: latency(&running.ban_latency.to_kernel),
        ban_recorded: latency(&running.ban_latency.to_record),
        policy_version,
    })
}
