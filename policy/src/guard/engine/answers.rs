//! Detectors that judge Asterisk's verdicts: its answers on the wire and its security
//! events. Failed challenges feed password guessing (per source, per port of a protected
//! address, per account across sources) and enumeration; correct logins make an address
//! known, or reveal a leaked secret.

use std::net::SocketAddr;

use super::super::Timestamp;
use super::super::observation::SecurityKind;
use super::super::window::BucketWindow;
use super::state::{RecentFailure, SourceState, transport_code, transport_of};
use super::text::{describe, quote};
use super::{
    Ctx, Engine, EventKind, Finding, KNOWN_REFRESH, KnownSource, Standing, Target, key_ip,
};

/// An account that is (now) under distributed attack.
struct UnderAttack {
    failures: u32,
    sources: u32,
    /// It came under attack with this failure: the sources before it are swept up too.
    began: bool,
}

impl Engine {
    pub(super) fn on_response(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState, status: u16) {
        // Provisional answers (100 Trying) come before the real one.
        if status < 200 {
            return;
        }
        if matches!(status, 401 | 407)
            && let Some(nonce) = ctx.obs.nonce
        {
            st.nonces.issue(self.nonce_hash(nonce), ctx.now_s);
        }
        let pending = self.take_pending(ctx);
        let (user, user_hash, proven) = match &pending {
            Some(p) => (p.user(), Some(p.user_hash), p.proven),
            None if ctx.obs.auth_present => (
                ctx.obs.auth_user,
                ctx.obs.auth_user.map(|u| self.hasher.hash_bytes(u)),
                ctx.obs.transport.proves_source(),
            ),
            // A 401 to a request without credentials is the normal first challenge.
            None => return,
        };
        let user_hash = user_hash.filter(|_| user.is_some());
        match status {
            401 | 407 if ctx.obs.stale_nonce => {}
            // 403 is chan_sip's answer to a wrong REGISTER password (asterisk-reference §2b).
            401 | 403 | 407 => self.on_failure(ctx, st, user, user_hash, proven, true),
            200..=299 => self.on_success(ctx, st, user, user_hash),
            _ => {}
        }
    }

    pub(super) fn on_security(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        st: &mut SourceState,
        kind: SecurityKind,
    ) {
        use SecurityKind::*;
        let obs = ctx.obs;
        let account = obs.account;
        let hash = account.map(|a| self.hasher.hash_bytes(a));
        match kind {
            ChallengeSent => {
                if let Some(nonce) = obs.nonce {
                    st.nonces.issue(self.nonce_hash(nonce), ctx.now_s);
                }
            }
            ChallengeResponseFailed | InvalidPassword => {
                let proven = obs.transport.proves_source()
                    || obs
                        .nonce
                        .is_some_and(|n| st.nonces.issued(self.nonce_hash(n), ctx.now_s));
                self.on_failure(ctx, st, account, hash, proven, false);
            }
            InvalidAccountID => {
                let proven = obs.transport.proves_source();
                if let Some(f) = account.and_then(|a| self.count_name(ctx, st, a, false, proven)) {
                    self.decide(ctx, st, f);
                }
            }
            SuccessfulAuth => self.on_success(ctx, st, account, hash),
            // PJSIP raises FailedACL for every request from a refused address (the first,
            // credential-less REGISTER too), then hands it to its artificial auth, whose
            // failure arrives as ChallengeResponseFailed; that one counts as the guess.
            // FailedACL itself is reported when it names a real account: its name (generated,
            // not guessable) is known somewhere it should not be.
            FailedACL => {
                if let Some(name) = account
                    && let Some(rules) = self.model.account(name)
                {
                    let f = Finding::new(
                        EventKind::AclViolation,
                        "acl-refused",
                        format!(
                            "Asterisk refused a request for {} from outside its permitted networks",
                            quote(rules.name.as_bytes())
                        ),
                    )
                    .account(Some(name))
                    .ban(false)
                    .proven(obs.transport.proves_source());
                    self.decide(ctx, st, f);
                }
            }
            RequestBadFormat | RequestNotAllowed | RequestNotSupported | AuthMethodNotAllowed
            | InvalidTransport | SessionLimit | UnexpectedAddress => self.on_malformed(ctx, st),
            MemoryLimit | LoadAverageLimit => {}
        }
    }

    pub(super) fn on_malformed(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState) {
        let policy = &self.policy.malformed;
        let n = st.malformed.add(ctx.now_s, policy.window_secs);
        if n >= policy.max_messages {
            let f = Finding::new(
                EventKind::Malformed,
                "malformed",
                format!("{n} malformed messages within {} s", policy.window_secs),
            )
            .ban(policy.ban)
            .proven(ctx.obs.transport.proves_source());
            self.decide(ctx, st, f);
        }
    }

