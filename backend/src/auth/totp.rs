//! Time-based one-time passwords (RFC 6238 over HOTP, RFC 4226): HMAC-SHA1, six digits,
//! 30-second steps, as every authenticator app reads them from an `otpauth://` URI; and the
//! recovery codes that stand in for a lost phone.
//!
//! Small enough to write out and check against the RFCs' own test vectors (below); the
//! crates that do it bring URL and image dependencies the appliance does not need.

use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps before and after now that still count (a phone's clock a little off, a code typed
/// as it changed).
pub const SKEW_STEPS: i64 = 1;
/// Recovery codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;

/// RFC 4648 base32, the form authenticator apps take a key in.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `bytes` as base32 without padding.
#[must_use]
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let index = (bits >> (35 - i * 5)) & 0x1f;
            out.push(char::from(BASE32[usize::try_from(index).unwrap_or(0)]));
        }
    }
    out
}

/// Base32 back to bytes (case, spaces and padding ignored); `None` for any other character.
#[must_use]
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let c = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|b| char::from(*b) == c)?;
        bits = (bits << 5) | u32::try_from(value).ok()?;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// A new 160-bit key (RFC 4226 recommends the hash's length), base32.
#[must_use]
pub fn new_key() -> String {
    let mut key = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut key);
    base32(&key)
}

/// The HOTP value of `key` at `counter` (RFC 4226 §5.3).
#[must_use]
pub fn hotp(key: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

/// The time step of a Unix time.
#[must_use]
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The six-digit code of a base32 key at a Unix time, as an app shows it.
#[must_use]
pub fn code_at(key_base32: &str, unix_secs: i64) -> Option<String> {
    let key = from_base32(key_base32)?;
    let step = u64::try_from(step_at(unix_secs)).ok()?;
    Some(format!("{:06}", hotp(&key, step)))
}

/// The step whose code `given` is, within [`SKEW_STEPS`] of `now` and after `after` (the
/// last step used: a code, once used, never works again); `None` when it is no such code.
#[must_use]
pub fn verify(key_base32: &str, given: &str, now_unix: i64, after: Option<i64>) -> Option<i64> {
    let given = given.trim().replace(' ', "");
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = from_base32(key_base32)?;
    let now = step_at(now_unix);
    // Every candidate is computed and compared, matched or not, so the time taken does not
    // say which step (if any) matched.
    let mut found = None;
    for step in now - SKEW_STEPS..=now + SKEW_STEPS {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let code = format!("{:06}", hotp(&key, counter));
        let same = code
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if same && after.is_none_or(|last| step > last) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI an authenticator app scans (Key Uri Format): issuer and account
/// percent-encoded.
#[must_use]
pub fn uri(key_base32: &str, issuer: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={key_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// Ten recovery codes, `xxxxx-xxxxx` of lower-case base32 (50 bits each), as shown once.
#[must_use]
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = base32(&bytes).to_ascii_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// What is stored of a recovery code: the SHA-256 of its letters (dash, case and spaces
/// do not matter when it is typed back). Random codes of 50 bits need no slow hash.
#[must_use]
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// An SVG picture of the QR code of `text`, as a `data:` URI for an `<img>` (the console's
/// Content-Security-Policy allows `data:` images and nothing inline).
#[must_use]
pub fn qr_data_uri(text: &str) -> Option<String> {
    use base64::Engine as _;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the key is ASCII "12345678901234567890"; the RFC gives
    /// eight digits, of which an app shows the last six.
    #[test]
    fn the_rfc_6238_vectors_come_out() {
        let key = base32(b"12345678901234567890");
        assert_eq!(key, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(&key, time).unwrap(), &eight[2..], "at {time}");
        }
    }

    #[test]
    fn the_rfc_4226_hotp_vectors_come_out() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64), *value);
        }
    }

    #[test]
    fn base32_goes_both_ways_and_refuses_other_letters() {
        for (plain, coded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()), coded);
            assert_eq!(from_base32(coded).unwrap(), plain.as_bytes());
            assert_eq!(
                from_base32(&coded.to_lowercase()).unwrap(),
                plain.as_bytes()
            );
        }
        assert!(from_base32("MZ1").is_none());
        let key = new_key();
        assert_eq!(from_base32(&key).unwrap().len(), 20);
    }

    #[test]
    fn a_code_counts_near_now_and_only_once() {
        let key = new_key();
        let now = 1_700_000_000;
        let code = code_at(&key, now).unwrap();
        let step = verify(&key, &code, now, None).unwrap();
        assert_eq!(step, step_at(now));
        // Typed as it changed: the previous step still counts.
        assert_eq!(verify(&key, &code, now + STEP_SECS, None), Some(step));
        // Used once: not again.
        assert_eq!(verify(&key, &code, now, Some(step)), None);
        // Too old, malformed.
        assert_eq!(verify(&key, &code, now + 3 * STEP_SECS, None), None);
        for bad in ["", "12345", "1234567", "12a456", &format!("{code}0")] {
            assert_eq!(verify(&key, bad, now, None), None, "{bad}");
        }
        assert_eq!(
            verify(&key, &format!(" {} {} ", &code[..3], &code[3..]), now, None),
            Some(step)
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_back_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_hash(code),
            recovery_hash(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_hash(code), recovery_hash(&codes[1]));
    }

    #[test]
    fn the_uri_and_its_picture_are_made() {
        let uri = uri("GEZDGNBVGY3TQOJQ", "sipwarden pbx", "ops@x");
        assert_eq!(
            uri,
            "otpauth://totp/sipwarden%20pbx:ops%40x?secret=GEZDGNBVGY3TQOJQ&issuer=sipwarden%20pbx&algorithm=SHA1&digits=6&period=30"
        );
        let picture = qr_data_uri(&uri).unwrap();
        assert!(picture.starts_with("data:image/svg+xml;base64,"));
    }
}
