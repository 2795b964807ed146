//! Detectors that judge what a source sends: scanner fingerprints, floods, credentials from
//! outside an account's networks, enumeration, probe sweeps and toll-fraud probes.

use super::super::policy::RequestRate;
use super::super::sip::Method;
use super::state::{PENDING_USER, Pending, SourceState};
use super::text::{contains_ignore_case, quote};
use super::{Ctx, Engine, EventKind, Finding, PENDING_TTL};

impl Engine {
    pub(super) fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) {
        let obs = ctx.obs;
        if let Some(f) = self.check_user_agent(ctx, st) {
            return self.decide(ctx, st, f);
        }
        if let Some(f) = self.check_flood(ctx, st, method) {
            return self.decide(ctx, st, f);
        }
        let mut proven = obs.transport.proves_source();
        if obs.auth_present {
            st.last_credentials = ctx.now_s;
            proven |= obs
                .nonce
                .is_some_and(|n| st.nonces.issued(self.nonce_hash(n), ctx.now_s));
            self.remember_pending(ctx, proven);
            if let Some(f) = self.check_acl(ctx, proven) {
                self.decide(ctx, st, f);
                if st.banned_until > ctx.now_s {
                    return;
                }
            }
        }
        // A trunk's requests carry its callers' identities (caller IDs in From), and it
        // pings without credentials: neither is enumeration or a sweep.
        let from_trunk = self.model.trunk_at(obs.source.ip()).is_some();
        if !from_trunk {
            if let Some(f) = self.check_names(ctx, st, method) {
                return self.decide(ctx, st, f);
            }
            if let Some(f) = self.check_sweep(ctx, st, method) {
                return self.decide(ctx, st, f);
            }
        }
        if method == Method::Invite
            && let Some(f) = self.check_toll_fraud(ctx, proven)
        {
            self.decide(ctx, st, f);
        }
    }

    fn check_user_agent<'o>(&self, ctx: &Ctx<'o, '_>, st: &mut SourceState) -> Option<Finding<'o>> {
        let obs = ctx.obs;
        let ua = obs.user_agent?;
        // Most sources send the same User-Agent every time: check each new one only once.
        let h = (self.hasher.hash_bytes(ua) as u32) | 1;
        if h == st.ua_hash {
            return None;
        }
        st.ua_hash = h;
        // Tools put their name first; a bound keeps a 64 KiB User-Agent from costing more.
        let head = &ua[..ua.len().min(256)];
        let tool = self
            .fingerprints
            .iter()
            .find(|f| contains_ignore_case(head, f))?;
        Some(
            Finding::new(
                EventKind::Scanner,
                "scanner-user-agent",
                format!(
                    "User-Agent {} matches the fingerprint {}",
                    quote(ua),
                    quote(tool)
                ),
            )
            .account(obs.from_user)
            .ban(self.policy.scanner.ban)
            .proven(obs.transport.proves_source()),
        )
    }

    fn check_flood(
        &self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) -> Option<Finding<'static>> {
        let flood = &self.policy.flood;
        let (slot, rate): (usize, RequestRate) = match method {
            Method::Register => (0, flood.register),
            Method::Invite => (1, flood.invite),
            Method::Options => (2, flood.options),
            _ => (3, flood.other),
        };
        let interval = 1000 / rate.per_second.max(1);
        if st.flood[slot].admit(ctx.now.0, interval, rate.burst) {
            return None;
        }
        Some(
            Finding::new(
                EventKind::Flood,
                "flood",
                format!(
                    "{} requests above {}/s with burst {}",
                    quote(method.as_bytes()),
                    rate.per_second,
                    rate.burst
                ),
            )
            .ban(flood.ban)
            .proven(ctx.obs.transport.proves_source()),
        )
    }

    /// Credentials of a real account sent from outside the networks it may log in from: the
    /// secret (or at least the account's generated name) is known somewhere it should not be.
    fn check_acl<'o>(&self, ctx: &Ctx<'o, '_>, proven: bool) -> Option<Finding<'o>> {
        let obs = ctx.obs;
        let user = obs.auth_user?;
        let account = self.model.account(user)?;
        if account.permits(obs.source.ip()) {
            return None;
        }
        Some(
            Finding::new(
                EventKind::AclViolation,
                "acl-credentials",
                format!(
                    "credentials of {} sent from outside its permitted networks",
                    quote(account.name.as_bytes())
                ),
            )
            .account(Some(user))
            .ban(self.policy.acl.ban)
            .proven(proven),
        )
    }

    /// Enumeration: distinct usernames named by one source. Which fields name an identity
    /// depends on the method: svwar probes with REGISTER (To = From = the name), OPTIONS
    /// (Request-URI/To) or INVITE (From); the dialled number of an INVITE is no identity.
    fn check_names<'o>(
        &self,
        ctx: &Ctx<'o, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) -> Option<Finding<'o>> {
        let obs = ctx.obs;
        let target = match method {
            Method::Register => obs.to_user,
            Method::Options => obs.request_user.or(obs.to_user),
            _ => None,
        };
        let proven = obs.transport.proves_source();
        for name in [obs.from_user, obs.auth_user, target].into_iter().flatten() {
            if let Some(f) = self.count_name(ctx, st, name, false, proven) {
                return Some(f);
            }
        }
        None
    }

    /// Counts `name` toward enumeration. A name of a real account (or its extension) counts
    /// only when it `failed`: a NAT office with twenty phones names forty real identities and
    /// must not look like svwar.
    pub(super) fn count_name<'o>(
        &self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        name: &'o [u8],
        failed: bool,
        proven: bool,
    ) -> Option<Finding<'o>> {
        let policy = &self.policy.enumeration;
        let h = self.hasher.hash_bytes(name);
        if st.names.contains(h, ctx.now_s, policy.window_secs) {
            return None;
        }
        if !failed && self.model.account(name).is_some() {
            return None;
        }
        let count = st.names.add(h, ctx.now_s, policy.window_secs);
        (count >= policy.max_usernames).then(|| {
            Finding::new(
                EventKind::Enumeration,
                "enumeration",
                format!(
                    "{count} distinct unknown or failing usernames within {} s, the latest {}",
                    policy.window_secs,
                    quote(name)
                ),
            )
            .account(Some(name))
            .ban(policy.ban)
            .proven(proven)
        })
    }

    /// A sweep: OPTIONS/REGISTER probes from a source that never sends credentials (svmap
    /// and friends fingerprint the PBX and move on; phones authenticate).
    fn check_sweep(
        &self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) -> Option<Finding<'static>> {
        let policy = &self.policy.scanner;
        if !matches!(method, Method::Options | Method::Register) || ctx.obs.auth_present {
            return None;
        }
        if st.last_credentials != 0
            && ctx.now_s.saturating_sub(st.last_credentials) <= policy.window_secs
        {
            return None;
        }
        let n = st.probes.add(ctx.now_s, policy.window_secs);
        (n >= policy.max_unauthenticated_probes).then(|| {
            Finding::new(
                EventKind::Scanner,
                "scanner-sweep",
                format!(
                    "{n} unauthenticated OPTIONS/REGISTER within {} s and no credentials",
                    policy.window_secs
                ),
            )
            .ban(policy.ban)
            .proven(ctx.obs.transport.proves_source())
        })
    }

    /// A call to an external number (one that costs money) by somebody who may not make it.
    ///
    /// The first INVITE of every call carries no credentials, so it proves nothing about
    /// its source and is only reported; when the source answers Asterisk's challenge (a
    /// nonce sent to that address), the probe is proven and banned.
    fn check_toll_fraud<'o>(&self, ctx: &Ctx<'o, '_>, proven: bool) -> Option<Finding<'o>> {
        let policy = &self.policy.toll_fraud;
        let obs = ctx.obs;
        if !policy.enabled {
            return None;
        }
        let dialled = obs.request_user.or(obs.to_user)?;
        if let Some(trunk) = self.model.trunk_at(obs.source.ip()) {
            // A provider delivering its DIDs is the inbound traffic the trunk exists for.
            // Anything else it forwards is its callers' doing: reported, never the trunk's
            // ban.
            if trunk.delivers(dialled) || !self.model.is_external(dialled) {
                return None;
            }
            return Some(
                Finding::new(
                    EventKind::TollFraudProbe,
                    "toll-fraud-via-trunk",
                    format!(
                        "INVITE from the trunk {} to external {}, none of its DIDs",
                        quote(trunk.name.as_bytes()),
                        quote(dialled)
                    ),
                )
                .account(obs.from_user)
                .ban(false)
                .proven(proven),
            );
        }
        // Internal numbers cost nothing; only what leaves the PBX is toll fraud.
        if !self.model.is_external(dialled) {
            return None;
        }
        // Who claims to call: the credentials' user, else (the first, unauthenticated INVITE
        // of every call) the From user, which must be a known account where it may be.
        let caller_name = if obs.auth_present {
            obs.auth_user
        } else {
            obs.from_user
        };
        let caller = caller_name
            .and_then(|n| self.model.account(n))
            .filter(|a| a.permits(obs.source.ip()));
        let authenticated = obs.auth_present && proven;
        match caller {
            Some(account) if account.may_dial(dialled) => None,
            Some(account) => Some(
                Finding::new(
                    EventKind::TollFraudProbe,
                    "toll-fraud-class",
                    format!(
                        "INVITE to external {} which the class of {} does not reach",
                        quote(dialled),
                        quote(account.name.as_bytes())
                    ),
                )
                .account(caller_name)
                .ban(policy.ban_class_violations && authenticated)
                .proven(authenticated),
            ),
            None => Some(
                Finding::new(
                    EventKind::TollFraudProbe,
                    "toll-fraud-unknown-caller",
                    format!(
                        "INVITE to external {} from {}, no known account here{}",
                        quote(dialled),
                        caller_name.map_or_else(|| "nobody".to_owned(), quote),
                        if authenticated {
                            "; the source answered Asterisk's challenge"
                        } else {
                            "; reported until the source answers Asterisk's challenge"
                        }
                    ),
                )
                .account(caller_name)
                .ban(policy.ban_unknown_callers && authenticated)
                .proven(authenticated),
            ),
        }
    }

    pub(super) fn remember_pending(&mut self, ctx: &Ctx<'_, '_>, proven: bool) {
        let obs = ctx.obs;
        let Some(key) = self.pending_key(ctx) else {
            return;
        };
        let mask = self.pending.len() - 1;
        let slot = &mut self.pending[(key as usize) & mask];
        if slot.key != 0 && slot.key != key && ctx.now_s.saturating_sub(slot.at) <= PENDING_TTL {
            self.stats.pending_overwrites += 1;
        }
        let user = obs.auth_user.unwrap_or_default();
        let len = user.len().min(PENDING_USER);
        let mut copy = [0u8; PENDING_USER];
        copy[..len].copy_from_slice(&user[..len]);
        *slot = Pending {
            key,
            at: ctx.now_s,
            proven,
            user_hash: self.hasher.hash_bytes(user),
            user_len: len as u8,
            user: copy,
        };
    }

    /// Matches a request and its answer: same peer, Call-ID, CSeq number and method.
    pub(super) fn pending_key(&self, ctx: &Ctx<'_, '_>) -> Option<u64> {
        let obs = ctx.obs;
        let call_id = obs.call_id?;
        let cseq = obs.cseq?;
        let tx = u128::from(self.hasher.hash_bytes(call_id)) << 64
            | u128::from(cseq.number) << 32
            | u128::from(self.hasher.hash_bytes(cseq.method.as_bytes()) as u32);
        Some(self.hasher.hash_u128(tx ^ ctx.key.rotate_left(17)) | 1)
    }

    pub(super) fn take_pending(&mut self, ctx: &Ctx<'_, '_>) -> Option<Pending> {
        let key = self.pending_key(ctx)?;
        let mask = self.pending.len() - 1;
        let slot = &mut self.pending[(key as usize) & mask];
        if slot.key != key || ctx.now_s.saturating_sub(slot.at) > PENDING_TTL {
            return None;
        }
        slot.key = 0;
        Some(*slot)
    }
}
