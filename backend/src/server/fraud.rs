//! The pre-call fraud decision as `sipwarden serve` runs it: the stored fraud policy, rate
//! table, locks and history put in force, the FastAGI listener on loopback, the worker that carries out what a
//! fired rule leaves to do, and the once-a-second check of long calls.
//!
//! A listener that cannot bind (the port is taken) does not stop the server: the console
//! and the guard still protect the PBX, the status (`/api/v1/fraud/status`, `/metrics`)
//! says the decision is not served, and the dialplan's fail modes hold meanwhile.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::core::Core;
use crate::fraud::{Listening, agi_server};
use crate::services::fraud;

/// Starts everything; returns once the listener is bound (or has failed to).
pub async fn start(core: &Core) {
    fraud::restore(core).await;
    let address = core.config.fraud_agi_listen;
    match TcpListener::bind(address).await {
        Ok(listener) => {
            core.fraud.set_listening(Listening::On(address));
            tracing::info!(%address, "fraud decision listening (FastAGI)");
            tokio::spawn(agi_server::serve(
                listener,
                core.fraud.clone(),
                core.stopping.clone(),
            ));
        }
        Err(e) => {
            tracing::error!(%address, error = %e, "fraud decision cannot listen: calls through trunks follow the fail modes");
            core.fraud.set_listening(Listening::Failed(format!(
                "cannot listen on {address}: {e}"
            )));
        }
    }
    if let Some((mut locks, mut followups)) = core.fraud.take_receivers() {
        let worker = core.clone();
        tokio::spawn(async move {
            let mut handled: u64 = 0;
            loop {
                // Locks first: a queue of reports never delays a hang-up.
                let followup = tokio::select! {
                    biased;
                    Some(f) = locks.recv() => f,
                    Some(f) = followups.recv() => f,
                    else => return,
                };
                if let Err(e) = fraud::follow_up(&worker, followup).await {
                    tracing::error!(error = %e, "fraud: a fired rule's follow-up failed");
                }
                handled += 1;
                if handled.is_multiple_of(1000)
                    && let Err(e) = fraud::enforce_retention(&worker.db).await
                {
                    tracing::warn!(error = %e, "fraud: cannot apply the retention of findings and call records");
                }
            }
        });
    }
    let ticker = core.fraud.clone();
    let stopping = core.stopping.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = every.tick() => ticker.tick(),
            }
        }
    });
}