    /// A failed challenge for `account` (None: unknown) from this source, seen on the wire
    /// (`wire`) or in a security event; `proven` when it answered a nonce Asterisk sent to
    /// this address (or came over TCP).
    fn on_failure(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        st: &mut SourceState,
        account: Option<&[u8]>,
        account_hash: Option<u64>,
        proven: bool,
        wire: bool,
    ) {
        if !st.echo.is_new(wire, ctx.now_s) {
            self.stats.echoed_failures += 1;
            return;
        }
        let g = self.policy.guessing.clone();
        let now_s = ctx.now_s;
        let obs = ctx.obs;
        let last = || describe(obs, account);
        if let Some(h) = account_hash {
            let pair = self.pairs.entry(self.pair_key(ctx.key, h));
            pair.last_seen = now_s;
            pair.failures.add(now_s, g.window_secs);
        }
        // A name that fails counts toward enumeration like an unknown one.
        let enumeration = account.and_then(|a| self.count_name(ctx, st, a, true, proven));
        let attack = match account_hash {
            Some(h) if proven => self.count_account_failure(ctx, h),
            _ => None,
        };
        let standing = self.standing(ctx.obs.source.ip(), ctx.key, now_s);
        let guessing = match standing {
            Standing::Known | Standing::Infrastructure if !proven => Some(
                Finding::new(
                    EventKind::Guessing,
                    "guessing-unproven",
                    format!(
                        "a failed challenge that answered no nonce Asterisk sent to this address; last {}",
                        last()
                    ),
                )
                .account(account)
                .ban(g.ban),
            ),
            Standing::Known | Standing::Infrastructure => {
                // The NAT-office rule: many phones share this address, so one phone (one
                // source port) is judged on its own, and the address as a whole only at a
                // higher threshold (never for the host's gateway or resolver).
                let port_key = self.port_key(ctx.key, ctx.obs.source.port());
                let p = self.ports.entry(port_key);
                p.last_seen = now_s;
                let on_port = p.failures.add(now_s, g.window_secs);
                let on_address = st.failures.add(now_s, g.window_secs);
                if standing == Standing::Known && on_address >= g.known_source_max_failures {
                    let mut f = Finding::new(
                        EventKind::Guessing,
                        "guessing-known-address",
                        format!(
                            "{on_address} failed challenges within {} s from an address that logged in recently; last {}",
                            g.window_secs,
                            last()
                        ),
                    )
                    .account(account)
                    .ban(g.ban)
                    .proven(true);
                    f.address_wide = true;
                    Some(f)
                } else {
                    (on_port >= g.max_failures).then(|| {
                        Finding::new(
                            EventKind::Guessing,
                            "guessing-port",
                            format!(
                                "{on_port} failed challenges within {} s from this port; last {}",
                                g.window_secs,
                                last()
                            ),
                        )
                        .account(account)
                        .ban(g.ban)
                        .proven(true)
                    })
                }
            }
            Standing::Trusted | Standing::Trunk | Standing::Ordinary => {
                let n = st.failures.add(now_s, g.window_secs);
                // Fires on exactly the N-th failure: the source is banned before its
                // (N+1)-th password reaches Asterisk.
                (n >= g.max_failures).then(|| {
                    Finding::new(
                        EventKind::Guessing,
                        "guessing",
                        format!(
                            "{n} failed challenges within {} s; last {}",
                            g.window_secs,
                            last()
                        ),
                    )
                    .account(account)
                    .ban(g.ban)
                    .proven(proven)
                })
            }
        };
        let distributed = attack.as_ref().map(|a| {
            Finding::new(
                EventKind::DistributedGuessing,
                "distributed-guessing",
                format!(
                    "account under attack: {} failed challenges from {} addresses within {} s; this one: {}",
                    a.failures,
                    a.sources,
                    self.policy.distributed.window_secs,
                    last()
                ),
            )
            .account(account)
            .ban(self.policy.distributed.ban)
            .proven(true)
        });
        if let Some(f) = guessing.or(distributed).or(enumeration) {
            self.decide(ctx, st, f);
        }
        if let (Some(a), Some(h)) = (attack, account_hash)
            && a.began
        {
            self.sweep_accomplices(ctx, h, account, a);
        }
    }

    /// Counts a proven failure against the account; says so when the account is (now) under
    /// attack.
    fn count_account_failure(
        &mut self,
        ctx: &Ctx<'_, '_>,
        account_hash: u64,
    ) -> Option<UnderAttack> {
        let d = &self.policy.distributed;
        let a = self.accounts.entry(u128::from(account_hash));
        a.last_seen = ctx.now_s;
        let failures = a.failures.add(ctx.now_s, d.window_secs);
        a.remember(RecentFailure {
            key: ctx.key,
            at: ctx.now_s,
            port: ctx.obs.source.port(),
            transport: transport_code(ctx.obs.transport),
        });
        let sources = a.sources(ctx.now_s, d.window_secs);
        if ctx.now_s < a.under_attack_until {
            return Some(UnderAttack {
                failures,
                sources,
                began: false,
            });
        }
        if failures >= d.max_failures && sources >= d.min_sources {
            a.under_attack_until = ctx.now_s.saturating_add(d.attack_secs);
            return Some(UnderAttack {
                failures,
                sources,
                began: true,
            });
        }
        None
    }

