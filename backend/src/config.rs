//! Configuration: defaults, then a TOML file, then `SIPWARDEN_*` environment variables.
//!
//! Read and validated once at start-up into [`Config`]; nothing else reads the environment.
//! Every secret-bearing variable also has a `_FILE` form (Docker/Kubernetes secrets), and an
//! unknown `SIPWARDEN_*` name is warned about, because a typo in a security setting must not
//! pass silently.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables that are read elsewhere (not part of [`Config`]) but are ours.
const OTHER_KNOWN_VARS: &[&str] = &["SIPWARDEN_ADMIN_PASSWORD", "SIPWARDEN_LOG"];

/// Settings that are text even when they look like a number or a boolean (an AMI user
/// `1001`, a secret `true`).
const TEXT_ONLY: &[&str] = &["asterisk_ami_user", "asterisk_ami_secret"];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people reading a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// What the live guard does with its ban decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GuardMode {
    /// Bans go into the kernel (and the database).
    #[default]
    Enforce,
    /// Decisions are only logged: for trying a policy first.
    LogOnly,
    /// No guard (no AMI tap).
    Off,
}

/// The validated configuration of one sipwarden process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database (and later rendered files and caches) live.
    pub data_dir: PathBuf,
    /// Address the console and API listen on. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Directory with the hydration bundle (`pkg/`) and static assets.
    pub site_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Set when sipwarden is reached over HTTPS through a proxy: session cookies then carry
    /// `Secure`. (When sipwarden serves HTTPS itself they always do.)
    pub secure_cookies: bool,
    /// Certificate chain (PEM) for HTTPS; with `tls_key_file`. Reloaded when it changes, so
    /// an ACME client beside sipwarden can renew it.
    pub tls_cert_file: Option<PathBuf>,
    /// Private key (PEM) of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback: only behind a reverse proxy
    /// that terminates TLS. Without it (and without a certificate) sipwarden serves HTTPS
    /// with a self-signed certificate of its own there.
    pub plain_http: bool,
    /// At most this many client connections at once; more wait in the kernel's queue.
    pub max_connections: u32,
    /// Seconds a client has for its TLS handshake and for a request's headers.
    pub header_timeout_secs: u32,
    /// Seconds a client has to send a request's whole body.
    pub body_timeout_secs: u32,
    /// Live streams (events, dashboard) open at once per console user or API token; more get
    /// 429.
    pub max_streams_per_client: u32,
    /// Administrators must set up a second factor (an authenticator app): until they do,
    /// their console session reaches only the account page. API tokens are not affected.
    pub require_second_factor_for_admins: bool,
    /// How long a console session lives without being used, in hours.
    pub session_idle_hours: u32,
    /// Absolute lifetime of a console session, in hours.
    pub session_max_hours: u32,
    /// Asterisk's configuration directory, which applies write into; `DATA_DIR/asterisk`
    /// when unset (useful for trying sipwarden without an Asterisk).
    pub asterisk_config_dir: Option<PathBuf>,
    /// Address sipwarden reaches Asterisk's AMI at (the port is the policy's `ami_port`).
    pub asterisk_ami_host: IpAddr,
    /// Seconds to wait for any one AMI answer.
    pub asterisk_ami_timeout_secs: u32,
    /// When Asterisk's configuration directory holds no `manager.conf` at start, write the
    /// rendered configuration into it, so an Asterisk started after sipwarden (the compose
    /// file) is hardened from its first start. Off by default: outside the appliance nobody
    /// expects `serve` to write into `/etc/asterisk` before an apply.
    pub asterisk_bootstrap: bool,
    /// Whether sipwarden writes Asterisk's configuration (the default). `false` is watch-only
    /// mode, for an Asterisk someone else configures (by hand or with FreePBX): sipwarden
    /// writes no Asterisk file and refuses applies and rollbacks; the guard and the firewall
    /// still protect it, fed by the AMI account and/or the security log given below and by
    /// the live capture.
    pub asterisk_managed: bool,
    /// Watch-only mode: the AMI account the guard logs in with (it needs `read = security`
    /// and nothing else). A managed Asterisk's guard uses the account sipwarden renders.
    pub asterisk_ami_user: Option<String>,
    /// The secret of `asterisk_ami_user`; give it as `SIPWARDEN_ASTERISK_AMI_SECRET_FILE`.
    pub asterisk_ami_secret: Option<AmiSecret>,
    /// An Asterisk log file the guard follows for security events (res_security_log's
    /// `security.log`, or a `full`/`messages` log with chan_sip, PJSIP and manager notices),
    /// across rotation and truncation. While the AMI tap is connected it has the last word
    /// (the same failures would otherwise be counted twice).
    pub asterisk_security_log: Option<PathBuf>,
    /// The live guard: `enforce` (default), `log_only` or `off`.
    pub guard_mode: GuardMode,
    /// Guard events older than this many days are deleted.
    pub event_retention_days: u32,
    /// At most this many guard events are kept (the oldest go first).
    pub event_max_rows: u64,
    /// Audit log lines older than this many days are deleted.
    pub audit_retention_days: u32,
    /// At most this many audit log lines are kept (the oldest go first): failed sign-ins
    /// are lines too, and anyone can make those.
    pub audit_max_rows: u64,
    /// When set, `/metrics` answers only requests with an API token (`Authorization:
    /// Bearer`) from every client; by default loopback clients (a Prometheus beside it) need
    /// none and every other client needs one.
    pub metrics_require_token: bool,
    /// REST API requests per second from one source address (bursts of twice that).
    pub api_rate_per_source: u32,
    /// REST API requests per second with one API token (bursts of twice that).
    pub api_rate_per_token: u32,
    /// Interface the guard captures SIP on (`any`: every interface, Linux cooked capture).
    /// Needs CAP_NET_RAW; without it the guard watches Asterisk's security events alone.
    pub capture_interface: String,
    /// Reverse proxies in front of the console (comma-separated addresses or networks):
    /// only a request from one of them has its `X-Forwarded-For` believed, so the sign-in
    /// throttle, the rate limits and the audit log see each client, not the proxy. Empty by
    /// default: the header is ignored and nobody can claim another address.
    pub trusted_proxies: TrustedProxies,
    /// Where sipwarden serves the pre-call fraud decision (FastAGI) that the rendered
    /// dialplan asks before every call through a trunk. A loopback address: Asterisk runs
    /// beside sipwarden, and the decision must not be reachable from the network.
    pub fraud_agi_listen: SocketAddr,
}

