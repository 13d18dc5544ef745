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
use super::manifest::platform_manifest;
use super::session::{session, short_digest, verify, Session};
use super::{progress, Credentials, Descriptor, Manifest};
use crate::docker::platform::Platform;
use crate::engine::error::{Error, Result};
use crate::engine::image::cancel::{Cancel, CANCELLED};
use crate::engine::image::config::ImageConfig;
use crate::engine::image::ingest::Ingest;
use crate::engine::image::layer::LayerRecord;
use crate::engine::image::reference::Reference;
use crate::engine::image::ImageRecord;
use crate::engine::Engine;

impl Engine {
    /// Pull `reference` for `platform` (this host's when None), sending Docker-style progress
    /// lines; returns the image.
    pub async fn pull_image(
        self: &Arc<Self>,
        reference: &str,
        platform: Option<&Platform>,
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
        let (mut s, manifest, manifest_digest) = self
            .first_manifest(&r, &tag, &what, platform, credentials)
            .await?;
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
        if let Some(wanted) = platform {
            super::manifest::check_config_platform(wanted, &r, &parsed)?;
        }
        let layers = manifest.layers.unwrap_or_default();
        for l in &layers {
            super::manifest::check_layer_type(&what, l)?;
        }
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
        platform: Option<&Platform>,
        credentials: Option<Credentials>,
    ) -> Result<(Session, Manifest, String)> {
        let host = Platform::host();
        let wanted = platform.unwrap_or(&host);
        let endpoints = self.pull_endpoints(r).await?;
        let last = endpoints.len().saturating_sub(1);
        for (i, endpoint) in endpoints.into_iter().enumerate() {
            let base = endpoint.base.clone();
            let mut s = session(endpoint, &r.repository, credentials.clone());
            match platform_manifest(&mut s, r, tag, what, wanted).await {
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
                size: desc.size,
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
