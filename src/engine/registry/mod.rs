//! Registry client (Docker Registry HTTP API v2 / OCI distribution): pull an image's manifest
//! (an index resolved to this platform), its config and its layers (downloaded in parallel,
//! verified by digest, each unpacked once into the layer store), anonymous or with a bearer
//! token. How a registry is reached (HTTPS, verification, plain HTTP for insecure registries,
//! the environment's proxies) is [`transport`]'s and [`proxy`]'s business; which registries
//! are insecure and which mirrors stand in for Docker Hub is [`hosts`]'. One module per
//! conversation: [`session`] (requests, auth, redirects), `pull`, `push`, `search`; this one holds the
//! manifest types, the progress lines, login, the daemon-wide transfer limits and how each
//! registry is reached.

pub mod auth;
mod distribution;
mod download;
mod hosts;
mod manifest;
mod proxy;
mod pull;
mod push;
mod retry;
mod search;
mod session;
mod tags;
mod transport;
mod upload;

pub use hosts::{parse_mirrors, Insecure, Mirror};
pub use search::{split_term, SearchFilter, SearchResult, DEFAULT_LIMIT};
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
    media_type: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    platform: Option<Platform>,
}

/// An index entry's platform, as the registry spells it.
#[derive(Debug, Deserialize)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn variant(&self) -> &str {
        self.variant.as_deref().unwrap_or("")
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match self.variant() {
            "" => Ok(()),
            v => write!(f, "/{v}"),
        }
    }
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

/// The registry settings of daemon.json, parsed once, and the daemon-wide limits on layers in
/// flight (dockerd's `max-concurrent-downloads` and `max-concurrent-uploads`: over all pulls
/// and pushes together, not per image).
pub struct Settings {
    pub insecure: Insecure,
    pub mirrors: Vec<Mirror>,
    pub downloads: std::sync::Arc<tokio::sync::Semaphore>,
    pub uploads: std::sync::Arc<tokio::sync::Semaphore>,
}

/// dockerd's defaults.
const DEFAULT_DOWNLOADS: usize = 3;
const DEFAULT_UPLOADS: usize = 5;

impl Settings {
    pub fn new(config: &crate::engine::config::DaemonConfig) -> Result<Self> {
        let semaphore = |n: Option<usize>, default: usize| {
            std::sync::Arc::new(tokio::sync::Semaphore::new(n.unwrap_or(default).max(1)))
        };
        Ok(Settings {
            insecure: Insecure::parse(config.insecure_registries.as_deref())
                .map_err(Error::invalid)?,
            mirrors: parse_mirrors(config.registry_mirrors.as_deref()).map_err(Error::invalid)?,
            downloads: semaphore(config.max_concurrent_downloads, DEFAULT_DOWNLOADS),
            uploads: semaphore(config.max_concurrent_uploads, DEFAULT_UPLOADS),
        })
    }
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

/// A `Downloading` / `Extracting` / `Pushing` line with its `progressDetail` (bytes so far of
/// `total`), and the bar the docker CLI draws from it as `progress`, for clients that print it.
pub fn progress_bytes(status: &str, id: &str, current: u64, total: Option<u64>) -> Bytes {
    let size = |n: u64| crate::util::bytesize::human_size(n as i64);
    let bar = match total.filter(|t| *t > 0) {
        Some(t) => {
            let width = 50u64;
            let done = (current.min(t) * width / t) as usize;
            let arrow = if done < width as usize { ">" } else { "" };
            format!(
                "[{}{arrow}{}] {:>8}/{}",
                "=".repeat(done),
                " ".repeat((width as usize).saturating_sub(done + arrow.len())),
                size(current),
                size(t)
            )
        }
        None => format!("{:>8}", size(current)),
    };
    let mut detail = serde_json::json!({ "current": current });
    if let Some(t) = total {
        detail["total"] = t.into();
    }
    let v = serde_json::json!({
        "status": status,
        "progressDetail": detail,
        "progress": bar,
        "id": id,
    });
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
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

    /// Where to pull `r` from, in order: for a docker.io image the `registry-mirrors`, then
    /// Docker Hub; for any other, its registry.
    async fn pull_endpoints(&self, r: &Reference) -> Result<Vec<transport::Endpoint>> {
        let mut out = Vec::new();
        if r.registry == "docker.io" {
            let certs_d = self.paths.root.join("certs.d");
            for m in &self.registry.mirrors {
                let insecure = self.registry.insecure.covers(&m.host).await;
                out.push(transport::mirror_endpoint(m, insecure, &certs_d)?);
            }
        }
        out.push(self.registry_endpoint(r).await?);
        Ok(out)
    }

    async fn registry_host_endpoint(&self, host: &str) -> Result<transport::Endpoint> {
        let insecure = self.registry.insecure.covers(host).await;
        transport::endpoint(host, insecure, &self.paths.root.join("certs.d")).await
    }
}
