//! The HTTP server's own accept loop: hyper's HTTP/1.1 connections under the limits the
//! appliance promises (axum::serve has none of them): at most `max_connections` at once, a
//! deadline for the TLS handshake and for each request's headers (an idle keep-alive
//! connection waiting for its next request included), a deadline for a blocked write (a
//! client that stops reading), HTTPS when configured, and a graceful stop that lets requests
//! in flight finish.
//!
//! HTTP/1.1 only: HTTP/2 would need its own deadlines (hyper's protocol detection reads the
//! first bytes without one, and an HTTP/2 connection is kept open by pings alone), and a
//! console of a few users gains nothing from multiplexing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service as _;

/// How long requests in flight get to finish once a stop was asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// How long a write may stay blocked (the client stopped reading) before the connection is
/// dropped. Live streams write at least every 15 s (their keep-alive), so a reader that is
/// merely quiet is never cut off.
const WRITE_STALL: Duration = Duration::from_secs(60);

/// What the loop enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; the next waits in the kernel's accept queue.
    pub max_connections: usize,
    /// Time for the TLS handshake, and for each request's headers.
    pub header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` resolves, then drains (see [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let mut full_since: Option<tokio::time::Instant> = None;
    tokio::pin!(stop);
    loop {
        // A free slot first: while all are taken, connections wait in the kernel's queue
        // rather than each costing a task and memory here.
        let slot = if let Ok(slot) = slots.clone().try_acquire_owned() {
            full_since = None;
            slot
        } else {
            if full_since.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "all connection slots are taken: new clients wait (SIPWARDEN_MAX_CONNECTIONS)"
                );
                full_since = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                () = &mut stop => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            }
        };
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(WRITE_STALL));
        let stream = Box::pin(stream);
        let app = app.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().call(req)
            });
            match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(stream)) => stream,
                            // Scanners, plain HTTP to the HTTPS port, a client that does not
                            // trust the certificate: nothing to serve, nothing to log loudly.
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}: closing them");
    }
}

/// The server's address with its scheme, as the log announces it.
#[must_use]
pub fn base_url(local: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{local}")
}
