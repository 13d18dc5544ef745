//! One layer of a pull, a task of its own: its blob downloaded (at most
//! `max-concurrent-downloads` at once over the daemon) into a temporary file, hashed on the
//! way; a connection that breaks mid-blob is resumed where it stopped with a `Range` request
//! when the registry allows it (`206`), else the blob starts over; the whole digest is checked
//! at the end either way. Then the blob is unpacked into the layer store and recorded there at
//! once ([`ImageStore::keep_pulled_layer`]), so that a pull stopped later (the client gone, a
//! layer failing) leaves it for the next pull to find instead of fetching it again.
//!
//! The progress lines are dockerd's, in its order: `Pulling fs layer`, `Waiting` (while over
//! the download limit), `Downloading` with bytes so far, `Verifying Checksum`, `Download
//! complete`, `Extracting` with bytes of the blob unpacked so far, `Pull complete`. Byte counts
//! go out at most every [`TICK`], and are dropped rather than waited for when the client reads
//! slowly: a transfer never waits on its progress.
//!
//! [`ImageStore::keep_pulled_layer`]: crate::engine::image::ImageStore::keep_pulled_layer

use std::io::{Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use sha2::Digest;
use tokio::sync::mpsc;

use super::session::Session;
use super::{progress, progress_bytes, retry};
use crate::engine::error::{Error, Result};
use crate::engine::image::cancel::{Cancel, CANCELLED};
use crate::engine::image::ingest::Ingest;
use crate::engine::image::layer::LayerRecord;
use crate::engine::Engine;

/// How often a download waiting for bytes looks whether its pull was cancelled.
const CANCEL_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// How often a transfer reports its bytes.
const TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether a byte count is due again.
struct Ticker(std::time::Instant);

impl Ticker {
    fn new() -> Self {
        Ticker(std::time::Instant::now())
    }
    fn due(&mut self) -> bool {
        let now = std::time::Instant::now();
        if now.duration_since(self.0) < TICK {
            return false;
        }
        self.0 = now;
        true
    }
}

/// Reads a blob for unpacking, reporting `Extracting` with the bytes read so far.
struct Extracting<R> {
    inner: R,
    done: u64,
    total: u64,
    short: String,
    tx: mpsc::Sender<Bytes>,
    ticker: Ticker,
}

impl<R: std::io::Read> std::io::Read for Extracting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.ticker.due() {
            let line = progress_bytes("Extracting", &self.short, self.done, Some(self.total));
            let _ = self.tx.try_send(line);
        }
        Ok(n)
    }
}

/// One layer to download and unpack.
pub(super) struct LayerPull {
    pub engine: Arc<Engine>,
    pub session: Session,
    pub path: String,
    pub digest: String,
    pub diff_id: String,
    pub short: String,
    /// The size the manifest gives, for the byte counts' totals.
    pub size: Option<u64>,
    pub tx: mpsc::Sender<Bytes>,
    pub cancel: Cancel,
    /// The pull's: until the image is registered, its layers are safe from collection.
    pub ingest: Ingest,
}

/// Why a blob's body stopped.
enum Stopped {
    Cancelled,
    /// The connection broke (worth resuming).
    Broken(String),
    /// Writing the temporary file failed.
    Local(Error),
}

