//! SIPVicious, the attack tools most Asterisk servers meet first, run in a lab namespace.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::netns::NetNs;

/// What a disguised tool says it is (a softphone, not a fingerprinted scanner).
pub const DISGUISE: &str = "Zoiper rv2.10.20.3";

/// Runs SIPVicious' `tool` in `ns` with `args` (its state in `home`), with its User-Agent
/// replaced when `disguise` is given (SIPVicious has no option for it; its request builder's
/// default is patched), as real attackers run it. Killed after two minutes.
///
/// # Panics
/// When the tool cannot be run at all (a test precondition).
pub fn run(ns: &NetNs, tool: &str, disguise: Option<&str>, args: &[&str], home: &Path) -> Output {
    let mut cmd = match disguise {
        None => ns.command(tool, args),
        Some(ua) => {
            let script = format!(
                "import sys; sys.path.insert(0, '/usr/share/sipvicious'); \
                 import sipvicious.libs.svhelper as h; d = list(h.makeRequest.__defaults__); \
                 d[d.index('friendly-scanner')] = sys.argv.pop(1); \
                 h.makeRequest.__defaults__ = tuple(d); import sipvicious.{tool} as m; \
                 sys.argv[0] = '{tool}'; sys.exit(m.main())"
            );
            let mut c = ns.command("/usr/bin/python3", ["-c", &script, ua]);
            c.args(args);
            c
        }
    };
    cmd.env("HOME", home);
    let t = Instant::now();
    let out = crate::process::output(&mut cmd, Duration::from_secs(120)).expect(tool);
    eprintln!(
        "{tool} ({}) ran {:?}",
        disguise.unwrap_or("as shipped"),
        t.elapsed()
    );
    out
}
