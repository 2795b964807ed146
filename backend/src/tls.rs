//! HTTPS of the console and API: the certificate (made at first start, or the
//! administrator's files, reloaded when they change), its fingerprint, and rustls's server
//! configuration.
//!
//! A self-signed certificate cannot be checked against any authority, so its SHA-256
//! fingerprint is printed in the log and shown on the setup page: whoever installed
//! sipwarden can compare it with what the browser shows before typing the first password.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Transport};

/// How often the administrator's certificate files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// The fingerprint of the certificate being served, for the setup page (none over plain
/// HTTP). Shared: a reload changes it.
#[derive(Debug, Clone, Default)]
pub struct Fingerprint(Arc<RwLock<Option<String>>>);

impl Fingerprint {
    /// The SHA-256 fingerprint, `AB:CD:…` as browsers show it.
    #[must_use]
    pub fn get(&self) -> Option<String> {
        self.0.read().map_or(None, |f| f.clone())
    }

    fn set(&self, value: String) {
        if let Ok(mut f) = self.0.write() {
            *f = Some(value);
        }
    }
}

/// HTTPS, ready to accept connections.
pub struct Tls {
    /// Wraps each accepted TCP stream.
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// Where the certificate came from, for the log.
    pub source: String,
}

/// The certificate the server presents; replaced whole on reload, so a handshake sees
/// either the old pair or the new one.
#[derive(Debug)]
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|k| k.clone())
    }
}

/// The crypto provider sipwarden uses for TLS (ring, already in the tree for webhooks).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Sets up HTTPS for `config`, or returns `None` for plain HTTP. Makes the self-signed
/// certificate on first start; follows the administrator's files until `stopping`.
pub fn prepare(
    config: &Config,
    fingerprint: &Fingerprint,
    stopping: &CancellationToken,
) -> anyhow::Result<Option<Tls>> {
    let (cert, key, follow) = match config.transport() {
        Transport::PlainHttp => return Ok(None),
        Transport::SelfSigned => {
            let (cert, key) = self_signed_files(config)?;
            (cert, key, false)
        }
        Transport::CertificateFiles { cert, key } => (cert, key, true),
    };
    let loaded = load(&cert, &key)?;
    let print = fingerprint_of(&loaded);
    tracing::info!(
        certificate = %cert.display(),
        "HTTPS certificate SHA-256 fingerprint: {print}"
    );
    fingerprint.set(print);
    let current = Arc::new(CurrentCertificate(RwLock::new(Arc::new(loaded))));
    if follow {
        follow_files(
            cert.clone(),
            key,
            current.clone(),
            fingerprint.clone(),
            stopping.clone(),
        );
    }
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol version")?
        .with_no_client_auth()
        .with_cert_resolver(current);
    // HTTP/1.1 only (see `server::accept`).
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Tls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        source: cert.display().to_string(),
    }))
}

/// The self-signed pair in the data directory, made now if it is not there yet.
fn self_signed_files(config: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = config.data_dir.join("tls");
    let (cert, key) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let made = make_self_signed(config)?;
    // The key first, readable by sipwarden alone; each file whole or not at all.
    write_new(&key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert, made.cert.pem().as_bytes(), 0o644)?;
    tracing::warn!(
        certificate = %cert.display(),
        "made a self-signed HTTPS certificate: browsers will warn until you compare its \
         fingerprint (below) or give your own with SIPWARDEN_TLS_CERT_FILE and SIPWARDEN_TLS_KEY_FILE"
    );
    Ok((cert, key))
}

/// A self-signed certificate for this host's names and addresses, valid for ten years (it
/// is trusted by its fingerprint, not by dates).
fn make_self_signed(config: &Config) -> anyhow::Result<rcgen::CertifiedKey<rcgen::KeyPair>> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = host_name() {
        names.push(host);
    }
    let ip = config.listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let mut params = rcgen::CertificateParams::new(names)
        .context("cannot describe the self-signed certificate")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sipwarden (self-signed)");
    let now = chrono::Utc::now();
    let year = chrono::Datelike::year(&now);
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let key = rcgen::KeyPair::generate().context("cannot make a key pair")?;
    let cert = params
        .self_signed(&key)
        .context("cannot sign the certificate")?;
    Ok(rcgen::CertifiedKey {
        cert,
        signing_key: key,
    })
}

