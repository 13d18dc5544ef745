//! Registry client (Docker Registry HTTP API v2 / OCI distribution): pull an image's manifest
//! (an index resolved to this platform), its config and its layers (downloaded in parallel,
//! verified by digest, each unpacked once into the layer store), anonymous or with a bearer
//! token. How a registry is reached (HTTPS, verification, plain HTTP for insecure registries) is
//! [`transport`]'s business.

pub mod auth;
mod transport;

pub use auth::Credentials;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use sha2::Digest;
use tokio::sync::mpsc;

use super::error::{Error, Result};
use super::image::layer::LayerRecord;
use super::image::reference::Reference;
use super::image::ImageRecord;
use super::Engine;
use crate::api::client::{empty, ReqBody};

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

#[derive(Clone)]
struct Session {
    client: transport::RegistryClient,
    base: String,
    repo: String,
    credentials: Option<Credentials>,
    /// The `Authorization` header value once a challenge was answered.
    authorization: Option<String>,
}

impl Session {
    async fn get(
        &mut self,
        path: &str,
        accept: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        for attempt in 0..2 {
            let mut req = Request::get(format!("{}{path}", self.base));
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(a) = &self.authorization {
                req = req.header("Authorization", a);
            }
            let resp = self
                .client
                .request(req.body(empty()).map_err(Error::internal)?)
                .await
                .map_err(|e| {
                    Error::invalid(format!(
                        "registry {}: {}",
                        self.base,
                        transport::describe(&e)
                    ))
                })?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt > 0 {
                break;
            }
            if resp.status() == StatusCode::UNAUTHORIZED {
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                self.authenticate(&challenge).await?;
                continue;
            }
            return self.follow_redirects(resp, accept).await;
        }
        Err(Error::invalid(format!(
            "registry {}: unauthorized: {}",
            self.base,
            if self.credentials.is_some() {
                "incorrect username or password"
            } else {
                "authentication required (wharf login)"
            }
        )))
    }

    /// Follow a registry's redirects (Docker Hub sends blobs to a CDN). Credentials go only to
    /// the registry itself: a signed CDN URL refuses a second one.
    async fn follow_redirects(
        &self,
        mut resp: hyper::Response<hyper::body::Incoming>,
        accept: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        for _ in 0..5 {
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let Some(location) = resp.headers().get("location").and_then(|h| h.to_str().ok())
            else {
                return Ok(resp);
            };
            let url = if location.starts_with('/') {
                format!("{}{location}", self.base)
            } else {
                location.to_string()
            };
            let mut req = Request::get(&url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            let same_registry = url
                .strip_prefix(self.base.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if let Some(a) = self.authorization.as_ref().filter(|_| same_registry) {
                req = req.header("Authorization", a);
            }
            resp = self
                .client
                .request(req.body(empty()).map_err(Error::internal)?)
                .await
                .map_err(|e| Error::invalid(format!("{url}: {}", transport::describe(&e))))?;
        }
        Err(Error::invalid(format!(
            "registry {}: too many redirects",
            self.base
        )))
    }

    /// Answer a `WWW-Authenticate` challenge: Basic with the credentials, or Bearer with a
    /// token from the named realm (fetched with the credentials when there are some).
    async fn authenticate(&mut self, challenge: &str) -> Result<()> {
        let (scheme, params) = auth::parse_challenge(challenge);
        self.authorization = Some(match scheme.as_str() {
            "basic" => match &self.credentials {
                Some(c) => c.basic(),
                None => {
                    return Err(Error::invalid(format!(
                        "registry {}: unauthorized: authentication required (wharf login)",
                        self.base
                    )))
                }
            },
            _ => format!("Bearer {}", self.fetch_token(challenge, &params).await?),
        });
        Ok(())
    }

    /// A bearer token from the realm named in a `WWW-Authenticate: Bearer ...` challenge.
    async fn fetch_token(
        &self,
        challenge: &str,
        params: &HashMap<String, String>,
    ) -> Result<String> {
        let realm = params.get("realm").ok_or_else(|| {
            Error::invalid(format!(
                "registry {}: authentication required ({challenge})",
                self.base
            ))
        })?;
        let scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", self.repo));
        let mut url = format!("{realm}?scope={scope}");
        if let Some(s) = params.get("service") {
            url.push_str(&format!("&service={s}"));
        }
        let mut req = Request::get(&url);
        if let Some(c) = &self.credentials {
            req = req.header("Authorization", c.basic());
        }
        let resp = self
            .client
            .request(req.body(empty()).map_err(Error::internal)?)
            .await
            .map_err(|e| {
                Error::invalid(format!("token from {realm}: {}", transport::describe(&e)))
            })?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::invalid(format!(
                "token from {realm}: unauthorized: incorrect username or password"
            )));
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(Error::internal)?
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("token from {realm}: {e}")))?;
        v["token"]
            .as_str()
            .or(v["access_token"].as_str())
            .map(String::from)
            .ok_or_else(|| Error::invalid(format!("no token from {realm}")))
    }

    /// A request with a body (uploads); the authorization is reused.
    async fn send(
        &mut self,
        method: hyper::Method,
        url: &str,
        content_type: Option<&str>,
        len: Option<u64>,
        body: ReqBody,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        };
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(l) = len {
            req = req.header("Content-Length", l.to_string());
        }
        self.client
            .request(req.body(body).map_err(Error::internal)?)
            .await
            .map_err(|e| {
                Error::invalid(format!(
                    "registry {}: {}",
                    self.base,
                    transport::describe(&e)
                ))
            })
    }

    async fn fetch_bytes(
        &mut self,
        path: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<(Bytes, Option<String>)> {
        let resp = self.get(path, accept).await?;
        let status = resp.status();
        let digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            .map(String::from);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::invalid(format!("{what}: {e}")))?
            .to_bytes();
        if status == StatusCode::NOT_FOUND {
            return Err(Error::not_found(format!("{what}: not found")));
        }
        if !status.is_success() {
            return Err(Error::invalid(format!(
                "{what}: {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )));
        }
        Ok((body, digest))
    }
}

fn verify(digest: &str, data: &[u8]) -> Result<()> {
    let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)));
    if got != digest {
        return Err(Error::invalid(format!(
            "digest mismatch: expected {digest}, got {got}"
        )));
    }
    Ok(())
}

