//! The console's sign-in guards that live in memory: the failure throttle per address and per
//! username, and the one-time setup token.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use super::throttle::Throttle;
use crate::sync::lock;

/// Failure records per source address and per username.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    pub by_address: Mutex<Throttle>,
    pub by_username: Mutex<Throttle>,
}

impl SignInThrottle {
    /// The longer of the two waits for this attempt, if any.
    pub fn wait(&self, ip: IpAddr, username: &str, now: Instant) -> Option<std::time::Duration> {
        let by_ip = self.wait_address(ip, now);
        let by_user = lock(&self.by_username).wait(&username.to_lowercase(), now);
        by_ip.max(by_user)
    }

    /// Records a failed attempt against both keys.
    pub fn fail(&self, ip: IpAddr, username: &str, now: Instant) {
        self.fail_address(ip, now);
        lock(&self.by_username).fail(&username.to_lowercase(), now);
    }

    /// The wait for this address alone: for attempts that name no account (the setup token),
    /// where a shared key would let anyone lock everyone out.
    pub fn wait_address(&self, ip: IpAddr, now: Instant) -> Option<std::time::Duration> {
        lock(&self.by_address).wait(&address_key(ip), now)
    }

    /// Records a failed attempt against the address alone.
    pub fn fail_address(&self, ip: IpAddr, now: Instant) {
        lock(&self.by_address).fail(&address_key(ip), now);
    }

    /// Clears the username's record after a success.
    pub fn succeed(&self, username: &str) {
        lock(&self.by_username).clear(&username.to_lowercase());
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