/// This host's name when it is a usable DNS name.
fn host_name() -> Option<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_ascii_lowercase();
    let usable = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    (usable && name != "localhost").then_some(name)
}

/// Writes `bytes` to `path` through a temporary file and a rename, with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads a certificate chain and its key, and checks that they belong together.
fn load(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    CertifiedKey::from_der(chain, private, &provider()).with_context(|| {
        format!(
            "the key {} does not fit the certificate {}",
            key.display(),
            cert.display()
        )
    })
}

/// `AB:CD:…`: the SHA-256 of the leaf certificate, as browsers show it.
fn fingerprint_of(key: &CertifiedKey) -> String {
    let der = key.cert.first().map_or(&[][..], |c| c.as_ref());
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// When and how big both files were last time, to notice a change without reading them.
fn stamp(cert: &Path, key: &Path) -> Option<[(SystemTime, u64); 2]> {
    let one = |p: &Path| {
        fs::metadata(p)
            .and_then(|m| Ok((m.modified()?, m.len())))
            .ok()
    };
    Some([one(cert)?, one(key)?])
}

/// Reloads the administrator's pair whenever either file changes. A pair that does not load
/// (an ACME client half-way through writing it) keeps the old one in service and is tried
/// again at the next change.
fn follow_files(
    cert: PathBuf,
    key: PathBuf,
    current: Arc<CurrentCertificate>,
    fingerprint: Fingerprint,
    stopping: CancellationToken,
) {
    tokio::spawn(async move {
        let mut seen = stamp(&cert, &key);
        let mut every = tokio::time::interval(RELOAD_CHECK);
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = every.tick() => {}
            }
            let now = stamp(&cert, &key);
            if now.is_none() || now == seen {
                continue;
            }
            seen = now;
            match load(&cert, &key) {
                Ok(loaded) => {
                    let print = fingerprint_of(&loaded);
                    if let Ok(mut slot) = current.0.write() {
                        *slot = Arc::new(loaded);
                    }
                    tracing::info!(
                        certificate = %cert.display(),
                        "HTTPS certificate reloaded; SHA-256 fingerprint: {print}"
                    );
                    fingerprint.set(print);
                }
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "the HTTPS certificate changed but cannot be used; the previous one stays in service"
                ),
            }
        }
    });
}

/// A client configuration that accepts whatever certificate the server shows, for
/// `sipwarden healthcheck` alone: it asks its own process on loopback whether it answers,
/// and the certificate it would check is the one that process reads from the same files.
pub fn healthcheck_client() -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol version")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// See [`healthcheck_client`]: signatures are still checked, the certificate's owner is not.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_is_made_once_kept_private_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "0.0.0.0:8443".parse().unwrap(),
            ..Config::default()
        };
        let (cert, key) = self_signed_files(&config).unwrap();
        let mode = fs::metadata(&key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let first = fingerprint_of(&load(&cert, &key).unwrap());
        assert_eq!(first.len(), 32 * 3 - 1, "{first}");
        // A second start keeps the same certificate (the fingerprint people compared).
        self_signed_files(&config).unwrap();
        assert_eq!(fingerprint_of(&load(&cert, &key).unwrap()), first);
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let one = make_self_signed(&config).unwrap();
        let other = make_self_signed(&config).unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        fs::write(&cert, one.cert.pem()).unwrap();
        fs::write(&key, other.signing_key.serialize_pem()).unwrap();
        let err = format!("{:#}", load(&cert, &key).unwrap_err());
        assert!(err.contains("does not fit"), "{err}");
        fs::write(&cert, "not a certificate").unwrap();
        let err = format!("{:#}", load(&cert, &key).unwrap_err());
        assert!(
            err.contains("no certificate") || err.contains("PEM"),
            "{err}"
        );
    }
}