/// The networks of [`Config::trusted_proxies`], written as one comma-separated string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Whether `ip` is one of the proxies.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("trusted_proxies: `{s}` is not an address or network"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        s.serialize_str(&text.join(", "))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            site_dir: PathBuf::from("target/site"),
            log_format: LogFormat::Human,
            secure_cookies: false,
            tls_cert_file: None,
            tls_key_file: None,
            plain_http: false,
            max_connections: 1024,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_streams_per_client: 8,
            require_second_factor_for_admins: false,
            session_idle_hours: 8,
            session_max_hours: 24,
            asterisk_config_dir: None,
            asterisk_ami_host: IpAddr::from([127, 0, 0, 1]),
            asterisk_ami_timeout_secs: 10,
            asterisk_bootstrap: false,
            asterisk_managed: true,
            asterisk_ami_user: None,
            asterisk_ami_secret: None,
            asterisk_security_log: None,
            guard_mode: GuardMode::Enforce,
            event_retention_days: 30,
            event_max_rows: 1_000_000,
            audit_retention_days: 365,
            audit_max_rows: 200_000,
            metrics_require_token: false,
            api_rate_per_source: 100,
            api_rate_per_token: 200,
            capture_interface: "any".to_owned(),
            trusted_proxies: TrustedProxies::default(),
            fraud_agi_listen: SocketAddr::from(([127, 0, 0, 1], 4573)),
        }
    }
}

/// An AMI secret from the configuration: never printed (not even in `Debug`), and limited to
/// what the AMI protocol can carry on one line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AmiSecret(String);

