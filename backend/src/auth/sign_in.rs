//! The console's sign-in guards that live in memory: the failure throttle per address and per
//! username, and the one-time setup token.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::throttle::Throttle;
use crate::sync::lock;

/// Longest an attempt waits for its username's record: per account the throttle slows
/// guesses, it never refuses the right password (an attacker must not be able to lock the
/// real administrator out by failing on purpose).
pub const USERNAME_DELAY_MAX: Duration = Duration::from_secs(3);

/// Failure records per source address and per username, and the per-username gates.
///
/// An address that has failed is refused while its own wait or the username's lasts: that is
/// how a guesser comes back. An address that never failed is only slowed by the username's
/// wait (at most [`USERNAME_DELAY_MAX`]) and then checked: a guesser spread over fresh
/// addresses gets one guess per address, and the account's owner, from any address that
/// has not failed, signs in within seconds however long the account's record is.
///
/// Wrong second-factor codes count per account too, and there they refuse, from any
/// address: whoever gets that far has the password, so the refusal cannot be used to lock
/// the owner out by anyone who does not, and a code guesser spread over many addresses
/// would otherwise get one guess per address.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    pub by_address: Mutex<Throttle>,
    pub by_username: Mutex<Throttle>,
    pub by_second_factor: Mutex<Throttle>,
}

impl SignInThrottle {
    /// How long this address must still wait (refused until then).
    pub fn wait_address(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        lock(&self.by_address).wait(&address_key(ip), now)
    }

    /// Whether this address has failed before (and is held to the username's wait too).
    pub fn address_failed_before(&self, ip: IpAddr) -> bool {
        lock(&self.by_address).knows(&address_key(ip))
    }

    /// How long an attempt for `username` is held before it is checked (at most
    /// [`USERNAME_DELAY_MAX`]).
    pub fn username_delay(&self, username: &str, now: Instant) -> Option<Duration> {
        lock(&self.by_username)
            .wait(&username.to_lowercase(), now)
            .map(|wait| wait.min(USERNAME_DELAY_MAX))
    }

    /// The wait that refuses this attempt, if any: the address's own, and for an address
    /// that has failed before the username's too (see the type's docs).
    pub fn refusal(&self, ip: IpAddr, username: &str, now: Instant) -> Option<Duration> {
        let (address, failed_before) = {
            let mut by_address = lock(&self.by_address);
            let key = address_key(ip);
            (by_address.wait(&key, now), by_address.knows(&key))
        };
        if !failed_before {
            return address;
        }
        let user = lock(&self.by_username).wait(&username.to_lowercase(), now);
        address.max(user)
    }

    /// Records a failed attempt against both keys.
    pub fn fail(&self, ip: IpAddr, username: &str, now: Instant) {
        self.fail_address(ip, now);
        lock(&self.by_username).fail(&username.to_lowercase(), now);
    }

    /// Records a failed attempt against the address alone (attempts that name no account,
    /// like the setup token's, where a shared key would let anyone lock everyone out).
    pub fn fail_address(&self, ip: IpAddr, now: Instant) {
        lock(&self.by_address).fail(&address_key(ip), now);
    }

    /// Clears the username's record after a success.
    pub fn succeed(&self, username: &str) {
        lock(&self.by_username).clear(&username.to_lowercase());
        lock(&self.by_second_factor).clear(&username.to_lowercase());
    }

    /// How long the account's second factor is refused after wrong codes, from anywhere.
    pub fn second_factor_wait(&self, username: &str, now: Instant) -> Option<Duration> {
        lock(&self.by_second_factor).wait(&username.to_lowercase(), now)
    }

    /// Records a wrong second-factor code for the account.
    pub fn fail_second_factor(&self, username: &str, now: Instant) {
        lock(&self.by_second_factor).fail(&username.to_lowercase(), now);
    }
}

/// Whom an address's failures count against: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber usually has a whole /64 and could otherwise step to a fresh address per guess).
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
    }
}

/// The one-time token that lets `/setup` create the first administrator. Present only while
/// no administrator exists; consumed by the first successful setup.
#[derive(Debug, Default)]
pub struct SetupToken(Mutex<Option<String>>);

impl SetupToken {
    /// A token that is armed with `token`.
    #[must_use]
    pub fn armed(token: String) -> Self {
        Self(Mutex::new(Some(token)))
    }

    /// Whether `candidate` is the armed token (constant time).
    pub fn matches(&self, candidate: &str) -> bool {
        lock(&self.0).as_deref().is_some_and(|t| {
            crate::auth::constant_time_eq(t.as_bytes(), candidate.trim().as_bytes())
        })
    }

    /// The armed token, to announce it in the log once.
    pub fn peek(&self) -> Option<String> {
        lock(&self.0).clone()
    }

    /// Disarms the token for good.
    pub fn disarm(&self) {
        *lock(&self.0) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_subscriber_is_one_address_for_the_throttle() {
        let key = |s: &str| address_key(s.parse().expect("an address"));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
    }

    #[test]
    fn setup_failures_lock_out_only_their_address() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        let (guesser, admin): (IpAddr, IpAddr) = (
            "198.51.100.9".parse().expect("ip"),
            "192.0.2.1".parse().expect("ip"),
        );
        for _ in 0..10 {
            throttle.fail_address(guesser, now);
        }
        assert!(throttle.wait_address(guesser, now).is_some());
        assert!(throttle.wait_address(admin, now).is_none());
    }
}
