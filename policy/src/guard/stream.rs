//! Framing SIP over a byte stream (TCP, TLS after decryption, a reassembled capture).
//!
//! On streams a message ends where its `Content-Length` says (RFC 3261 §18.3), so the framer
//! finds the blank line after the headers, reads `Content-Length` (`l:`) from them and cuts.
//! Line breaks between messages are keep-alives (RFC 5626 §3.5.1 CRLF ping/pong).
//!
//! The framer owns one buffer per connection (not one per message) and bounds it: a peer that
//! never finishes a header block, or announces a body larger than the limit, gets an error and
//! the buffer is dropped, so a slow-loris connection cannot grow memory. Searching for the end
//! of the headers resumes where the previous search stopped, so data arriving a byte at a time
//! costs linear, not quadratic, work.

use super::sip::{parse_decimal, trim};

/// One item cut from the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete message (headers, blank line and `Content-Length` bytes of body).
    Message(&'a [u8]),
    /// A run of line breaks between messages (a keep-alive ping or pong).
    KeepAlive,
}

/// Why the stream cannot be framed any further. The framer has dropped its buffer; the
/// caller should treat the connection as desynchronised (count it as malformed, and expect
/// garbage until the peer reconnects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header block, or headers plus announced body, exceed the message limit.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// `Content-Length` is present but not a number.
    #[error("Content-Length is not a number")]
    BadContentLength,
}

/// Splits a byte stream into SIP messages. One per connection.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Start of the unconsumed data in `buf`.
    start: usize,
    /// How far (absolute index in `buf`) the search for the blank line has looked.
    scanned: usize,
    /// Total length of the message at `start`, once its headers are complete.
    need: Option<usize>,
    max_message: usize,
}

/// A sane default limit: pjsip's `PJSIP_MAX_PKT_LEN` is 4000 by default and Asterisk builds
/// raise it to 32 KiB; 64 KiB leaves room without letting one connection hoard memory.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

impl Default for StreamFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl StreamFramer {
    /// A framer that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            need: None,
            max_message: max_message.max(1),
        }
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends bytes received on the connection. Fails (and drops the buffer) when more than
    /// two messages' worth would be waiting, i.e. the caller is not draining frames.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FrameError> {
        // Reclaim consumed space before growing; amortised linear because it only happens
        // once the consumed prefix is at least half the buffer.
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.buffered().saturating_add(data.len()) > self.max_message.saturating_mul(2) {
            self.reset();
            return Err(FrameError::TooLarge {
                limit: self.max_message,
            });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Drops everything buffered (e.g. after an error, or when the connection closes).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        self.need = None;
    }

    /// Returns the next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FrameError>> {
        if self.need.is_none() {
            let pending = &self.buf[self.start..];
            let breaks = pending
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if breaks > 0 {
                self.start += breaks;
                self.scanned = self.scanned.max(self.start);
                return Some(Ok(Frame::KeepAlive));
            }
            match self.find_header_end() {
                Some(body_start) => {
                    let headers = &self.buf[self.start..body_start];
                    let body_len = match content_length(headers) {
                        Ok(len) => len.unwrap_or(0),
                        Err(e) => {
                            self.reset();
                            return Some(Err(e));
                        }
                    };
                    let total = (body_start - self.start).saturating_add(body_len);
                    if total > self.max_message {
                        self.reset();
                        return Some(Err(FrameError::TooLarge {
                            limit: self.max_message,
                        }));
                    }
                    self.need = Some(total);
                }
                None => {
                    if self.buffered() > self.max_message {
                        self.reset();
                        return Some(Err(FrameError::TooLarge {
                            limit: self.max_message,
                        }));
                    }
                    return None;
                }
            }
        }
        let total = self.need?;
        if self.buffered() < total {
            return None;
        }
        let from = self.start;
        self.start += total;
        self.scanned = self.start;
        self.need = None;
        Some(Ok(Frame::Message(&self.buf[from..from + total])))
    }

    /// Looks for the blank line ending the headers (`\n\n` or `\n\r\n`), resuming the search
    /// two bytes before where the last one stopped (a terminator may straddle two pushes).
    /// Returns the index where the body starts.
    fn find_header_end(&mut self) -> Option<usize> {
        let from = self.scanned.saturating_sub(2).max(self.start);
        let hay = &self.buf[from..];
        let mut i = 0;
        while let Some(nl) = hay[i..].iter().position(|&b| b == b'\n') {
            let at = i + nl;
            match (hay.get(at + 1), hay.get(at + 2)) {
                (Some(b'\n'), _) => return Some(from + at + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(from + at + 3),
                _ => i = at + 1,
            }
        }
        self.scanned = self.buf.len();
        None
    }
}