impl AmiSecret {
    /// The secret itself, for the AMI login and nothing else.
    #[must_use]
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AmiSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl TryFrom<String> for AmiSecret {
    type Error = String;

    fn try_from(secret: String) -> Result<Self, String> {
        // A line break would end the login action's line and start another one.
        if secret.is_empty() || secret.len() > 256 || secret.chars().any(char::is_control) {
            return Err(
                "asterisk_ami_secret must be 1 to 256 bytes without control characters".into(),
            );
        }
        Ok(Self(secret))
    }
}

impl From<AmiSecret> for String {
    fn from(secret: AmiSecret) -> Self {
        secret.0
    }
}

/// How sipwarden serves HTTP (see [`Config::transport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP: on loopback, or behind a TLS-terminating proxy when said explicitly.
    PlainHttp,
    /// HTTPS with a certificate sipwarden made itself at first start (in the data
    /// directory).
    SelfSigned,
    /// HTTPS with the administrator's certificate and key, reloaded when they change.
    CertificateFiles { cert: PathBuf, key: PathBuf },
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is invalid: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("cannot read {var} from file {path}: {source}")]
    SecretFile {
        var: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Rule(String),
}

/// What loading found besides the configuration itself (reported once logging is up).
#[derive(Debug, Default)]
pub struct LoadReport {
    /// `SIPWARDEN_*` variables that no setting uses.
    pub unknown_env: Vec<String>,
}

