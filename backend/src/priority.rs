//! The ban path's scheduling priority.
//!
//! A ban has to be in the kernel before the attacker's next datagram reaches Asterisk, and the
//! moment bans matter most (fifty addresses failing at once) is when Asterisk, answering all
//! of them, keeps the CPU busy. Measured in the appliance benchmark on two cores: the `nft`
//! transaction of a batch of 39 bans took 9.8 ms at normal priority, waiting its turn behind
//! Asterisk, and 2–4 ms when raised. So the capture thread, where every decision on the wire
//! is made, and the long-lived `nft` session (the fallback where bans cannot go over netlink,
//! see `firewall::netlink`) run at a higher priority than the rest of the appliance (the web
//! console, the database, `conntrack`), which keep the normal one: nothing but what carries
//! bans out is preferred over Asterisk.
//!
//! Raising a priority needs `CAP_SYS_NICE` (root has it; the container gets it with
//! `cap_add`). Without it everything still works, at normal priority.

use std::sync::atomic::{AtomicBool, Ordering};

/// The nice value of the ban path (normal is 0, the most urgent -20).
pub const BAN_PATH_NICE: i32 = -10;

/// Whether a raise failed already (it is said once, not per ban).
static REFUSED: AtomicBool = AtomicBool::new(false);

/// Raises the calling thread (Linux keeps a nice value per thread).
pub fn raise_this_thread(what: &str) -> bool {
    raise(None, what)
}

/// Raises the process `pid` (a child this process started).
pub fn raise_process(pid: u32, what: &str) -> bool {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    pid.is_some_and(|pid| raise(Some(pid), what))
}

fn raise(pid: Option<rustix::process::Pid>, what: &str) -> bool {
    // Missing at start-up: said then, in the log and the console.
    if crate::caps::missing().iter().any(|n| n.name == "SYS_NICE") {
        return false;
    }
    // `None` would be the whole process for setpriority's POSIX meaning; on Linux it is the
    // calling thread, which is what is meant. The thread id says so explicitly.
    let pid = pid.unwrap_or_else(rustix::thread::gettid);
    match rustix::process::setpriority_process(Some(pid), BAN_PATH_NICE) {
        Ok(()) => true,
        Err(e) => {
            if !REFUSED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    what,
                    error = %e,
                    "the ban path runs at normal priority, so under load bans reach the kernel later; \
                     raising it needs the capability SYS_NICE ({})",
                    crate::caps::how_to_fix("SYS_NICE")
                );
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_thread_has_the_ban_paths_nice_value_and_others_keep_theirs() {
        let main_before = rustix::process::getpriority_process(None).unwrap();
        let raised = std::thread::spawn(|| {
            let ok = raise_this_thread("test");
            let now = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
            (ok, now.unwrap())
        })
        .join()
        .unwrap();
        let privileged = rustix::thread::capabilities(None)
            .unwrap()
            .effective
            .contains(rustix::thread::CapabilitySet::SYS_NICE);
        if privileged {
            assert_eq!(raised, (true, BAN_PATH_NICE));
        } else {
            // Without the capability a raise is refused, and nothing changes.
            assert!(!raised.0);
        }
        // The raise was the thread's alone.
        assert_eq!(
            rustix::process::getpriority_process(None).unwrap(),
            main_before
        );
    }
}