    /// The account just came under attack: every other source that failed on it within the
    /// window is judged now, not at its next guess (each of a botnet's addresses tries few
    /// passwords; waiting for the next round lets a whole round through).
    fn sweep_accomplices(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        account_hash: u64,
        account: Option<&[u8]>,
        attack: UnderAttack,
    ) {
        let window = self.policy.distributed.window_secs;
        let Some(recent) = self
            .accounts
            .get(u128::from(account_hash))
            .map(|a| a.recent)
        else {
            return;
        };
        for r in recent {
            if r.key == 0 || r.key == ctx.key || ctx.now_s.saturating_sub(r.at) >= window {
                continue;
            }
            let mut other = self.sources.get(r.key).copied().unwrap_or_default();
            if other.banned_until > ctx.now_s {
                continue;
            }
            let target = Target {
                key: r.key,
                source: SocketAddr::new(key_ip(r.key), r.port),
                transport: transport_of(r.transport),
            };
            let f = Finding::new(
                EventKind::DistributedGuessing,
                "distributed-guessing",
                format!(
                    "account under attack: {} failed challenges from {} addresses within {window} s; this address failed on it {} s before",
                    attack.failures,
                    attack.sources,
                    ctx.now_s.saturating_sub(r.at)
                ),
            )
            .account(account)
            .ban(self.policy.distributed.ban)
            .proven(true);
            self.conclude(ctx.out, ctx.now, &target, None, &mut other, f);
            if let Some(slot) = self.sources.get_mut(r.key) {
                *slot = other;
            }
        }
    }

    /// A correct login. It proves the address (Asterisk accepts only an answer to a nonce it
    /// sent there), so the address becomes known, unless the account may not log in from
    /// there (a leaked secret) or the login followed failures (maybe a guess that hit).
    fn on_success(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        st: &mut SourceState,
        account: Option<&[u8]>,
        account_hash: Option<u64>,
    ) {
        let (Some(name), Some(hash)) = (account, account_hash) else {
            return;
        };
        let ip = ctx.obs.source.ip();
        if let Some(rules) = self.model.account(name)
            && !rules.permits(ip)
        {
            let f = Finding::new(
                EventKind::AclViolation,
                "acl",
                format!(
                    "correct login as {} from outside its permitted networks",
                    quote(name)
                ),
            )
            .account(Some(name))
            .ban(self.policy.acl.ban)
            .proven(true);
            return self.decide(ctx, st, f);
        }
        let g = &self.policy.guessing;
        let (window, trust) = (g.window_secs, g.trust_secs);
        let pair = self.pairs.entry(self.pair_key(ctx.key, hash));
        // A login that renews one already held is a phone re-registering, not news.
        let renewal = pair.logged_in_until > ctx.now_s;
        let failures = if renewal {
            0
        } else {
            pair.failures.total(ctx.now_s, window)
        };
        pair.last_seen = ctx.now_s;
        pair.failures = BucketWindow::default();
        pair.logged_in_until = ctx.now_s.saturating_add(trust);
        if failures == 0 {
            // Trusted addresses (loopback among them: sipwarden's own AMI logins) need no
            // protection, and the firewall does not meter them.
            if !self.model.is_trusted(ip) {
                self.mark_known(ctx, name);
            }
            return;
        }
        let f = Finding::new(
            EventKind::LoginAfterFailures,
            "login-after-failures",
            format!(
                "correct login as {} after {failures} failed challenges for it from this address within {window} s",
                quote(name)
            ),
        )
        .account(Some(name))
        .ban(false)
        .proven(true);
        self.decide(ctx, st, f);
    }

    fn mark_known(&mut self, ctx: &mut Ctx<'_, '_>, account: &[u8]) {
        let trust = self.policy.guessing.trust_secs;
        let now_s = ctx.now_s;
        let k = self.known.entry(ctx.key);
        k.last_seen = now_s;
        k.until = now_s.saturating_add(trust);
        if k.announced == 0 || now_s.saturating_sub(k.announced) >= KNOWN_REFRESH {
            k.announced = now_s;
            ctx.out.known.push(KnownSource {
                source: ctx.obs.source.ip().to_canonical(),
                until: Timestamp::from_secs(u64::from(k.until)),
                account: Some(String::from_utf8_lossy(account).into_owned()),
            });
        }
    }
}