impl LayerPull {
    pub async fn run(mut self) -> Result<LayerRecord> {
        let _ = self
            .tx
            .send(progress("Pulling fs layer", Some(&self.short)))
            .await;
        let limit = self.engine.registry.downloads.clone();
        let permit = match limit.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let _ = self.tx.send(progress("Waiting", Some(&self.short))).await;
                limit.acquire_owned().await.map_err(Error::internal)?
            }
        };
        let tmp = self.tmp_path();
        let downloaded = self.download(&tmp).await;
        drop(permit);
        if let Err(e) = downloaded {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let _ = self
            .tx
            .send(progress("Download complete", Some(&self.short)))
            .await;
        let ingest = self.ingest.clone();
        let tmp2 = tmp.clone();
        let cancel = self.cancel.clone();
        let (short, tx) = (self.short.clone(), self.tx.clone());
        let rec = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&tmp2).map_err(|e| Error::internal(e.to_string()))?;
            let total = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = tx.blocking_send(progress_bytes("Extracting", &short, 0, Some(total)));
            let reader = Extracting {
                inner: f,
                done: 0,
                total,
                short,
                tx,
                ticker: Ticker::new(),
            };
            ingest.add_layer_until(reader, &cancel)
        })
        .await
        .map_err(Error::internal)?;
        let _ = std::fs::remove_file(&tmp);
        let rec = rec?;
        if rec.diff_id != self.diff_id {
            return Err(Error::invalid(format!(
                "layer {} unpacks to {} but the config expects {}",
                self.digest, rec.diff_id, self.diff_id
            )));
        }
        self.engine.images.keep_pulled_layer(&rec)?;
        let _ = self
            .tx
            .send(progress("Pull complete", Some(&self.short)))
            .await;
        Ok(rec)
    }

    fn tmp_path(&self) -> PathBuf {
        self.engine
            .paths
            .tmp()
            .join(format!("pull-{}", &crate::util::ids::random_id()[..16]))
    }

    /// The blob into `tmp`, resumed after a broken connection (up to [`retry::ATTEMPTS`]
    /// breaks), its digest checked.
    async fn download(&mut self, tmp: &std::path::Path) -> Result<()> {
        let mut file = std::fs::File::create(tmp)
            .map_err(|e| Error::internal(format!("{}: {e}", tmp.display())))?;
        let mut hasher = sha2::Sha256::new();
        let mut have = 0u64;
        let mut breaks = 0;
        loop {
            let resp = self
                .session
                .get_range(&self.path, None, (have > 0).then_some(have))
                .await?;
            let status = resp.status();
            if have > 0 && status == StatusCode::PARTIAL_CONTENT && starts_at(&resp, have) {
                tracing::info!("layer {}: resumed at byte {have}", self.digest);
            } else if status.is_success() {
                if have > 0 {
                    // The registry sent the whole blob again: start over.
                    tracing::info!("layer {}: no range support, from the start", self.digest);
                    file.set_len(0)
                        .and_then(|_| file.rewind())
                        .map_err(|e| Error::internal(format!("{}: {e}", tmp.display())))?;
                    hasher = sha2::Sha256::new();
                    have = 0;
                }
            } else {
                return Err(Error::invalid(format!("layer {}: {status}", self.digest)));
            }
            match self
                .body_into(resp.into_body(), &mut file, &mut hasher, &mut have)
                .await
            {
                Ok(()) => break,
                Err(Stopped::Cancelled) => return Err(Error::conflict(CANCELLED)),
                Err(Stopped::Local(e)) => return Err(e),
                Err(Stopped::Broken(e)) if breaks + 1 < retry::ATTEMPTS => {
                    let wait = retry::delay(breaks, None);
                    tracing::info!(
                        "layer {}: {e} after {have} bytes; resuming in {wait:?}",
                        self.digest
                    );
                    tokio::time::sleep(wait).await;
                    breaks += 1;
                }
                Err(Stopped::Broken(e)) => {
                    return Err(Error::invalid(format!("layer {}: {e}", self.digest)))
                }
            }
        }
        // The last count (a small blob may have had no tick).
        let _ = self
            .tx
            .send(progress_bytes("Downloading", &self.short, have, self.size))
            .await;
        let _ = self
            .tx
            .send(progress("Verifying Checksum", Some(&self.short)))
            .await;
        let got = format!("sha256:{}", hex::encode(hasher.finalize()));
        if got != self.digest {
            return Err(Error::invalid(format!(
                "layer {}: digest mismatch (got {got})",
                self.digest
            )));
        }
        Ok(())
    }

    /// Append a body to the file, hashing it and counting its bytes. The cancel flag is
    /// looked at between frames and while none comes (a stalled registry does not hold a
    /// cancelled pull).
    async fn body_into(
        &self,
        mut body: hyper::body::Incoming,
        file: &mut std::fs::File,
        hasher: &mut sha2::Sha256,
        have: &mut u64,
    ) -> std::result::Result<(), Stopped> {
        let mut ticker = Ticker::new();
        loop {
            let next = tokio::time::timeout(CANCEL_CHECK, body.frame()).await;
            if self.cancel.is_cancelled() {
                return Err(Stopped::Cancelled);
            }
            let frame = match next {
                Err(_) => continue,
                Ok(None) => break,
                Ok(Some(frame)) => frame,
            };
            let frame = frame.map_err(|e| Stopped::Broken(super::describe(&e)))?;
            if let Ok(data) = frame.into_data() {
                hasher.update(&data);
                file.write_all(&data)
                    .map_err(|e| Stopped::Local(Error::internal(e.to_string())))?;
                *have += data.len() as u64;
                if ticker.due() {
                    let line = progress_bytes("Downloading", &self.short, *have, self.size);
                    let _ = self.tx.try_send(line);
                }
            }
        }
        Ok(())
    }
}

/// Whether a `206`'s `Content-Range` (`bytes N-M/T`) starts at byte `at`.
fn starts_at<B>(resp: &hyper::Response<B>, at: u64) -> bool {
    resp.headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        == Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_start() {
        let r = |v: &str| {
            hyper::Response::builder()
                .header("content-range", v)
                .body(())
                .unwrap()
        };
        assert!(starts_at(&r("bytes 100-199/200"), 100));
        assert!(!starts_at(&r("bytes 0-199/200"), 100));
        assert!(!starts_at(&r("items 100-199/200"), 100));
        assert!(!starts_at(&hyper::Response::new(()), 100));
    }
}