impl Config {
    /// Loads defaults, then `file` (if given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<(Self, LoadReport), ConfigError> {
        Self::load_from(file, std::env::vars().collect())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: Vec<(String, String)>,
    ) -> Result<(Self, LoadReport), ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            // `Toml::file` silently ignores a missing file; a path the user named must exist.
            if !file.is_file() {
                return Err(ConfigError::Rule(format!(
                    "configuration file {} does not exist or is not a file",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }

        let known: Vec<String> = Config::field_names()
            .into_iter()
            .map(|f| format!("SIPWARDEN_{}", f.to_uppercase()))
            .collect();
        let mut report = LoadReport::default();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in env {
            if !name.starts_with("SIPWARDEN_") {
                continue;
            }
            if let Some(base) = name
                .strip_suffix("_FILE")
                .filter(|base| known.iter().any(|k| k == base))
            {
                let contents =
                    std::fs::read_to_string(&value).map_err(|source| ConfigError::SecretFile {
                        var: name.clone(),
                        path: value.clone(),
                        source,
                    })?;
                pairs.push((base.to_owned(), contents.trim_end().to_owned()));
                continue;
            }
            if known.contains(&name) {
                pairs.push((name, value));
            } else if !OTHER_KNOWN_VARS.contains(&name.as_str())
                && !OTHER_KNOWN_VARS
                    .iter()
                    .any(|k| name.strip_suffix("_FILE") == Some(k))
            {
                report.unknown_env.push(name);
            }
        }
        report.unknown_env.sort();
        // Explicit values from the environment win over the file; `_FILE` forms come first so
        // that a direct variable of the same name (set later) wins.
        for (name, value) in pairs {
            let key = name.trim_start_matches("SIPWARDEN_").to_lowercase();
            let value = if TEXT_ONLY.contains(&key.as_str()) {
                figment::value::Value::from(value)
            } else {
                parse_env_value(&value)
            };
            figment = figment.merge((key, value));
        }

        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok((config, report))
    }

    /// The settings' names, read off the struct itself so a new field is never missing
    /// from the environment mapping or the unknown-variable check.
    fn field_names() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Rule("data_dir must not be empty".into()));
        }
        if self.session_idle_hours == 0 || self.session_max_hours == 0 {
            return Err(ConfigError::Rule(
                "session_idle_hours and session_max_hours must be at least 1".into(),
            ));
        }
        if !(1..=300).contains(&self.asterisk_ami_timeout_secs) {
            return Err(ConfigError::Rule(
                "asterisk_ami_timeout_secs must be between 1 and 300".into(),
            ));
        }
        if !self.fraud_agi_listen.ip().is_loopback() || self.fraud_agi_listen.port() == 0 {
            return Err(ConfigError::Rule(
                "fraud_agi_listen must be a loopback address with a port (127.0.0.1:4573): \
                 the rendered dialplan names it, and the decision must not be reachable from \
                 the network"
                    .into(),
            ));
        }
        if self.api_rate_per_source == 0 || self.api_rate_per_token == 0 {
            return Err(ConfigError::Rule(
                "api_rate_per_source and api_rate_per_token must be at least 1".into(),
            ));
        }
        if self.event_retention_days == 0 || self.event_max_rows < 1000 {
            return Err(ConfigError::Rule(
                "event_retention_days must be at least 1 and event_max_rows at least 1000".into(),
            ));
        }
        if self.audit_retention_days == 0 || self.audit_max_rows < 1000 {
            return Err(ConfigError::Rule(
                "audit_retention_days must be at least 1 and audit_max_rows at least 1000".into(),
            ));
        }
        if self.capture_interface.is_empty()
            || self.capture_interface.len() > 64
            || self.capture_interface.chars().any(char::is_control)
        {
            return Err(ConfigError::Rule(
                "capture_interface must be an interface name (or `any`)".into(),
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::Rule(
                "tls_cert_file and tls_key_file go together: give both or neither".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections)
            || !(1..=3600).contains(&self.header_timeout_secs)
            || !(1..=3600).contains(&self.body_timeout_secs)
            || !(1..=1000).contains(&self.max_streams_per_client)
        {
            return Err(ConfigError::Rule(
                "max_connections (1 to 1000000), header_timeout_secs and body_timeout_secs \
                 (1 to 3600) and max_streams_per_client (1 to 1000) are out of range"
                    .into(),
            ));
        }
        self.validate_watch_only()?;
        if self.session_idle_hours > self.session_max_hours {
            return Err(ConfigError::Rule(
                "session_idle_hours must not exceed session_max_hours".into(),
            ));
        }
        Ok(())
    }

    /// The watch-only settings go together: an AMI user with its secret, and neither with a
    /// managed Asterisk (whose guard account sipwarden renders itself).
    fn validate_watch_only(&self) -> Result<(), ConfigError> {
        let rule = |text: &str| Err(ConfigError::Rule(text.to_owned()));
        if self.asterisk_ami_user.is_some() != self.asterisk_ami_secret.is_some() {
            return rule(
                "asterisk_ami_user and asterisk_ami_secret (SIPWARDEN_ASTERISK_AMI_SECRET_FILE) \
                 go together: give both or neither",
            );
        }
        if let Some(user) = &self.asterisk_ami_user
            && (user.is_empty()
                || user.len() > 64
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)))
        {
            return rule(
                "asterisk_ami_user must be 1 to 64 letters, digits or . _ - @ (an AMI user name)",
            );
        }
        if self.asterisk_managed && self.asterisk_ami_user.is_some() {
            return rule(
                "asterisk_ami_user is for watch-only mode (asterisk_managed = false); a managed \
                 Asterisk's guard logs in with the account sipwarden renders",
            );
        }
        if !self.asterisk_managed && self.asterisk_bootstrap {
            return rule(
                "asterisk_bootstrap writes Asterisk's configuration; it cannot go with watch-only \
                 mode (asterisk_managed = false)",
            );
        }
        if let Some(log) = &self.asterisk_security_log
            && !log.is_absolute()
        {
            return rule("asterisk_security_log must be an absolute path");
        }
        Ok(())
    }

    /// The Asterisk configuration directory applies write into.
    #[must_use]
    pub fn asterisk_dir(&self) -> PathBuf {
        self.asterisk_config_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("asterisk"))
    }

    /// How the console and API are served: HTTPS wherever they leave loopback, unless a
    /// proxy in front terminates TLS (`plain_http`).
    #[must_use]
    pub fn transport(&self) -> Transport {
        if let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) {
            return Transport::CertificateFiles {
                cert: cert.clone(),
                key: key.clone(),
            };
        }
        if self.serves_https() {
            Transport::SelfSigned
        } else {
            Transport::PlainHttp
        }
    }

    /// Whether sipwarden itself serves HTTPS.
    #[must_use]
    pub fn serves_https(&self) -> bool {
        // The rule behind `transport`, without cloning its paths: this runs on every response.
        self.tls_cert_file.is_some()
            || !(self.listen.ip().to_canonical().is_loopback() || self.plain_http)
    }

    /// Whether session cookies carry `Secure`.
    #[must_use]
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies || self.serves_https()
    }

    /// The SQLite file inside the data directory.
    #[must_use]
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("sipwarden.sqlite3")
    }
}

