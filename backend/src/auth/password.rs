//! Console passwords: argon2id hashes, and the rules a new password must meet.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use app::form::ConsoleError;

/// Minimum length of a console password.
pub const MIN_LEN: usize = 12;
/// Maximum length: argon2 would hash more, but a megabyte password is an attack on our CPU.
pub const MAX_LEN: usize = 1024;

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~30 ms here, strong enough
    // against offline guessing, cheap enough that sign-in throttling stays the bottleneck.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$...`).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
#[must_use]
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the username is unknown so that a
/// failed sign-in takes the same time whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("sipwarden-no-such-user-timing-equaliser").unwrap_or_default())
}

/// Checks a new password for `username`.
pub fn check_new(username: &str, password: &str, confirm: &str) -> Result<(), ConsoleError> {
    if password != confirm {
        return Err(ConsoleError::PasswordMismatch);
    }
    if password.chars().count() < MIN_LEN {
        return Err(ConsoleError::PasswordTooShort);
    }
    if password.len() > MAX_LEN {
        return Err(ConsoleError::PasswordTooLong);
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(ConsoleError::PasswordContainsUsername);
    }
    Ok(())
}

/// Checks a console username: 1–64 of `[A-Za-z0-9._-]`.
pub fn check_username(username: &str) -> Result<(), ConsoleError> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(ConsoleError::BadUsername)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert_eq!(
            check_new("ann", "short", "short"),
            Err(ConsoleError::PasswordTooShort)
        );
        assert_eq!(
            check_new("ann", "long enough pw 1", "long enough pw 2"),
            Err(ConsoleError::PasswordMismatch)
        );
        assert_eq!(
            check_new("annabelle", "xxAnnabelle-2026", "xxAnnabelle-2026"),
            Err(ConsoleError::PasswordContainsUsername)
        );
        assert_eq!(
            check_new("ann", "a fine passphrase", "a fine passphrase"),
            Ok(())
        );
    }

    #[test]
    fn usernames_are_a_safe_charset() {
        assert!(check_username("ops.admin-1").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username("<script>").is_err());
        assert!(check_username(&"a".repeat(65)).is_err());
    }
}
