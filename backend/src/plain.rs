//! Operating-system errors in words an administrator can act on. `Connection refused (os
//! error 111)` is what the standard library prints; the console and the alerts page say what
//! it means for them instead, and the kind stays in parentheses for a search engine.

use std::io::{Error, ErrorKind};

/// `e` for people: what it means, then the system's own short words.
#[must_use]
pub fn io_error(e: &Error) -> String {
    let meaning = match e.kind() {
        ErrorKind::ConnectionRefused => "nothing is listening there",
        ErrorKind::TimedOut => "no answer in time",
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            "the other side closed the connection"
        }
        ErrorKind::PermissionDenied => "sipwarden is not allowed to do this",
        ErrorKind::NotFound => "it does not exist",
        ErrorKind::AddrNotAvailable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::HostUnreachable => "that address cannot be reached from here",
        ErrorKind::AddrInUse => "another program already uses that address and port",
        _ => return kind_words(e),
    };
    format!("{meaning} ({})", kind_words(e))
}

/// The error's own words without the ` (os error N)` suffix, lower-case like the rest of
/// a sentence ("connection refused", "too many open files").
fn kind_words(e: &Error) -> String {
    let text = e.to_string();
    let words = match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => &text[..at],
        _ => text.as_str(),
    };
    let mut chars = words.chars();
    match chars.next() {
        Some(first) if e.raw_os_error().is_some() => first.to_lowercase().chain(chars).collect(),
        _ => words.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_without_their_numbers() {
        let refused = Error::from_raw_os_error(111);
        assert_eq!(
            io_error(&refused),
            "nothing is listening there (connection refused)"
        );
        let denied = Error::from_raw_os_error(13);
        assert_eq!(
            io_error(&denied),
            "sipwarden is not allowed to do this (permission denied)"
        );
        assert!(!io_error(&Error::from_raw_os_error(5)).contains("os error"));
        assert_eq!(
            io_error(&Error::from_raw_os_error(24)),
            "too many open files"
        );
        assert_eq!(
            io_error(&Error::other("a message of our own")),
            "a message of our own"
        );
    }
}
