//! The ban fast path's fastest part: element batches straight to the kernel over a netlink
//! socket (see `policy::firewall::netlink` for why nft is slow at this and what is encoded).
//!
//! Only for the namespace this process runs in: a socket belongs to the namespace it was
//! opened in, and a named target namespace is reached through `ip netns exec` and nft.
//! Batches that are not encodable, and a socket that cannot be opened, go through the nft
//! session as before, so nothing depends on this path being available.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use policy::firewall::NftBatch;
use policy::firewall::netlink::{NetlinkBatch, answers, encode_elements};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, bind, connect, recv, send,
    socket_with, sockopt,
};

use super::error::FirewallError;

/// How long an answer may take. The kernel answers a batch before `send` returns (netlink to
/// the kernel is handled in the sender's context), so this only bounds the surprising case.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// What the log and errors call this path.
const NAME: &str = "netlink nf_tables set elements";

/// A netlink socket to nf_tables.
pub(crate) struct Netlink {
    socket: OwnedFd,
    next_seq: u32,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink").finish_non_exhaustive()
    }
}

impl Netlink {
    /// Opens the socket in this thread's network namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let socket = socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::NETFILTER),
        )?;
        bind(&socket, &SocketAddrNetlink::new(0, 0))?;
        connect(&socket, &SocketAddrNetlink::new(0, 0))?;
        sockopt::set_socket_timeout(&socket, sockopt::Timeout::Recv, Some(ANSWER_TIMEOUT))?;
        // Sequence numbers only need to differ between the batches of this socket; a
        // time-based start keeps a restarted process from reusing the last one's.
        let next_seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() | 1);
        Ok(Self {
            socket,
            next_seq,
            buffer: vec![0; 64 * 1024],
        })
    }

    /// Applies `batch` as one kernel transaction if it is made only of element changes of
    /// the timed hash sets; `None` when it is not (nft's job).
    pub(crate) fn apply(&mut self, batch: &NftBatch) -> Option<Result<(), FirewallError>> {
        let encoded = encode_elements(batch, self.next_seq)?;
        // BATCH_BEGIN, the messages, BATCH_END.
        let used = u32::try_from(encoded.acked.len() + 2).unwrap_or(u32::MAX);
        self.next_seq = self.next_seq.wrapping_add(used);
        Some(self.exchange(&encoded))
    }

    fn exchange(&mut self, batch: &NetlinkBatch) -> Result<(), FirewallError> {
        let io = |source: io::Error| FirewallError::Io {
            command: NAME.to_owned(),
            source,
        };
        let sent =
            send(&self.socket, &batch.bytes, SendFlags::empty()).map_err(|e| io(e.into()))?;
        if sent != batch.bytes.len() {
            return Err(FirewallError::Output {
                command: NAME.to_owned(),
                reason: format!("sent {sent} of {} bytes", batch.bytes.len()),
            });
        }
        let mut pending: Vec<u32> = batch.acked.clone();
        let mut refused: Option<(u32, i32)> = None;
        while !pending.is_empty() {
            // After a refusal, only what is already queued: the kernel may not acknowledge
            // the other messages of an aborted transaction.
            let flags = if refused.is_some() {
                RecvFlags::DONTWAIT
            } else {
                RecvFlags::empty()
            };
            let n = match recv(&self.socket, &mut self.buffer[..], flags) {
                Ok((_, n)) => n,
                Err(e) if refused.is_some() && e == rustix::io::Errno::AGAIN => break,
                Err(e) => return Err(io(e.into())),
            };
            let read = n.min(self.buffer.len());
            for answer in answers(&self.buffer[..read]) {
                pending.retain(|&s| s != answer.seq);
                if answer.error != 0 && refused.is_none() {
                    refused = Some((answer.seq, answer.error));
                }
            }
        }
        match refused {
            None => Ok(()),
            Some((seq, error)) => {
                let which = batch
                    .acked
                    .iter()
                    .position(|&s| s == seq)
                    .map_or_else(String::new, |i| {
                        format!(" (message {} of the batch)", i + 1)
                    });
                Err(FirewallError::Failed {
                    command: NAME.to_owned(),
                    status: "refused by the kernel".to_owned(),
                    stderr: format!("{}{which}", io::Error::from_raw_os_error(-error)),
                })
            }
        }
    }
}
