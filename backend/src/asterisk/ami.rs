//! A small Asterisk Manager Interface client: login, one action at a time, list actions
//! (`EventList: start` … `EventList: Complete`) and CLI commands.
//!
//! Why not a crate: the AMI crates on crates.io are unmaintained or pull in their own event
//! loops; sipwarden needs four actions, strict size limits (Asterisk is not trusted to send
//! small messages) and header values that can never inject a line.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Longest line accepted from Asterisk.
const MAX_LINE: usize = 64 * 1024;
/// Most lines in one message (a `Command` answer has one per output line).
const MAX_LINES: usize = 200_000;
/// Most events in one list answer.
const MAX_EVENTS: usize = 200_000;

/// What went wrong talking to AMI.
#[derive(Debug, thiserror::Error)]
pub enum AmiError {
    #[error(
        "cannot connect to AMI at {addr}: {why} (is Asterisk running, in sipwarden's network \
         namespace, with the manager.conf sipwarden writes into its configuration directory? \
         In the compose file both services use the host's network; elsewhere set \
         SIPWARDEN_ASTERISK_AMI_HOST and SIPWARDEN_ASTERISK_CONFIG_DIR)",
        why = crate::plain::io_error(source)
    )]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("AMI at {0} did not answer in time")]
    Timeout(SocketAddr),
    #[error("AMI connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("AMI sent something that is not the manager protocol: {0}")]
    Protocol(String),
    #[error(
        "AMI refused the login of '{user}': {message} (Asterisk has not loaded the manager.conf \
         sipwarden rendered: check that SIPWARDEN_ASTERISK_CONFIG_DIR is Asterisk's configuration \
         directory, then apply the configuration or run `manager reload` in Asterisk)"
    )]
    Login { user: String, message: String },
    #[error("AMI action {action} failed: {message}")]
    Action { action: String, message: String },
}

/// One AMI message: its `Key: Value` lines in order (keys may repeat, e.g. `Output`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message(pub Vec<(String, String)>);

impl Message {
    /// The first value of `key` (case-insensitive, as Asterisk treats keys).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn is_success(&self) -> bool {
        self.get("Response")
            .is_some_and(|r| r.eq_ignore_ascii_case("Success") || r.eq_ignore_ascii_case("Follows"))
    }
}

/// A logged-in AMI connection.
#[derive(Debug)]
pub struct AmiClient {
    addr: SocketAddr,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    timeout: Duration,
    next_id: u64,
}

impl AmiClient {
    /// Connects, reads the banner and logs in with events off.
    pub async fn login(
        addr: SocketAddr,
        user: &str,
        secret: &str,
        timeout: Duration,
    ) -> Result<Self, AmiError> {
        Self::login_with_events(addr, user, secret, timeout, false).await
    }

