//! Logging, set up once per process.
//!
//! `SIPWARDEN_LOG` (or `RUST_LOG`) takes an `EnvFilter` directive; the default shows
//! sipwarden's own info lines and only warnings from libraries.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "warn,sipwarden=info,backend=info,tower_http=warn";

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = std::env::var("SIPWARDEN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    // Logs go to stdout: containers collect it, and the test harness reads the listening
    // address and the first-administrator token from it.
    let result = match format {
        // Colour only for a person at a terminal: escape codes in a container's log or a file
        // are noise to every reader and grep.
        LogFormat::Human => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stdout)
                    .with_target(false)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stdout)
                    .flatten_event(true),
            )
            .try_init(),
    };
    let _ = result;
}
