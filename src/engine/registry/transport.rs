//! How a registry is reached.
//!
//! - HTTPS verified against the system's roots (`/etc/ssl/certs`) plus any CA the user put in
//!   `<root>/certs.d/<host[:port]>/*.crt` (the layout of Docker's `/etc/docker/certs.d`).
//! - Registries Docker treats as insecure (loopback addresses, daemon.json's
//!   `insecure-registries`) are tried over HTTPS without verifying the certificate, then over
//!   plain HTTP, as Docker does. One difference: when a CA is configured for such a registry,
//!   it is verified (the user said whom to trust).
//! - Docker Hub's API lives at `registry-1.docker.io`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::super::error::{Error, Result};
use crate::util::body::{empty, ReqBody};

/// How long the HTTPS probe of an insecure registry may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// An HTTP client that speaks both `http://` and `https://`, through the environment's proxies
/// (see [`super::proxy`]).
pub type RegistryClient = Client<super::proxy::Connector, ReqBody>;

/// Where and how to talk to one registry.
#[derive(Clone)]
pub struct Endpoint {
    /// `https://host[:port]` or `http://host[:port]`.
    pub base: String,
    pub client: RegistryClient,
    /// One of `registry-mirrors` (see [`super::hosts`]).
    pub mirror: bool,
}

/// The host serving a registry's API (`docker.io` is served elsewhere).
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// Whether Docker would treat `registry` as insecure by default: a loopback address or name.
pub fn is_loopback(registry: &str) -> bool {
    let name = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => registry.split(':').next().unwrap_or(registry),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Decide how to reach `registry`. `insecure`: loopback or listed in insecure-registries.
/// For an insecure registry without a configured CA this sends one probe (`GET /v2/`).
pub async fn endpoint(registry: &str, insecure: bool, certs_d: &Path) -> Result<Endpoint> {
    let host = api_host(registry);
    let cas = configured_cas(certs_d, registry)?;
    if !cas.is_empty() || !insecure {
        let config = if cas.is_empty() {
            system_config()?
        } else {
            Arc::new(verified_config(&cas)?)
        };
        return Ok(Endpoint {
            base: format!("https://{host}"),
            client: client(config),
            mirror: false,
        });
    }
    let tls = Endpoint {
        base: format!("https://{host}"),
        client: client(unverified_config()),
        mirror: false,
    };
    let probe = Request::get(format!("{}/v2/", tls.base))
        .body(empty())
        .map_err(Error::internal)?;
    // A plain-HTTP server answers a TLS hello with an error at once; one that waits for more
    // is given up on.
    match tokio::time::timeout(PROBE_TIMEOUT, tls.client.request(probe)).await {
        Ok(Ok(_)) => Ok(tls),
        // No TLS there (or nothing at all: the plain-HTTP request reports that).
        _ => Ok(Endpoint {
            base: format!("http://{host}"),
            client: tls.client,
            mirror: false,
        }),
    }
}

/// How to reach a mirror of Docker Hub: the scheme it was given with (plain HTTP or HTTPS),
/// HTTPS verified unless its host is insecure (a CA in certs.d is verified anyway).
pub fn mirror_endpoint(
    mirror: &super::hosts::Mirror,
    insecure: bool,
    certs_d: &Path,
) -> Result<Endpoint> {
    let cas = configured_cas(certs_d, &mirror.host)?;
    let config = if !cas.is_empty() {
        Arc::new(verified_config(&cas)?)
    } else if insecure {
        unverified_config()
    } else {
        system_config()?
    };
    Ok(Endpoint {
        base: mirror.base.clone(),
        client: client(config),
        mirror: true,
    })
}

/// Docker Hub's index, which serves the search API (`/v1/search`).
pub fn hub_index() -> Result<Endpoint> {
    Ok(Endpoint {
        base: "https://index.docker.io".into(),
        client: client(system_config()?),
        mirror: false,
    })
}

/// A client for plain web downloads (a build's `ADD <url>`): HTTPS verified against the
/// system's roots, or plain HTTP.
pub fn web_client() -> Result<RegistryClient> {
    Ok(client(system_config()?))
}

/// A transport error with its causes (hyper's own message is only "client error (Connect)").
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn client(config: Arc<ClientConfig>) -> RegistryClient {
    Client::builder(TokioExecutor::new()).build(super::proxy::Connector::new(config))
}

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))
}

/// The system's roots, loaded once per daemon.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!("loading the system's CA certificates: {e}");
        }
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        tracing::debug!("{added} system CA certificates ({ignored} unusable)");
        store
    })
}

fn system_config() -> Result<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let c = Arc::new(verified_config(&[])?);
    Ok(CONFIG.get_or_init(|| c).clone())
}

/// System roots plus `extra` CAs.
fn verified_config(extra: &[CertificateDer<'static>]) -> Result<ClientConfig> {
    let mut roots = system_roots().clone();
    for ca in extra {
        roots
            .add(ca.clone())
            .map_err(|e| Error::invalid(format!("CA certificate: {e}")))?;
    }
    Ok(builder()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn unverified_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let p = provider();
            let config = ClientConfig::builder_with_provider(p.clone())
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
                .dangerous()
                .with_custom_certificate_verifier(crate::util::tls::any_server_certificate(p))
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// The CA certificates in `<certs_d>/<registry>/*.crt` (none when the directory is missing).
fn configured_cas(certs_d: &Path, registry: &str) -> Result<Vec<CertificateDer<'static>>> {
    let dir = certs_d.join(registry);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    files.sort();
    let mut cas = Vec::new();
    for f in files {
        let certs: Vec<_> = CertificateDer::pem_file_iter(&f)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| Error::invalid(format!("{}: {e}", f.display())))?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "{}: no PEM certificate in it",
                f.display()
            )));
        }
        cas.extend(certs);
    }
    Ok(cas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.3.0.1"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }

    #[test]
    fn a_file_without_certificates_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("reg:5000")).unwrap();
        std::fs::write(d.path().join("reg:5000/ca.crt"), "not a certificate").unwrap();
        let e = configured_cas(d.path(), "reg:5000")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ca.crt") && e.contains("no PEM certificate"),
            "{e}"
        );
        assert!(configured_cas(d.path(), "other:5000").unwrap().is_empty());
    }
}