    /// Like [`AmiClient::login`]; with `events`, Asterisk sends every event the account's
    /// `read` classes allow (read them with [`AmiClient::next_event_raw`]).
    pub async fn login_with_events(
        addr: SocketAddr,
        user: &str,
        secret: &str,
        timeout: Duration,
        events: bool,
    ) -> Result<Self, AmiError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| AmiError::Timeout(addr))?
            .map_err(|source| AmiError::Connect { addr, source })?;
        let (read, writer) = stream.into_split();
        let mut client = Self {
            addr,
            reader: BufReader::new(read),
            writer,
            timeout,
            next_id: 0,
        };
        let banner = client.read_line().await?;
        if !banner.starts_with("Asterisk Call Manager/") {
            return Err(AmiError::Protocol("no manager banner".to_owned()));
        }
        let answer = client
            .send(
                "Login",
                &[
                    ("Username", user),
                    ("Secret", secret),
                    ("Events", if events { "on" } else { "off" }),
                ],
            )
            .await?;
        if !answer.is_success() {
            return Err(AmiError::Login {
                user: user.to_owned(),
                message: answer
                    .get("Message")
                    .unwrap_or("no reason given")
                    .to_owned(),
            });
        }
        Ok(client)
    }

    /// Runs an action that answers with one message; an `Error` answer is an error.
    pub async fn action(
        &mut self,
        action: &str,
        headers: &[(&str, &str)],
    ) -> Result<Message, AmiError> {
        let answer = self.send(action, headers).await?;
        if answer.is_success() {
            Ok(answer)
        } else {
            Err(AmiError::Action {
                action: action.to_owned(),
                message: answer
                    .get("Message")
                    .unwrap_or("no reason given")
                    .to_owned(),
            })
        }
    }

    /// Runs a list action and collects its events until `EventList: Complete`. An `Error`
    /// answer whose message says the list is empty (`No endpoints found`) gives no events.
    pub async fn list(
        &mut self,
        action: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<Message>, AmiError> {
        let answer = self.send(action, headers).await?;
        if !answer.is_success() {
            let message = answer.get("Message").unwrap_or("no reason given");
            if message.to_ascii_lowercase().starts_with("no ") {
                return Ok(Vec::new());
            }
            return Err(AmiError::Action {
                action: action.to_owned(),
                message: message.to_owned(),
            });
        }
        let id = answer.get("ActionID").unwrap_or_default().to_owned();
        let mut events = Vec::new();
        loop {
            let event = self.read_message().await?;
            if event.get("ActionID").unwrap_or_default() != id {
                continue;
            }
            if event
                .get("EventList")
                .is_some_and(|v| v.eq_ignore_ascii_case("Complete"))
            {
                return Ok(events);
            }
            if events.len() == MAX_EVENTS {
                return Err(AmiError::Protocol(format!(
                    "{action} answered with more than {MAX_EVENTS} events"
                )));
            }
            events.push(event);
        }
    }

    /// Runs a CLI command (needs the `command` class) and returns its output lines.
    pub async fn command(&mut self, command: &str) -> Result<Vec<String>, AmiError> {
        let answer = self.action("Command", &[("Command", command)]).await?;
        Ok(answer
            .all("Output")
            .flat_map(|chunk| chunk.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect())
    }

    /// Reads the next event block as raw bytes (its lines and the blank line that ends it)
    /// into `buf`, waiting as long as it takes: a tap is idle while nobody attacks. Answers
    /// to actions are skipped.
    pub async fn next_event_raw(&mut self, buf: &mut Vec<u8>) -> Result<(), AmiError> {
        loop {
            buf.clear();
            let mut lines = 0usize;
            loop {
                let start = buf.len();
                let n = self.reader.read_until(b'\n', buf).await?;
                if n == 0 {
                    return Err(AmiError::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "Asterisk closed the connection",
                    )));
                }
                lines += 1;
                if buf.len() > MAX_LINE * 4 || lines > 1000 {
                    return Err(AmiError::Protocol("an event block over 256 KiB".to_owned()));
                }
                let line = &buf[start..];
                if line == b"\r\n" || line == b"\n" {
                    break;
                }
            }
            if buf.len() > 2 && buf.starts_with(b"Event:") {
                return Ok(());
            }
        }
    }

    /// Says goodbye; errors are irrelevant by then.
    pub async fn logoff(mut self) {
        let _ = self.send("Logoff", &[]).await;
    }

    async fn send(&mut self, action: &str, headers: &[(&str, &str)]) -> Result<Message, AmiError> {
        self.next_id += 1;
        let id = format!("sipwarden-{}", self.next_id);
        let mut out = format!("Action: {action}\r\nActionID: {id}\r\n");
        for (key, value) in headers {
            // A line break in a value would start a new header or a new action.
            if key.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
                return Err(AmiError::Protocol(format!(
                    "refusing to send a header with a line break in {action}"
                )));
            }
            out.push_str(key);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        tokio::time::timeout(self.timeout, self.writer.write_all(out.as_bytes()))
            .await
            .map_err(|_| AmiError::Timeout(self.addr))??;
        // Skip unsolicited events and answers to other actions.
        loop {
            let message = self.read_message().await?;
            if message.get("Response").is_some() && message.get("ActionID") == Some(id.as_str()) {
                return Ok(message);
            }
        }
    }

    async fn read_message(&mut self) -> Result<Message, AmiError> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                if lines.is_empty() {
                    continue;
                }
                return Ok(Message(lines));
            }
            if lines.len() == MAX_LINES {
                return Err(AmiError::Protocol(
                    "a message with too many lines".to_owned(),
                ));
            }
            match line.split_once(':') {
                Some((k, v)) => lines.push((k.trim().to_owned(), v.trim_start().to_owned())),
                // Old `Response: Follows` command output has bare lines.
                None => lines.push(("Output".to_owned(), line)),
            }
        }
    }

    async fn read_line(&mut self) -> Result<String, AmiError> {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(self.timeout, async {
            loop {
                let chunk = self.reader.fill_buf().await?;
                if chunk.is_empty() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "Asterisk closed the connection",
                    ));
                }
                let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (chunk.len(), false),
                };
                buf.extend_from_slice(&chunk[..take]);
                self.reader.consume(take);
                if done {
                    return Ok(());
                }
                if buf.len() > MAX_LINE {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a line longer than 64 KiB",
                    ));
                }
            }
        })
        .await
        .map_err(|_| AmiError::Timeout(self.addr))?;
        read?;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}