fn session(endpoint: transport::Endpoint, repo: &str, credentials: Option<Credentials>) -> Session {
    Session {
        client: endpoint.client,
        base: endpoint.base,
        repo: repo.to_string(),
        credentials,
        authorization: None,
    }
}

async fn error_text(resp: hyper::Response<hyper::body::Incoming>) -> String {
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    format!("{status}: {}", String::from_utf8_lossy(&body).trim())
}

impl Engine {
    /// Push an image to its registry: blobs the registry lacks, then the manifest.
    pub async fn push_image(
        self: &Arc<Self>,
        reference: &str,
        credentials: Option<Credentials>,
        progress_tx: mpsc::Sender<Bytes>,
    ) -> Result<String> {
        let r = Reference::parse(reference).map_err(Error::invalid)?;
        let endpoint = self.registry_endpoint(&r).await?;
        let image = self.images.resolve(&r.to_string()).map_err(|_| {
            Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            ))
        })?;
        let super::image::archive::PushPlan {
            manifest,
            media_type,
            blobs,
        } = super::image::archive::push_plan(&self.images, &image)?;
        let mut s = session(endpoint, &r.repository, credentials);
        let _ = progress_tx
            .send(progress(
                &format!("The push refers to repository [{}]", r.full_name()),
                None,
            ))
            .await;
        for (digest, size) in blobs {
            let short = digest.trim_start_matches("sha256:")[..12].to_string();
            let head = s
                .send(
                    hyper::Method::HEAD,
                    &format!("/v2/{}/blobs/{digest}", r.repository),
                    None,
                    None,
                    empty(),
                )
                .await?;
            if head.status().is_success() {
                let _ = progress_tx
                    .send(progress("Layer already exists", Some(&short)))
                    .await;
                continue;
            }
            if head.status() == StatusCode::UNAUTHORIZED {
                let challenge = head
                    .headers()
                    .get("www-authenticate")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                s.authenticate(&challenge.replace(":pull\"", ":pull,push\""))
                    .await?;
            }
            let _ = progress_tx.send(progress("Preparing", Some(&short))).await;
            let start = s
                .send(
                    hyper::Method::POST,
                    &format!("/v2/{}/blobs/uploads/", r.repository),
                    None,
                    Some(0),
                    empty(),
                )
                .await?;
            if start.status() != StatusCode::ACCEPTED {
                return Err(Error::invalid(format!(
                    "starting the upload of {digest}: {}",
                    error_text(start).await
                )));
            }
            let location = start
                .headers()
                .get("location")
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| Error::invalid("the registry gave no upload location"))?
                .to_string();
            let location = if location.starts_with('/') {
                format!("{}{location}", s.base)
            } else {
                location
            };
            let sep = if location.contains('?') { '&' } else { '?' };
            let file = tokio::fs::File::open(self.images.blob_path(&digest))
                .await
                .map_err(|e| Error::internal(format!("blob {digest}: {e}")))?;
            let put = s
                .send(
                    hyper::Method::PUT,
                    &format!("{location}{sep}digest={digest}"),
                    Some("application/octet-stream"),
                    Some(size),
                    crate::api::client::reader_body(file),
                )
                .await?;
            if put.status() != StatusCode::CREATED {
                return Err(Error::invalid(format!(
                    "uploading {digest}: {}",
                    error_text(put).await
                )));
            }
            let _ = progress_tx.send(progress("Pushed", Some(&short))).await;
        }
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let len = manifest.len() as u64;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
        let put = s
            .send(
                hyper::Method::PUT,
                &format!("/v2/{}/manifests/{tag}", r.repository),
                Some(media_type),
                Some(len),
                crate::api::client::full(manifest),
            )
            .await?;
        if put.status() != StatusCode::CREATED {
            return Err(Error::invalid(format!(
                "uploading the manifest: {}",
                error_text(put).await
            )));
        }
        let _ = progress_tx
            .send(progress(
                &format!("{tag}: digest: {digest} size: {len}"),
                None,
            ))
            .await;
        Ok(digest)
    }

    /// `docker login`: check the credentials against the registry (`GET /v2/`, answering its
    /// challenge). `server` is a host[:port], a URL, or empty for Docker Hub.
    pub async fn registry_login(&self, credentials: Credentials) -> Result<()> {
        let registry = auth::login_registry(&credentials.server_address);
        let endpoint = self.registry_host_endpoint(&registry).await?;
        let mut s = session(endpoint, "", Some(credentials));
        let resp = s.get("/v2/", None).await?;
        if resp.status().is_success() {
            Ok(())
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

    /// Pull `reference`, sending Docker-style progress lines; returns the image.
    pub async fn pull_image(
        self: &Arc<Self>,
        reference: &str,
        credentials: Option<Credentials>,
        progress_tx: mpsc::Sender<Bytes>,
    ) -> Result<ImageRecord> {
        let r = Reference::parse(reference).map_err(Error::invalid)?;
        let endpoint = self.registry_endpoint(&r).await?;
        let mut s = session(endpoint, &r.repository, credentials);
        let tag = r
            .digest
            .clone()
            .or(r.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let _ = progress_tx
            .send(progress(
                &format!("Pulling from {}", r.repository),
                Some(&tag),
            ))
            .await;
        let what = format!("manifest for {}", r.familiar());
        let (mut body, mut digest) = s
            .fetch_bytes(
                &format!("/v2/{}/manifests/{tag}", r.repository),
                Some(ACCEPT),
                &what,
            )
            .await?;
        let mut manifest: Manifest =
            serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        if let Some(list) = &manifest.manifests {
            let pick = list
                .iter()
                .find(|d| {
                    d.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == go_arch())
                })
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "no matching manifest for linux/{} in the manifest list entries of {}",
                        go_arch(),
                        r.familiar()
                    ))
                })?;
            let path = format!("/v2/{}/manifests/{}", r.repository, pick.digest);
            let (b, _) = s.fetch_bytes(&path, Some(ACCEPT), &what).await?;
            verify(&pick.digest, &b)?;
            digest = Some(pick.digest.clone());
            body = b;
            manifest = serde_json::from_slice(&body)
                .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        }
        let manifest_digest = digest
            .unwrap_or_else(|| format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))));
        let config_desc = manifest.config.ok_or_else(|| {
            Error::invalid(format!(
                "{what}: no config (schema 1 manifests are not supported)"
            ))
        })?;
        let (config, _) = s
            .fetch_bytes(
                &format!("/v2/{}/blobs/{}", r.repository, config_desc.digest),
                None,
                "image config",
            )
            .await?;
        verify(&config_desc.digest, &config)?;
        let parsed: super::image::config::ImageConfig = serde_json::from_slice(&config)
            .map_err(|e| Error::invalid(format!("image config: {e}")))?;
        let layers = manifest.layers.unwrap_or_default();
        if layers.len() != parsed.rootfs.diff_ids.len() {
            return Err(Error::invalid(format!(
                "{what}: {} layers but the config names {}",
                layers.len(),
                parsed.rootfs.diff_ids.len()
            )));
        }
        // Layers in parallel; the ones already in the store are not downloaded again.
        let mut tasks = Vec::new();
        for (desc, diff_id) in layers
            .into_iter()
            .zip(parsed.rootfs.diff_ids.iter().cloned())
        {
            let short = desc.digest.trim_start_matches("sha256:")[..12].to_string();
            if let Ok(existing) = self.images.layer(&diff_id) {
                let _ = progress_tx
                    .send(progress("Already exists", Some(&short)))
                    .await;
                tasks.push(tokio::spawn(
                    async move { Ok::<LayerRecord, Error>(existing) },
                ));
                continue;
            }
            let engine = self.clone();
            let tx = progress_tx.clone();
            let path = format!("/v2/{}/blobs/{}", r.repository, desc.digest);
            let mut session = s.clone();
            tasks.push(tokio::spawn(async move {
                let _ = tx.send(progress("Pulling fs layer", Some(&short))).await;
                let resp = session.get(&path, None).await?;
                if !resp.status().is_success() {
                    return Err(Error::invalid(format!(
                        "layer {}: {}",
                        desc.digest,
                        resp.status()
                    )));
                }
                let tmp = engine
                    .paths
                    .tmp()
                    .join(format!("pull-{}", &crate::util::ids::random_id()[..16]));
                let mut file = std::fs::File::create(&tmp)
                    .map_err(|e| Error::internal(format!("{}: {e}", tmp.display())))?;
                let mut hasher = sha2::Sha256::new();
                let mut body = resp.into_body();
                while let Some(frame) = body.frame().await {
                    let frame =
                        frame.map_err(|e| Error::invalid(format!("layer {}: {e}", desc.digest)))?;
                    if let Ok(data) = frame.into_data() {
                        hasher.update(&data);
                        file.write_all(&data)
                            .map_err(|e| Error::internal(e.to_string()))?;
                    }
                }
                drop(file);
                let got = format!("sha256:{}", hex::encode(hasher.finalize()));
                if got != desc.digest {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(Error::invalid(format!(
                        "layer {}: digest mismatch (got {got})",
                        desc.digest
                    )));
                }
                let _ = tx.send(progress("Download complete", Some(&short))).await;
                let store_engine = engine.clone();
                let tmp2 = tmp.clone();
                let rec = tokio::task::spawn_blocking(move || {
                    let f =
                        std::fs::File::open(&tmp2).map_err(|e| Error::internal(e.to_string()))?;
                    store_engine.images.add_layer(f)
                })
                .await
                .map_err(Error::internal)?;
                let _ = std::fs::remove_file(&tmp);
                let rec = rec?;
                if rec.diff_id != diff_id {
                    return Err(Error::invalid(format!(
                        "layer {} unpacks to {} but the config expects {diff_id}",
                        desc.digest, rec.diff_id
                    )));
                }
                let _ = tx.send(progress("Pull complete", Some(&short))).await;
                Ok(rec)
            }));
        }
        let mut records = Vec::new();
        for t in tasks {
            records.push(t.await.map_err(Error::internal)??);
        }
        let config_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&config)));
        let had_it = self.images.get(&config_id).is_ok()
            && self
                .images
                .tags_of(&config_id)
                .unwrap_or_default()
                .contains(&r.to_string());
        let mut image = self
            .images
            .register(&config, &records, std::slice::from_ref(&r), None)?;
        let repo_digest = format!("{}@{manifest_digest}", r.familiar_name());
        if !image.repo_digests.contains(&repo_digest) {
            image.repo_digests.push(repo_digest);
            self.images.update_record(&image)?;
        }
        let _ = progress_tx
            .send(progress(&format!("Digest: {manifest_digest}"), None))
            .await;
        let status = if had_it {
            "Image is up to date for"
        } else {
            "Downloaded newer image for"
        };
        let _ = progress_tx
            .send(progress(
                &format!("Status: {status} {}", r.familiar()),
                None,
            ))
            .await;
        Ok(image)
    }
}
