//! Registry client (Docker Registry HTTP API v2 / OCI distribution): pull an image's manifest
//! (an index resolved to this platform), its config and its layers (downloaded in parallel,
//! verified by digest, each unpacked once into the layer store), anonymous or with a bearer
//! token. How a registry is reached (HTTPS, verification, plain HTTP for insecure registries) is
//! [`transport`]'s business. One module per conversation: [`session`] (requests, auth,
//! redirects), `pull`, `push`; this one holds the manifest types, the progress lines, login
//! and how each registry is reached.

pub mod auth;
mod pull;
mod push;
mod session;
mod transport;

pub use transport::{describe, web_client};

pub use auth::Credentials;

use bytes::Bytes;
use serde::Deserialize;

use super::error::{Error, Result};
use super::image::reference::Reference;
use super::Engine;
use session::{error_text, login_session};

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// One line of Docker's pull progress stream.
pub fn progress(status: &str, id: Option<&str>) -> Bytes {
    let mut v = serde_json::json!({ "status": status });
    if let Some(id) = id {
        v["id"] = serde_json::Value::String(id.to_string());
    }
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl Engine {
    /// `docker login`: check the credentials against the registry (`GET /v2/`, answering its
    /// challenge). `server` is a host[:port], a URL, or empty for Docker Hub. Returns the
    /// identity token (a refresh token) the registry's token endpoint gave, if any, which the
    /// client keeps instead of the password, as with dockerd.
    pub async fn registry_login(&self, credentials: Credentials) -> Result<Option<String>> {
        let registry = auth::login_registry(&credentials.server_address);
        let endpoint = self.registry_host_endpoint(&registry).await?;
        let mut s = login_session(endpoint, credentials);
        let resp = s.get("/v2/", None).await?;
        if resp.status().is_success() {
            Ok(s.refresh_token.take())
        } else {
            Err(Error::invalid(format!(
                "login to {registry}: {}",
                error_text(resp).await
            )))
        }
    }

    /// How to reach the registry of `r` (see [`transport`]).
    async fn registry_endpoint(&self, r: &Reference) -> Result<transport::Endpoint> {
        self.registry_host_endpoint(&r.registry).await
    }

    async fn registry_host_endpoint(&self, host: &str) -> Result<transport::Endpoint> {
        let listed = self
            .config
            .insecure_registries
            .iter()
            .flatten()
            .any(|h| h == host);
        let insecure = listed || transport::is_loopback(host);
        transport::endpoint(host, insecure, &self.paths.root.join("certs.d")).await
    }
}
