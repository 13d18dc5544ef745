//! `docker push`: the image's blobs that the registry lacks uploaded in parallel (at most
//! `max-concurrent-uploads` at once over the daemon; each a HEAD to ask, then a mount from
//! another repository or the bytes, see [`super::upload`]), then its manifest under the tag,
//! with Docker's progress lines. The first blob's HEAD answers the registry's challenge for push access, so that the
//! parallel uploads share one token.

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;
use sha2::Digest;
use tokio::sync::mpsc;

use super::session::{challenge, error_text, session, short_digest, Session};
use super::{progress, upload, Credentials};
use crate::engine::error::{Error, Result};
use crate::engine::image::archive::{push_plan, PushPlan};
use crate::engine::image::reference::Reference;
use crate::engine::Engine;
use crate::util::body::empty;

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
        let PushPlan {
            manifest,
            media_type,
            blobs,
        } = push_plan(&self.images, &image)?;
        let mut s = session(endpoint, &r.repository, credentials);
        let _ = progress_tx
            .send(progress(
                &format!("The push refers to repository [{}]", r.full_name()),
                None,
            ))
            .await;
        if let Some((digest, _)) = blobs.first() {
            push_access(&mut s, &r, digest).await?;
        }
        let sources = upload::mount_sources(&self.images, &r);
        let mut tasks = Vec::new();
        for (digest, size) in blobs {
            let (engine, mut s, r, tx) = (self.clone(), s.clone(), r.clone(), progress_tx.clone());
            let limit = self.registry.uploads.clone();
            let from = sources.get(&digest).cloned();
            let short = short_digest(&digest);
            let _ = progress_tx.send(progress("Preparing", Some(&short))).await;
            tasks.push(tokio::spawn(async move {
                let _permit = match limit.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        let _ = tx.send(progress("Waiting", Some(&short))).await;
                        limit.acquire_owned().await.map_err(Error::internal)?
                    }
                };
                engine
                    .push_blob(&mut s, &r, &digest, size, from.as_deref(), &tx)
                    .await
            }));
        }
        let mut first_error = None;
        for t in tasks {
            if let Err(e) = t.await.map_err(Error::internal).and_then(|r| r) {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let digest = push_manifest(&mut s, &r, manifest, media_type, &progress_tx).await?;
        // Known by that digest in the registry from now on, as dockerd records it.
        self.images
            .add_repo_digest(&image.id, &format!("{}@{digest}", r.familiar_name()))?;
        Ok(digest)
    }

    /// One blob, unless the registry has it already.
    async fn push_blob(
        &self,
        s: &mut Session,
        r: &Reference,
        digest: &str,
        size: u64,
        from: Option<&str>,
        progress_tx: &mpsc::Sender<Bytes>,
    ) -> Result<()> {
        let short = short_digest(digest);
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
            return Ok(());
        }
        if head.status() == StatusCode::UNAUTHORIZED {
            let asked = challenge(&head).replace(":pull\"", ":pull,push\"");
            s.authenticate(&asked).await?;
        }
        let path = self.images.blob_path(digest);
        let counts = upload::Progress {
            short: short.clone(),
            tx: progress_tx.clone(),
        };
        let status = match upload::blob(s, r, digest, size, &path, from, &counts).await? {
            upload::Uploaded::Mounted(from) => format!("Mounted from {from}"),
            upload::Uploaded::Pushed => "Pushed".to_string(),
        };
        let _ = progress_tx.send(progress(&status, Some(&short))).await;
        Ok(())
    }
}

/// Answer the registry's challenge for pull and push access to the repository, on a HEAD of
/// `digest` (a registry that wants no authentication answers it at once).
async fn push_access(s: &mut Session, r: &Reference, digest: &str) -> Result<()> {
    let head = s
        .send(
            hyper::Method::HEAD,
            &format!("/v2/{}/blobs/{digest}", r.repository),
            None,
            None,
            empty(),
        )
        .await?;
    if head.status() == StatusCode::UNAUTHORIZED {
        let asked = challenge(&head).replace(":pull\"", ":pull,push\"");
        s.authenticate(&asked).await?;
    }
    Ok(())
}

/// The manifest under the tag (`latest` when none); returns its digest.
async fn push_manifest(
    s: &mut Session,
    r: &Reference,
    manifest: Vec<u8>,
    media_type: &str,
    progress_tx: &mpsc::Sender<Bytes>,
) -> Result<String> {
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    let len = manifest.len() as u64;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
    let put = s
        .send(
            hyper::Method::PUT,
            &format!("/v2/{}/manifests/{tag}", r.repository),
            Some(media_type),
            Some(len),
            crate::util::body::full(manifest),
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
