//! Network namespaces as test fixtures: a [`NetNs`] per simulated machine and a [`Lab`] that
//! wires a few of them into a small routed network.
//!
//! Why namespaces: the firewall, the guard and Asterisk must be tested against the real kernel
//! (nftables, conntrack, real UDP), but a test must never touch the host's own interfaces,
//! routes or ruleset. Every namespace here is created by the test, named uniquely, and deleted on
//! drop; links are created *directly inside* the namespaces (`ip -n A link add … peer … netns
//! B`), so not even a veth appears in the host namespace for a moment.
//!
//! Topology of a [`Lab`]: a `router` namespace holds one bridge per [`Net`]; each host namespace
//! has one veth `eth0` whose peer is a port of its network's bridge. The router forwards between
//! networks, so a host in [`Net::Internet`] reaches the PBX in [`Net::Pbx`] with its own source
//! address — exactly what per-network `permit`/`deny` rules and bans need.
//!
//! ```text
//!   pbx 192.0.2.10 ── br-pbx (192.0.2.1) ┐
//!   client 198.51.100.10 ── br-office    ├ router (forwards v4 + v6)
//!   attacker 203.0.113.10 ── br-internet ┘
//! ```

use std::ffi::OsStr;
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::process::{self, SHORT};
use crate::root::tool;

/// Prefix of every namespace this harness creates; [`sweep_stale`] only ever touches these.
const PREFIX: &str = "swlab-";

/// Where `ip netns add` keeps its handles.
const NETNS_DIR: &str = "/run/netns";

