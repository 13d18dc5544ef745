//! One blob's upload, the ways dockerd does it: a cross-repository mount when the blob is
//! known to be in another repository of the same registry (`POST …/blobs/uploads/?mount=
//! <digest>&from=<repo>`, `201` when the registry took it; a registry that would rather
//! have the bytes answers `202` with an upload location instead), else the bytes streamed from
//! the store's file: in one `PUT` for a small blob, in [`CHUNK`]-sized `PATCH`es then an empty
//! `PUT` for a large one, so a broken connection costs one chunk and no request is longer
//! than that. The bytes are counted on their way out (`Pushing` lines with their
//! `progressDetail`, at most every 100 ms, dropped rather than waited for).

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, ReadBuf};
use tokio::sync::mpsc;

use super::session::{error_text, Session};
use crate::engine::error::{Error, Result};
use crate::engine::image::reference::Reference;
use crate::engine::image::ImageStore;
use crate::util::body::{empty, reader_body};

/// Blobs larger than this go in chunks of this size.
pub(super) const CHUNK: u64 = 16 * 1024 * 1024;

/// Where a blob's `Pushing` lines go: the layer's short id and the push's progress stream.
#[derive(Clone)]
pub(super) struct Progress {
    pub short: String,
    pub tx: mpsc::Sender<Bytes>,
}

/// A file's bytes on their way out, counted into `Pushing` lines.
struct Counting<R> {
    inner: R,
    done: u64,
    total: u64,
    progress: Progress,
    last: Instant,
}

impl<R> Counting<R> {
    fn new(inner: R, from: u64, total: u64, progress: Progress) -> Self {
        Counting {
            inner,
            done: from,
            total,
            progress,
            last: Instant::now(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            self.done += (buf.filled().len() - before) as u64;
            let now = Instant::now();
            if now.duration_since(self.last) >= Duration::from_millis(100)
                || self.done == self.total
            {
                self.last = now;
                let line = super::progress_bytes(
                    "Pushing",
                    &self.progress.short,
                    self.done,
                    Some(self.total),
                );
                let _ = self.progress.tx.try_send(line);
            }
        }
        polled
    }
}

/// How a blob got to the registry.
pub(super) enum Uploaded {
    /// Mounted from that repository: nothing sent.
    Mounted(String),
    Pushed,
}

/// For each blob known to be in another repository of `r`'s registry, that repository: the
/// blobs (config and layers) of every local image with a repo digest there.
pub(super) fn mount_sources(images: &ImageStore, r: &Reference) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for image in images.list().unwrap_or_default() {
        let Some(from) = image.repo_digests.iter().find_map(|d| {
            let known = Reference::parse(d).ok()?;
            (known.registry == r.registry && known.repository != r.repository)
                .then_some(known.repository)
        }) else {
            continue;
        };
        out.entry(image.id.clone()).or_insert_with(|| from.clone());
        for diff_id in &image.layers {
            if let Ok(layer) = images.layer(diff_id) {
                out.entry(layer.blob_digest).or_insert_with(|| from.clone());
            }
        }
    }
    out
}

/// Upload `digest` (`size` bytes at `path`), by mount from `from` when given.
pub(super) async fn blob(
    s: &mut Session,
    r: &Reference,
    digest: &str,
    size: u64,
    path: &std::path::Path,
    from: Option<&str>,
    progress: &Progress,
) -> Result<Uploaded> {
    let mut start = format!("/v2/{}/blobs/uploads/", r.repository);
    if let Some(from) = from {
        start = format!("{start}?mount={digest}&from={from}");
    }
    let resp = s
        .send(hyper::Method::POST, &start, None, Some(0), empty())
        .await?;
    match (resp.status(), from) {
        (StatusCode::CREATED, Some(from)) => return Ok(Uploaded::Mounted(from.to_string())),
        (StatusCode::ACCEPTED, _) => {}
        _ => {
            return Err(Error::invalid(format!(
                "starting the upload of {digest}: {}",
                error_text(resp).await
            )))
        }
    }
    let mut location = location(s, &resp)?;
    if size > CHUNK {
        location = chunks(s, digest, size, path, location, progress).await?;
        put(s, digest, &location, 0, empty()).await?;
    } else {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::internal(format!("blob {digest}: {e}")))?;
        let body = reader_body(Counting::new(file, 0, size, progress.clone()));
        put(s, digest, &location, size, body).await?;
    }
    Ok(Uploaded::Pushed)
}

/// The blob in `PATCH`es of [`CHUNK`] bytes, each streamed from its offset in the file; the
/// location the last one gave.
async fn chunks(
    s: &mut Session,
    digest: &str,
    size: u64,
    path: &std::path::Path,
    mut location: String,
    progress: &Progress,
) -> Result<String> {
    let mut offset = 0u64;
    while offset < size {
        let len = CHUNK.min(size - offset);
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::internal(format!("blob {digest}: {e}")))?;
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| Error::internal(format!("blob {digest}: {e}")))?;
        let resp = s
            .send_with(
                hyper::Method::PATCH,
                &location,
                Some("application/octet-stream"),
                Some(len),
                &[(
                    "Content-Range",
                    format!("{offset}-{}", offset + len - 1).as_str(),
                )],
                reader_body(Counting::new(
                    file.take(len),
                    offset,
                    size,
                    progress.clone(),
                )),
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(Error::invalid(format!(
                "uploading {digest} (bytes {offset}-{}): {}",
                offset + len - 1,
                error_text(resp).await
            )));
        }
        location = self::location(s, &resp)?;
        offset += len;
    }
    Ok(location)
}

/// The `PUT` that ends an upload (with the bytes, or none after the chunks).
async fn put(
    s: &mut Session,
    digest: &str,
    location: &str,
    len: u64,
    body: crate::util::body::ReqBody,
) -> Result<()> {
    let sep = if location.contains('?') { '&' } else { '?' };
    let resp = s
        .send(
            hyper::Method::PUT,
            &format!("{location}{sep}digest={digest}"),
            Some("application/octet-stream"),
            Some(len),
            body,
        )
        .await?;
    if resp.status() != StatusCode::CREATED {
        return Err(Error::invalid(format!(
            "uploading {digest}: {}",
            error_text(resp).await
        )));
    }
    Ok(())
}

/// The absolute upload URL a registry's answer gives.
fn location<B>(s: &Session, resp: &hyper::Response<B>) -> Result<String> {
    let location = resp
        .headers()
        .get("location")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| Error::invalid("the registry gave no upload location"))?;
    Ok(if location.starts_with('/') {
        format!("{}{location}", s.base)
    } else {
        location.to_string()
    })
}