/// Environment values are strings; booleans and numbers are given their type so that
/// `SIPWARDEN_SECURE_COOKIES=true` deserializes into a `bool`.
fn parse_env_value(value: &str) -> figment::value::Value {
    use figment::value::Value;
    match value {
        "true" => Value::from(true),
        "false" => Value::from(false),
        _ => match value.parse::<u32>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(value.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn https_is_the_default_wherever_the_console_leaves_loopback() {
        let load = |pairs: &[(&str, &str)]| Config::load_from(None, env(pairs)).map(|c| c.0);
        let loopback = load(&[]).unwrap();
        assert_eq!(loopback.transport(), Transport::PlainHttp);
        assert!(!loopback.cookies_secure());
        for listen in ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:443"] {
            let open = load(&[("SIPWARDEN_LISTEN", listen)]).unwrap();
            assert_eq!(open.transport(), Transport::SelfSigned, "{listen}");
            assert!(open.cookies_secure());
        }
        let proxied = load(&[
            ("SIPWARDEN_LISTEN", "0.0.0.0:8080"),
            ("SIPWARDEN_PLAIN_HTTP", "true"),
        ])
        .unwrap();
        assert_eq!(proxied.transport(), Transport::PlainHttp);
        let files = load(&[
            ("SIPWARDEN_TLS_CERT_FILE", "/etc/tls/cert.pem"),
            ("SIPWARDEN_TLS_KEY_FILE", "/etc/tls/key.pem"),
        ])
        .unwrap();
        assert_eq!(
            files.transport(),
            Transport::CertificateFiles {
                cert: "/etc/tls/cert.pem".into(),
                key: "/etc/tls/key.pem".into()
            }
        );
        let half = load(&[("SIPWARDEN_TLS_CERT_FILE", "/etc/tls/cert.pem")]).unwrap_err();
        assert!(half.to_string().contains("tls_key_file"), "{half}");
        let silly = load(&[("SIPWARDEN_MAX_STREAMS_PER_CLIENT", "0")]).unwrap_err();
        assert!(
            silly.to_string().contains("max_streams_per_client"),
            "{silly}"
        );
    }

    #[test]
    fn trusted_proxies_are_a_list_of_networks_named_in_the_error_when_bad() {
        let (config, _) = Config::load_from(
            None,
            env(&[("SIPWARDEN_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1")]),
        )
        .unwrap();
        assert!(config.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert!(
            config
                .trusted_proxies
                .contains("::ffff:127.0.0.1".parse().unwrap())
        );
        assert!(
            !config
                .trusted_proxies
                .contains("192.0.2.1".parse().unwrap())
        );
        assert!(Config::default().trusted_proxies.is_empty());
        let err = Config::load_from(None, env(&[("SIPWARDEN_TRUSTED_PROXIES", "10.0.0.0/8, x")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trusted_proxies") && err.contains("`x`"),
            "{err}"
        );
    }

    #[test]
    fn nothing_set_gives_the_embedded_default() {
        let (config, report) = Config::load_from(None, vec![]).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(report.unknown_env.is_empty());
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sipwarden.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nsession_idle_hours = 2\n",
        )
        .unwrap();
        let (config, _) = Config::load_from(
            Some(&file),
            env(&[
                ("SIPWARDEN_LISTEN", "127.0.0.1:9100"),
                ("SIPWARDEN_SECURE_COOKIES", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(config.session_idle_hours, 2);
        assert!(config.secure_cookies);
    }

    #[test]
    fn file_variants_read_the_value_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dir");
        std::fs::write(&file, "/srv/sipwarden\n").unwrap();
        let (config, _) = Config::load_from(
            None,
            env(&[("SIPWARDEN_DATA_DIR_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/sipwarden"));
    }

    #[test]
    fn unknown_sipwarden_variables_are_reported() {
        let (_, report) = Config::load_from(
            None,
            env(&[
                ("SIPWARDEN_LISTNE", "x"),
                ("SIPWARDEN_ADMIN_PASSWORD", "y"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(report.unknown_env, vec!["SIPWARDEN_LISTNE".to_owned()]);
    }

    #[test]
    fn a_bad_listen_address_is_a_clear_error() {
        let err =
            Config::load_from(None, env(&[("SIPWARDEN_LISTEN", "not-an-address")])).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }

    #[test]
    fn the_guard_captures_on_every_interface_unless_told_otherwise() {
        let (config, _) = Config::load_from(None, vec![]).unwrap();
        assert_eq!(config.capture_interface, "any");
        let (config, _) =
            Config::load_from(None, env(&[("SIPWARDEN_CAPTURE_INTERFACE", "eth1")])).unwrap();
        assert_eq!(config.capture_interface, "eth1");
        let err = Config::load_from(None, env(&[("SIPWARDEN_CAPTURE_INTERFACE", "")])).unwrap_err();
        assert!(err.to_string().contains("capture_interface"), "{err}");
    }

    #[test]
    fn watch_only_settings_are_checked_together_and_the_secret_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("ami-secret");
        std::fs::write(&secret, "12345678\n").unwrap();
        let secret = secret.to_str().unwrap();
        let (config, _) = Config::load_from(
            None,
            env(&[
                ("SIPWARDEN_ASTERISK_MANAGED", "false"),
                ("SIPWARDEN_ASTERISK_AMI_USER", "1001"),
                ("SIPWARDEN_ASTERISK_AMI_SECRET_FILE", secret),
                (
                    "SIPWARDEN_ASTERISK_SECURITY_LOG",
                    "/var/log/asterisk/security.log",
                ),
            ]),
        )
        .unwrap();
        assert!(!config.asterisk_managed);
        assert_eq!(config.asterisk_ami_user.as_deref(), Some("1001"));
        assert_eq!(
            config.asterisk_ami_secret.as_ref().map(AmiSecret::reveal),
            Some("12345678")
        );
        assert!(!format!("{config:?}").contains("12345678"));
        let refused = |pairs: &[(&str, &str)], words: &str| {
            let err = Config::load_from(None, env(pairs)).unwrap_err().to_string();
            assert!(err.contains(words), "{pairs:?}: {err}");
        };
        refused(
            &[
                ("SIPWARDEN_ASTERISK_MANAGED", "false"),
                ("SIPWARDEN_ASTERISK_AMI_USER", "watch"),
            ],
            "go together",
        );
        refused(
            &[
                ("SIPWARDEN_ASTERISK_AMI_USER", "watch"),
                ("SIPWARDEN_ASTERISK_AMI_SECRET_FILE", secret),
            ],
            "watch-only mode",
        );
        refused(
            &[
                ("SIPWARDEN_ASTERISK_MANAGED", "false"),
                ("SIPWARDEN_ASTERISK_AMI_USER", "bad\nAction: Originate"),
                ("SIPWARDEN_ASTERISK_AMI_SECRET_FILE", secret),
            ],
            "asterisk_ami_user",
        );
        refused(
            &[
                ("SIPWARDEN_ASTERISK_MANAGED", "false"),
                ("SIPWARDEN_ASTERISK_BOOTSTRAP", "true"),
            ],
            "asterisk_bootstrap",
        );
        refused(
            &[("SIPWARDEN_ASTERISK_SECURITY_LOG", "security.log")],
            "absolute",
        );
    }

    #[test]
    fn a_named_config_file_that_is_missing_is_an_error() {
        let err =
            Config::load_from(Some(Path::new("/nonexistent/sipwarden.toml")), vec![]).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