/// Reads `Content-Length` (or compact `l`) from a header block: `Ok(None)` when absent.
pub fn content_length(headers: &[u8]) -> Result<Option<usize>, FrameError> {
    for line in headers.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        // Continuation lines start with a blank and are never Content-Length themselves.
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        let name = trim(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            return parse_decimal(&line[colon + 1..])
                .map(Some)
                .ok_or(FrameError::BadContentLength);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut StreamFramer) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut out = Vec::new();
        while let Some(f) = framer.next_frame() {
            match f {
                Ok(Frame::Message(m)) => out.push(Ok(m.to_vec())),
                Ok(Frame::KeepAlive) => out.push(Ok(b"<ka>".to_vec())),
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }

    #[test]
    fn two_messages_and_a_keepalive_in_one_read_are_cut_apart() {
        let mut f = StreamFramer::default();
        let a = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc";
        let b = b"OPTIONS sip:b SIP/2.0\nContent-Length : 0\n\n";
        let mut all = a.to_vec();
        all.extend_from_slice(b"\r\n\r\n");
        all.extend_from_slice(b);
        f.push(&all).unwrap();
        assert_eq!(
            frames(&mut f),
            vec![Ok(a.to_vec()), Ok(b"<ka>".to_vec()), Ok(b.to_vec())]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn a_message_arriving_byte_by_byte_is_framed_once_complete() {
        let mut f = StreamFramer::default();
        let msg = b"REGISTER sip:x SIP/2.0\r\nContent-Length: 2\r\n\r\nhi";
        for (i, byte) in msg.iter().enumerate() {
            f.push(&[*byte]).unwrap();
            let got = frames(&mut f);
            if i + 1 < msg.len() {
                assert!(got.is_empty(), "early frame at byte {i}");
            } else {
                assert_eq!(got, vec![Ok(msg.to_vec())]);
            }
        }
    }

    #[test]
    fn an_endless_header_block_is_refused_and_dropped() {
        let mut f = StreamFramer::new(100);
        f.push(&[b'a'; 150]).unwrap();
        assert_eq!(
            frames(&mut f),
            vec![Err(FrameError::TooLarge { limit: 100 })]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn a_huge_content_length_is_refused_before_the_body_arrives() {
        let mut f = StreamFramer::new(1000);
        f.push(b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n")
            .unwrap();
        assert_eq!(
            frames(&mut f),
            vec![Err(FrameError::TooLarge { limit: 1000 })]
        );
    }

    #[test]
    fn a_non_numeric_content_length_is_an_error() {
        let mut f = StreamFramer::default();
        f.push(b"INVITE sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n")
            .unwrap();
        assert_eq!(frames(&mut f), vec![Err(FrameError::BadContentLength)]);
    }

    #[test]
    fn a_caller_that_never_drains_is_stopped() {
        let mut f = StreamFramer::new(10);
        assert!(f.push(&[b'x'; 15]).is_ok());
        assert_eq!(f.push(&[b'x'; 15]), Err(FrameError::TooLarge { limit: 10 }));
    }
}
