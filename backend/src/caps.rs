//! Linux capabilities: what `serve` needs from the kernel, and saying so when it is missing.
//!
//! The firewall runs `nft` and `conntrack` (NET_ADMIN) and the guard opens a raw capture
//! socket (NET_RAW). As root these are simply there. The container image runs sipwarden as a
//! non-root user instead, with the two capabilities attached to the binary as *permitted*
//! file capabilities (`setcap cap_net_admin,cap_net_raw+p`). Permitted-only matters twice:
//! a container started without `--cap-add` still starts (with the effective bit the kernel
//! refuses to run the binary at all, with nothing but "operation not permitted"), and it is
//! this process that decides to use them: [`raise`] makes them effective and puts them into
//! the ambient set, so the `nft` and `conntrack` it starts inherit them.
//!
//! A third, `SYS_NICE`, lets it run the ban path at a higher priority (see
//! [`crate::priority`]); it stays with this process and is not handed to the programs it starts.
//!
//! Capabilities are per thread: call [`raise`] before any thread (the async runtime) starts.

use rustix::thread::{
    CapabilitySet, capabilities, configure_capability_in_ambient_set, set_capabilities,
};

/// One capability sipwarden uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needed {
    /// `NET_ADMIN`, as `--cap-add` spells it.
    pub name: &'static str,
    /// What stops working without it.
    pub for_what: &'static str,
    set: CapabilitySet,
    /// Handed to `nft` and `conntrack` (the ambient set), or kept by this process.
    ambient: bool,
}

/// The capabilities `serve` needs.
pub const NEEDED: [Needed; 3] = [
    Needed {
        name: "NET_ADMIN",
        for_what: "the firewall cannot change nftables and bans cannot be enforced in the kernel",
        set: CapabilitySet::NET_ADMIN,
        ambient: true,
    },
    Needed {
        name: "NET_RAW",
        for_what: "the guard cannot capture SIP and watches Asterisk's AMI events alone",
        set: CapabilitySet::NET_RAW,
        ambient: true,
    },
    Needed {
        name: "SYS_NICE",
        for_what: "the ban path runs at normal priority and, while Asterisk keeps the CPU busy, \
                   bans reach the kernel later",
        set: CapabilitySet::SYS_NICE,
        ambient: false,
    },
];

/// How to give sipwarden a capability it lacks, for log lines and the console.
#[must_use]
pub fn how_to_fix(name: &str) -> String {
    format!(
        "in a container add the capability (docker/podman run --cap-add {name}; compose: \
         `cap_add: [NET_ADMIN, NET_RAW, SYS_NICE]`); outside one run as root or give the binary \
         `setcap cap_net_admin,cap_net_raw,cap_sys_nice+p`"
    )
}

static MISSING: std::sync::OnceLock<Vec<Needed>> = std::sync::OnceLock::new();

/// What [`raise`] found missing in this process (empty before it ran).
#[must_use]
pub fn missing() -> &'static [Needed] {
    MISSING.get().map_or(&[], Vec::as_slice)
}

/// The sentence a log line or the console shows for a missing capability.
#[must_use]
pub fn missing_message(need: &Needed) -> String {
    format!(
        "sipwarden lacks the capability {}, so {}; to fix it, {}",
        need.name,
        need.for_what,
        how_to_fix(need.name)
    )
}

/// [`raise`], remembering the outcome for [`missing`] (the first call's outcome wins).
pub fn raise_and_remember() -> &'static [Needed] {
    let found = raise();
    MISSING.get_or_init(|| found).as_slice()
}

/// Makes the needed capabilities this thread is permitted effective and ambient (inherited by
/// the programs it starts and the threads it creates); returns those it is not permitted.
pub fn raise() -> Vec<Needed> {
    let Ok(mut sets) = capabilities(None) else {
        return NEEDED.to_vec();
    };
    let mut missing = Vec::new();
    let mut wanted = CapabilitySet::empty();
    for need in NEEDED {
        if sets.permitted.contains(need.set) {
            wanted |= need.set;
        } else {
            missing.push(need);
        }
    }
    if wanted.is_empty() {
        return missing;
    }
    let handed_on = NEEDED
        .iter()
        .filter(|n| n.ambient)
        .fold(CapabilitySet::empty(), |all, n| all | n.set)
        & wanted;
    sets.effective |= wanted;
    // A capability can be ambient only when it is also inheritable.
    sets.inheritable |= handed_on;
    if set_capabilities(None, sets).is_err() {
        return NEEDED.to_vec();
    }
    for need in NEEDED {
        if need.ambient && wanted.contains(need.set) {
            // Failing here (an old kernel without ambient capabilities) leaves this process
            // able to capture but its `nft` children not; `nft` then says so itself.
            let _ = configure_capability_in_ambient_set(need.set, true);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_reports_exactly_what_is_not_permitted() {
        let permitted = capabilities(None).unwrap().permitted;
        let missing = raise();
        for need in NEEDED {
            assert_eq!(
                missing.contains(&need),
                !permitted.contains(need.set),
                "{}",
                need.name
            );
        }
        let now = capabilities(None).unwrap();
        for need in NEEDED {
            if permitted.contains(need.set) {
                assert!(now.effective.contains(need.set), "{}", need.name);
            }
        }
    }

    #[test]
    fn only_what_nft_and_conntrack_need_is_handed_to_them() {
        let before = capabilities(None).unwrap().inheritable;
        raise();
        let after = capabilities(None).unwrap().inheritable;
        // SYS_NICE stays with sipwarden (it raises its own ban path, nothing else does).
        assert_eq!(
            after.contains(CapabilitySet::SYS_NICE),
            before.contains(CapabilitySet::SYS_NICE)
        );
    }

    #[test]
    fn the_fix_names_the_capability_and_compose() {
        let fix = how_to_fix("NET_RAW");
        assert!(
            fix.contains("--cap-add NET_RAW") && fix.contains("cap_add"),
            "{fix}"
        );
    }
}