/// Numbers namespaces within this process; together with the pid it makes names unique across
/// parallel tests (threads) and parallel `cargo test` processes.
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A network namespace owned by the test; deleted (with everything running in it) on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace named `swlab-<pid>-<n>-<role>` with `lo` up.
    ///
    /// `role` only makes names readable in `ip netns list` while debugging.
    pub fn new(role: &str) -> Result<NetNs> {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale);

        let role: String = role
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        // A name can collide only with a leftover of a killed run whose pid was reused;
        // a few fresh numbers get past that.
        let mut last_err = None;
        for _ in 0..5 {
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let name = format!("{PREFIX}{}-{n}-{role}", std::process::id());
            match process::run(
                Command::new(tool("ip")).args(["netns", "add", &name]),
                SHORT,
            ) {
                Ok(_) => {
                    let ns = NetNs { name };
                    ns.ip(["link", "set", "lo", "up"])?;
                    return Ok(ns);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
            .context("creating a network namespace (needs root)")
    }

    /// The namespace's name, as `ip netns` and `nsenter --net=/run/netns/NAME` know it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A [`Command`] that runs `program args` inside this namespace (`ip netns exec`).
    ///
    /// `ip netns exec` also gives the child its own mount namespace with this namespace's
    /// `/sys`, so tools that read `/sys/class/net` see the right interfaces.
    pub fn command<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(tool("ip"));
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .args(args);
        cmd
    }

    /// Runs `program args` in the namespace and returns its output, whatever its exit status.
    /// Killed after [`SHORT`]; use [`NetNs::exec_timeout`] for longer commands.
    pub fn exec<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.exec_timeout(program, args, SHORT)
    }

    /// [`NetNs::exec`] with an explicit deadline.
    pub fn exec_timeout<I, S>(
        &self,
        program: impl AsRef<OsStr>,
        args: I,
        timeout: Duration,
    ) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        process::output(&mut self.command(program, args), timeout)
    }

    /// Runs `program args` in the namespace, fails unless it exits 0, returns stdout.
    pub fn run<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        process::run(&mut self.command(program, args), SHORT)
    }

    /// Starts `program args` in the namespace in the background, stdin closed and stdout/stderr
    /// piped (read them, or a chatty child blocks). It is killed when the namespace is dropped,
    /// if it has not ended before.
    pub fn spawn<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<Child>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(program, args);
        let what = process::describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{what}`"))
    }

    /// Runs `ip -n <ns> args` (no process enters the namespace; faster than `exec`).
    pub fn ip<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(tool("ip"));
        cmd.args(["-n", &self.name]).args(args);
        process::run(&mut cmd, SHORT)
    }

    /// Writes a sysctl of this namespace, e.g. `("net/ipv4/ip_forward", "1")`.
    ///
    /// `/proc/sys/net` shows the network namespace of the process reading it, so the write
    /// happens from a shell inside the namespace and never reaches the host's settings.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c))
        {
            bail!("refusing odd sysctl key {key:?}");
        }
        self.run(
            "sh",
            [
                "-c",
                r#"printf '%s\n' "$2" > "/proc/sys/$1""#,
                "sh",
                key,
                value,
            ],
        )
        .map(drop)
    }

    /// `nft list set inet sipwarden SET` in this namespace: what the kernel holds now (empty
    /// when the set or the table is not there).
    pub fn nft_set(&self, set: &str) -> String {
        self.exec("nft", ["list", "set", "inet", "sipwarden", set])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Pids of the processes whose network namespace this is.
    pub fn pids(&self) -> Vec<u32> {
        pids_in(&self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Kill first: a namespace lives on (with its addresses and sockets) as long as any
        // process is in it, even after `ip netns del` removed its name.
        if let Err(e) = remove(&self.name) {
            eprintln!(
                "warning: could not remove network namespace {}: {e:#}",
                self.name
            );
        }
    }
}

fn pids_in(name: &str) -> Vec<u32> {
    process::run(
        Command::new(tool("ip")).args(["netns", "pids", name]),
        SHORT,
    )
    .map(|out| {
        out.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// Kills every process in namespace `name` and deletes it.
fn remove(name: &str) -> Result<()> {
    // Processes can start children while we kill (a shell mid-fork), so repeat a few times.
    for _ in 0..5 {
        let pids = pids_in(name);
        if pids.is_empty() {
            break;
        }
        let mut kill = Command::new(tool("kill"));
        kill.arg("-KILL").args(pids.iter().map(u32::to_string));
        // Some may have exited meanwhile; kill's complaint about them is expected.
        let _ = process::output(&mut kill, SHORT);
        std::thread::sleep(Duration::from_millis(50));
    }
    process::run(Command::new(tool("ip")).args(["netns", "del", name]), SHORT).map(drop)
}

/// Deletes `swlab-<pid>-…` namespaces whose creating process is gone: leftovers of a test run
/// that was killed (SIGKILL, CI timeout) before its destructors ran. Namespaces of live
/// processes — parallel test runs — are left alone. Errors are only reported.
pub fn sweep_stale() {
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if fs::metadata(format!("/proc/{pid}")).is_err()
            && let Err(e) = remove(&name)
        {
            eprintln!("warning: could not sweep stale namespace {name}: {e:#}");
        }
    }
}

/// A network of the lab, each on its own documentation prefixes (RFC 5737, RFC 3849).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// The PBX's own network: 192.0.2.0/24, 2001:db8:0:1::/64.
    Pbx,
    /// A trusted office network with phones: 198.51.100.0/24, 2001:db8:0:2::/64.
    Office,
    /// The internet, where attackers live: 203.0.113.0/24, 2001:db8:0:3::/64.
    Internet,
}

impl Net {
    const ALL: [Net; 3] = [Net::Pbx, Net::Office, Net::Internet];

    /// The `/24`'s first three octets.
    fn v4_prefix(self) -> [u8; 3] {
        match self {
            Net::Pbx => [192, 0, 2],
            Net::Office => [198, 51, 100],
            Net::Internet => [203, 0, 113],
        }
    }

    /// The fourth 16-bit group of the `/64` (`2001:db8:0:N::/64`).
    fn v6_subnet(self) -> u16 {
        match self {
            Net::Pbx => 1,
            Net::Office => 2,
            Net::Internet => 3,
        }
    }

    /// Host address `.n` / `::n` in this network.
    fn v4(self, n: u8) -> Ipv4Addr {
        let [a, b, c] = self.v4_prefix();
        Ipv4Addr::new(a, b, c, n)
    }

    fn v6(self, n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, self.v6_subnet(), 0, 0, 0, n)
    }

    /// The router's address in this network (`.1`, `::1`).
    pub fn gateway_v4(self) -> Ipv4Addr {
        self.v4(1)
    }

    /// The router's IPv6 address in this network.
    pub fn gateway_v6(self) -> Ipv6Addr {
        self.v6(1)
    }

    /// The network in CIDR form, as it would appear in a `permit=` line.
    pub fn cidr_v4(self) -> String {
        format!("{}/24", self.v4(0))
    }

    /// The IPv6 network in CIDR form.
    pub fn cidr_v6(self) -> String {
        format!("{}/64", self.v6(0))
    }

    fn bridge(self) -> &'static str {
        match self {
            Net::Pbx => "br-pbx",
            Net::Office => "br-office",
            Net::Internet => "br-internet",
        }
    }
}

/// One simulated machine of a [`Lab`].
#[derive(Debug)]
pub struct Host {
    /// The name it was given in [`LabBuilder::host`] (`"pbx"`, `"attacker"`, …).
    pub role: String,
    /// Its network.
    pub net: Net,
    /// Its IPv4 address on `eth0`.
    pub ipv4: Ipv4Addr,
    /// Its IPv6 address on `eth0`.
    pub ipv6: Ipv6Addr,
    /// Its namespace.
    pub ns: NetNs,
}

/// Describes the hosts of a [`Lab`] before it is built.
#[derive(Debug, Default)]
pub struct LabBuilder {
    hosts: Vec<(String, Net)>,
}

impl LabBuilder {
    /// Adds a host named `role` in `net`. Hosts get `.10`, `.11`, … of their network, in the
    /// order they are added.
    pub fn host(mut self, role: &str, net: Net) -> Self {
        self.hosts.push((role.to_owned(), net));
        self
    }

    /// Creates the namespaces, bridges, links, addresses and routes.
    pub fn build(self) -> Result<Lab> {
        let router = NetNs::new("router")?;
        prepare(&router)?;
        // IP forwarding only in the router's namespace: the host's setting is untouched.
        router.sysctl("net/ipv4/ip_forward", "1")?;
        router.sysctl("net/ipv6/conf/all/forwarding", "1")?;
        for net in Net::ALL {
            if !self.hosts.iter().any(|(_, n)| *n == net) {
                continue;
            }
            let br = net.bridge();
            router.ip(["link", "add", br, "type", "bridge"])?;
            router.ip([
                "addr",
                "add",
                &format!("{}/24", net.gateway_v4()),
                "dev",
                br,
            ])?;
            router.ip([
                "addr",
                "add",
                &format!("{}/64", net.gateway_v6()),
                "dev",
                br,
                "nodad",
            ])?;
            router.ip(["link", "set", br, "up"])?;
        }

        let mut hosts: Vec<Host> = Vec::with_capacity(self.hosts.len());
        for (index, (role, net)) in self.hosts.into_iter().enumerate() {
            if hosts.iter().any(|h| h.role == role) {
                bail!("lab host {role:?} added twice");
            }
            let nth = hosts.iter().filter(|h| h.net == net).count();
            let n = u8::try_from(10 + nth).context("too many hosts in one lab network")?;
            let ns = NetNs::new(&role)?;
            prepare(&ns)?;
            let (ipv4, ipv6) = (net.v4(n), net.v6(u16::from(n)));
            // The router-side name only has to be unique inside the router namespace.
            let port = format!("port{index}");
            ns.ip([
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &port,
                "netns",
                router.name(),
            ])?;
            router.ip(["link", "set", &port, "master", net.bridge(), "up"])?;
            ns.ip(["addr", "add", &format!("{ipv4}/24"), "dev", "eth0"])?;
            ns.ip(["addr", "add", &format!("{ipv6}/64"), "dev", "eth0", "nodad"])?;
            ns.ip(["link", "set", "eth0", "up"])?;
            ns.ip([
                "route",
                "add",
                "default",
                "via",
                &net.gateway_v4().to_string(),
            ])?;
            ns.ip([
                "-6",
                "route",
                "add",
                "default",
                "via",
                &net.gateway_v6().to_string(),
            ])?;
            hosts.push(Host {
                role,
                net,
                ipv4,
                ipv6,
                ns,
            });
        }
        Ok(Lab { hosts, router })
    }
}

/// Settings every lab namespace gets before it has links.
fn prepare(ns: &NetNs) -> Result<()> {
    // Duplicate address detection would keep new IPv6 addresses (link-local ones too) tentative
    // for about two seconds; nothing else can own them in a lab, so skip it.
    ns.sysctl("net/ipv6/conf/all/accept_dad", "0")?;
    ns.sysctl("net/ipv6/conf/default/accept_dad", "0")
}

/// A small routed network of namespaces; see the module docs for the topology.
#[derive(Debug)]
pub struct Lab {
    // Field order is drop order: hosts before the router, so no host is left with a dangling
    // link for a moment (harmless, but it keeps `ip netns list` tidy while debugging).
    hosts: Vec<Host>,
    router: NetNs,
}

impl Lab {
    /// Describes a lab host by host.
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// The usual lab: `pbx` in [`Net::Pbx`], `client` in [`Net::Office`], `attacker` in
    /// [`Net::Internet`].
    pub fn standard() -> Result<Lab> {
        Lab::builder()
            .host("pbx", Net::Pbx)
            .host("client", Net::Office)
            .host("attacker", Net::Internet)
            .build()
    }

    /// The host named `role`. Panics with the known names if there is none (a test bug).
    pub fn host(&self, role: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.role == role)
            .unwrap_or_else(|| {
                let known: Vec<&str> = self.hosts.iter().map(|h| h.role.as_str()).collect();
                panic!("lab has no host {role:?}; it has {known:?}")
            })
    }

    /// The namespace of host `role`.
    pub fn ns(&self, role: &str) -> &NetNs {
        &self.host(role).ns
    }

    /// All hosts, in the order they were added.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The router's namespace (for captures or impairments between networks).
    pub fn router(&self) -> &NetNs {
        &self.router
    }

    /// [`NetNs::exec`] on host `role`.
    pub fn exec<I, S>(&self, role: &str, program: impl AsRef<OsStr>, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.ns(role).exec(program, args)
    }

    /// [`NetNs::spawn`] on host `role`.
    pub fn spawn<I, S>(&self, role: &str, program: impl AsRef<OsStr>, args: I) -> Result<Child>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.ns(role).spawn(program, args)
    }

    /// Names of all namespaces of the lab (to check they are gone after drop).
    pub fn namespace_names(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| h.ns.name().to_owned())
            .chain([self.router.name().to_owned()])
            .collect()
    }
}

/// True when a namespace of that name exists (`/run/netns/NAME`).
pub fn exists(name: &str) -> bool {
    fs::metadata(format!("{NETNS_DIR}/{name}")).is_ok()
}

impl NetNs {
    /// Runs `body` on a thread that has entered this namespace, with a current-thread tokio
    /// runtime: every socket the body opens, and every process it starts (children inherit
    /// the forking thread's namespace), lives in the namespace. This is how a test reaches a
    /// server that listens on the namespace's loopback.
    pub fn block_on<F, T>(&self, body: F) -> Result<T>
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        block_on_in(&self.name, body)
    }
}

/// [`NetNs::block_on`] in the namespace called `name`, for a body that cannot borrow its
/// [`NetNs`] (one running in another namespace's runtime, on a blocking thread).
pub fn block_on_in<F, T>(name: &str, body: F) -> Result<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let path = format!("/run/netns/{name}");
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<T> {
                let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .with_context(|| format!("entering {path}"))?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                Ok(runtime.block_on(body))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the test body panicked inside the namespace"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_use_documentation_prefixes_only() {
        assert_eq!(Net::Pbx.cidr_v4(), "192.0.2.0/24");
        assert_eq!(Net::Office.cidr_v4(), "198.51.100.0/24");
        assert_eq!(Net::Internet.cidr_v4(), "203.0.113.0/24");
        for net in Net::ALL {
            assert!(net.cidr_v6().starts_with("2001:db8:"), "{}", net.cidr_v6());
            assert_eq!(net.gateway_v4().octets()[3], 1);
        }
    }
}
