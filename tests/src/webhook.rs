//! A webhook receiver on a local port: a bare HTTP/1.1 server (one request per connection)
//! that records what it receives and answers with the statuses a test scripts, and the
//! receiver-side check of a delivery's signature.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Hit {
    /// A header's value ("" when absent).
    #[must_use]
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The body as JSON (`Null` when it is not).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Whether the signature is HMAC-SHA256 under `secret` of `<timestamp>.<body>`, as a
    /// receiver would check it (the timestamp must also be recent).
    #[must_use]
    pub fn signed_by(&self, secret: &str) -> bool {
        let timestamp = self.header("x-sipwarden-timestamp");
        let Ok(seconds) = timestamp.parse::<u64>() else {
            return false;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now.abs_diff(seconds) > 300 {
            return false;
        }
        let Some(sent) = self
            .header("x-sipwarden-signature")
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h).ok())
        else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        mac.verify_slice(&sent).is_ok()
    }
}

/// The receiver; it runs until the test's runtime ends.
#[derive(Clone)]
pub struct Receiver {
    /// Where to point an alert.
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    /// Listens on 127.0.0.1, port 0; answers the first requests with `answers` in order,
    /// the rest with 200.
    ///
    /// # Panics
    /// When it cannot listen.
    pub async fn start(answers: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let addr = listener.local_addr().expect("address");
        let receiver = Receiver {
            url: format!("http://{addr}/hooks/sipwarden?team=ops"),
            hits: Arc::default(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move { r.handle(socket).await });
            }
        });
        receiver
    }

    async fn handle(&self, mut socket: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let headers: BTreeMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let status = self
            .answers
            .lock()
            .expect("answers")
            .pop_front()
            .unwrap_or(200);
        self.hits.lock().expect("hits").push(Hit {
            headers,
            body: buf[head_end..head_end + length].to_vec(),
            at: Instant::now(),
        });
        let answer =
            format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    /// Everything received so far.
    #[must_use]
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    /// Waits until a request matching `wanted` arrived (or `limit` passes).
    pub async fn wait_for(&self, limit: Duration, wanted: impl Fn(&Hit) -> bool) -> Option<Hit> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(hit) = self.hits().into_iter().find(|h| wanted(h)) {
                return Some(hit);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `count` requests arrived (or `limit` passes); returns them all.
    pub async fn wait_count(&self, count: usize, limit: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + limit;
        while self.hits().len() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.hits()
    }
}
