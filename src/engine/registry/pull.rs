//! `docker pull`: the manifest (an index resolved to this platform) from the first source that
//! has it (for docker.io images the `registry-mirrors`, then Docker Hub), the image config,
//! then the layers in parallel (see [`super::download`]: at most `max-concurrent-downloads` at
//! once over the daemon, each verified, unpacked once into the layer store and kept there even
//! when the pull fails, skipped when the store has it), and the image registered with its repo
//! digest under its own name (a mirror's name is never recorded), with Docker's progress lines.
//! A progress receiver that goes away (the client hung up) stops the downloads and the
//! unpacking, and nothing is registered.

use std::sync::Arc;

use bytes::Bytes;
use sha2::Digest;
use tokio::sync::mpsc;

use super::download::LayerPull;
use super::session::{session, short_digest, verify, Session};
use super::{go_arch, progress, Credentials, Descriptor, Manifest, ACCEPT};
use crate::engine::error::{Error, Result};
use crate::engine::image::cancel::{Cancel, CANCELLED};
use crate::engine::image::config::ImageConfig;
use crate::engine::image::ingest::Ingest;
use crate::engine::image::layer::LayerRecord;
use crate::engine::image::reference::Reference;
use crate::engine::image::ImageRecord;
use crate::engine::Engine;

impl Engine {
    /// Pull `reference`, sending Docker-style progress lines; returns the image.
    pub async fn pull_image(
        self: &Arc<Self>,
        reference: &str,
        credentials: Option<Credentials>,
        progress_tx: mpsc::Sender<Bytes>,
    ) -> Result<ImageRecord> {
        let r = Reference::parse(reference).map_err(Error::invalid)?;
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
        let (mut s, manifest, manifest_digest) =
            self.first_manifest(&r, &tag, &what, credentials).await?;
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
        let parsed: ImageConfig = serde_json::from_slice(&config)
            .map_err(|e| Error::invalid(format!("image config: {e}")))?;
        let layers = manifest.layers.unwrap_or_default();
        if layers.len() != parsed.rootfs.diff_ids.len() {
            return Err(Error::invalid(format!(
                "{what}: {} layers but the config names {}",
                layers.len(),
                parsed.rootfs.diff_ids.len()
            )));
        }
        let layers: Vec<(Descriptor, String)> = layers
            .into_iter()
            .zip(parsed.rootfs.diff_ids.iter().cloned())
            .collect();
        let cancel = Cancel::new();
        let _watch = cancel.when_closed(&progress_tx);
        // Until registered, the layers (new or already present) are safe from collection.
        let ingest = self.images.ingest();
        let records = self
            .pull_layers(&s, &r, layers, &progress_tx, &cancel, &ingest)
            .await?;
        if cancel.is_cancelled() {
            return Err(Error::conflict(CANCELLED));
        }
        self.register_pulled(&r, &config, &records, &manifest_digest, &progress_tx)
            .await
    }

    /// The manifest from the first of [`pull_endpoints`](Engine::pull_endpoints) that gives
    /// it, with the session that got it. A source that fails for whatever reason (down, not
    /// having the image, refusing) gives way to the next, as with dockerd's mirrors; the last
    /// one's error is the pull's.
    async fn first_manifest(
        &self,
        r: &Reference,
        tag: &str,
        what: &str,
        credentials: Option<Credentials>,
    ) -> Result<(Session, Manifest, String)> {
        let endpoints = self.pull_endpoints(r).await?;
        let last = endpoints.len().saturating_sub(1);
        for (i, endpoint) in endpoints.into_iter().enumerate() {
            let base = endpoint.base.clone();
            let mut s = session(endpoint, &r.repository, credentials.clone());
            match platform_manifest(&mut s, r, tag, what).await {
                Ok((m, digest)) => return Ok((s, m, digest)),
                Err(e) if i < last => {
                    tracing::info!("pull {}: mirror {base}: {e}; trying the next", r.familiar());
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::internal(format!(
            "no source to pull {} from",
            r.familiar()
        )))
    }

    /// The layers in parallel; the ones already in the store are not downloaded again.
    async fn pull_layers(
        self: &Arc<Self>,
        s: &Session,
        r: &Reference,
        layers: Vec<(Descriptor, String)>,
        progress_tx: &mpsc::Sender<Bytes>,
        cancel: &Cancel,
        ingest: &Ingest,
    ) -> Result<Vec<LayerRecord>> {
        let mut tasks = Vec::new();
        for (desc, diff_id) in layers {
            let short = short_digest(&desc.digest);
            if let Ok(existing) = self.images.layer(&diff_id) {
                let _ = progress_tx
                    .send(progress("Already exists", Some(&short)))
                    .await;
                tasks.push(tokio::spawn(
                    async move { Ok::<LayerRecord, Error>(existing) },
                ));
                continue;
            }
            let layer = LayerPull {
                engine: self.clone(),
                session: s.clone(),
                path: format!("/v2/{}/blobs/{}", r.repository, desc.digest),
                digest: desc.digest,
                diff_id,
                short,
                tx: progress_tx.clone(),
                cancel: cancel.clone(),
                ingest: ingest.clone(),
            };
            tasks.push(tokio::spawn(layer.run()));
        }
        let mut records = Vec::new();
        for t in tasks {
            records.push(t.await.map_err(Error::internal)??);
        }
        Ok(records)
    }

    /// Register the pulled image (tag, repo digest) and say whether it was new.
    async fn register_pulled(
        &self,
        r: &Reference,
        config: &[u8],
        records: &[LayerRecord],
        manifest_digest: &str,
        progress_tx: &mpsc::Sender<Bytes>,
    ) -> Result<ImageRecord> {
        let config_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(config)));
        let repo_digest = format!("{}@{manifest_digest}", r.familiar_name());
        // A pull by digest tags nothing (as dockerd): the image is known by its repo digest.
        let tags: &[Reference] = if r.digest.is_none() {
            std::slice::from_ref(r)
        } else {
            &[]
        };
        let had_it = self.images.get(&config_id).is_ok_and(|i| {
            i.repo_digests.contains(&repo_digest)
                && tags.iter().all(|t| {
                    self.images
                        .tags_of(&config_id)
                        .unwrap_or_default()
                        .contains(&t.to_string())
                })
        });
        let image = self.images.register(config, records, tags, None)?;
        let image = self.images.add_repo_digest(&image.id, &repo_digest)?;
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

/// The manifest of `tag`, an index resolved to linux on this architecture; with its digest.
async fn platform_manifest(
    s: &mut Session,
    r: &Reference,
    tag: &str,
    what: &str,
) -> Result<(Manifest, String)> {
    let (mut body, mut digest) = s
        .fetch_bytes(
            &format!("/v2/{}/manifests/{tag}", r.repository),
            Some(ACCEPT),
            what,
        )
        .await?;
    if tag.starts_with("sha256:") {
        verify(tag, &body).map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        digest = Some(tag.to_string());
    }
    let parse = |b: &[u8]| -> Result<Manifest> {
        serde_json::from_slice(b).map_err(|e| Error::invalid(format!("{what}: {e}")))
    };
    let mut manifest = parse(&body)?;
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
        let (b, _) = s.fetch_bytes(&path, Some(ACCEPT), what).await?;
        verify(&pick.digest, &b)?;
        digest = Some(pick.digest.clone());
        body = b;
        manifest = parse(&body)?;
    }
    let digest =
        digest.unwrap_or_else(|| format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))));
    Ok((manifest, digest))
}
