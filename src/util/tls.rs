//! TLS material for the Engine API over TCP, as the docker CLI and dockerd take it: PEM files
//! (`--tlscacert`, `--tlscert`, `--tlskey`), a client that verifies the daemon against the CA
//! (`--tlsverify`) or encrypts without verifying (`--tls`), and a server that demands client
//! certificates signed by the CA (`--tlsverify`) or takes any client (`--tls`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// The TLS options of a client or a daemon.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// Verify the peer: the daemon's certificate (client), or the client's (daemon).
    pub verify: bool,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn roots(ca: &Path) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for c in certs(ca)? {
        store.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    Ok(store)
}

fn required<'a>(p: &'a Option<PathBuf>, flag: &str) -> Result<&'a Path, String> {
    p.as_deref()
        .ok_or_else(|| format!("{flag} is needed (or DOCKER_CERT_PATH holding it)"))
}

impl TlsFiles {
    /// The client side: verify the daemon against `ca` (or encrypt only), and present
    /// `cert`/`key` when given.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let p = provider();
        let builder = ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if self.verify {
            builder.with_root_certificates(roots(required(&self.ca, "--tlscacert")?)?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(any_server_certificate(p))
        };
        let config = match (&self.cert, &self.key) {
            (Some(c), Some(k)) if c.exists() && k.exists() => builder
                .with_client_auth_cert(certs(c)?, key(k)?)
                .map_err(|e| format!("{}: {e}", c.display()))?,
            _ => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// The daemon side: its `cert`/`key`, and with `verify` only clients whose certificate
    /// the CA signed.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let p = provider();
        let builder = ServerConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if self.verify {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(required(&self.ca, "--tlscacert")?)?),
                p,
            )
            .build()
            .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let cert = required(&self.cert, "--tlscert")?;
        let key_path = required(&self.key, "--tlskey")?;
        let mut config = builder
            .with_single_cert(certs(cert)?, key(key_path)?)
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A verifier that accepts any server certificate, still checking handshake signatures with
/// `provider`'s algorithms: `--tls` without `--tlsverify`, and insecure registries.
pub fn any_server_certificate(provider: Arc<CryptoProvider>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(AnyServer(provider))
}

#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
