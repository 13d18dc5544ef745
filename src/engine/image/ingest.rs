//! Adding layers to the store, safe from garbage collection until they are registered.
//!
//! A load, pull, import, commit or build unpacks layers first and registers the image that
//! holds them afterwards; in between, no image refers to them. Garbage collection (after an
//! `rmi`, a failed load, a builder prune) used to delete such layers, and even the temporary
//! directories still being unpacked. Now every layer is added through an [`Ingest`]: while
//! one is alive, collection is deferred, and the last one to end runs it.

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::cancel::{Cancel, CANCELLED};
use super::layer::{self, LayerRecord};
use super::ImageStore;
use crate::engine::error::{Error, IoContext, Result};
use crate::util::fsutil::remove_dir_all_quiet;
use crate::util::ids::random_id;

/// How many ingests run, and whether a collection waits for them to end.
#[derive(Debug, Default)]
pub struct IngestState {
    active: usize,
    collect_pending: bool,
}

/// Shared by the store and its ingests.
pub type IngestLock = Arc<Mutex<IngestState>>;

/// One operation adding layers (cheap to clone: the layer tasks of a pull share one). While
/// any clone lives, garbage collection leaves the store alone.
#[derive(Clone)]
pub struct Ingest(Arc<Active>);

struct Active {
    store: ImageStore,
}

impl ImageStore {
    /// Begin adding layers; they are safe from collection until the returned guard ends.
    pub fn ingest(&self) -> Ingest {
        self.ingests()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .active += 1;
        Ingest(Arc::new(Active {
            store: self.clone(),
        }))
    }

    /// Collect garbage now, or once the running ingests end.
    pub fn collect_garbage(&self) -> Result<()> {
        let mut state = self.ingests().lock().unwrap_or_else(|p| p.into_inner());
        if state.active > 0 {
            state.collect_pending = true;
            return Ok(());
        }
        // Held while sweeping: no ingest starts in the middle of it.
        self.sweep()
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut state = self
            .store
            .ingests()
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        state.active -= 1;
        if state.active == 0 && std::mem::take(&mut state.collect_pending) {
            if let Err(e) = self.store.sweep() {
                tracing::warn!("collecting unused layers: {e}");
            }
        }
    }
}

impl Ingest {
    /// Unpack a layer stream into the layer directory named by its diff id, keeping its
    /// blob. A layer that is already present is not unpacked twice: the new copy is dropped.
    pub fn add_layer<R: Read>(&self, raw: R) -> Result<LayerRecord> {
        self.store_layer(raw, &Cancel::new(), &layer::Donors::new())
    }

    /// [`Self::add_layer`], hard-linking regular files from `donors` where they are exactly
    /// the entries (a build's COPY of context files).
    pub fn add_layer_with<R: Read>(&self, raw: R, donors: &layer::Donors) -> Result<LayerRecord> {
        self.store_layer(raw, &Cancel::new(), donors)
    }

    /// [`Self::add_layer`], stopped (its temporary copies removed) once `cancel` is set.
    pub fn add_layer_until<R: Read>(&self, raw: R, cancel: &Cancel) -> Result<LayerRecord> {
        self.store_layer(raw, cancel, &layer::Donors::new())
    }

    fn store_layer<R: Read>(
        &self,
        raw: R,
        cancel: &Cancel,
        donors: &layer::Donors,
    ) -> Result<LayerRecord> {
        let paths = self.0.store.paths();
        let tmp_name = format!(".tmp-{}", &random_id()[..16]);
        let tmp_dir = paths.layers().join(&tmp_name);
        std::fs::create_dir_all(&tmp_dir).ctx(|| format!("creating {}", tmp_dir.display()))?;
        let tmp_blob = paths.blobs().join(&tmp_name);
        let blob_file =
            std::fs::File::create(&tmp_blob).ctx(|| format!("creating {}", tmp_blob.display()))?;
        let result = layer::unpack_layer_with(cancel.wrap(raw), &tmp_dir, Some(blob_file), donors);
        let rec = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = remove_dir_all_quiet(&tmp_dir);
                let _ = std::fs::remove_file(&tmp_blob);
                if cancel.is_cancelled() {
                    return Err(Error::conflict(CANCELLED));
                }
                let mut msg = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg.push_str(&format!(": {s}"));
                    source = s.source();
                }
                return Err(Error::invalid(format!("invalid layer archive: {msg}")));
            }
        };
        let dest = paths.layer_dir(&rec.diff_id);
        if dest.exists() || std::fs::rename(&tmp_dir, &dest).is_err() {
            let _ = remove_dir_all_quiet(&tmp_dir);
        }
        let blob = paths.blob(&rec.blob_digest);
        if blob.exists() {
            let _ = std::fs::remove_file(&tmp_blob);
        } else {
            std::fs::rename(&tmp_blob, &blob).ctx(|| "storing layer blob".into())?;
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::paths::Paths;
    use crate::engine::store::Store;

    fn layer_tar() -> Vec<u8> {
        crate::engine::image::layer::tests::layer_tar(&[("f", b"hi")])
    }

    #[test]
    fn collection_waits_for_layers_not_yet_registered() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path().join("root"), dir.path().join("run"));
        paths.ensure().unwrap();
        let db = Arc::new(Store::open(&paths.db()).unwrap());
        let store = ImageStore::new(paths.clone(), db);
        let ingest = store.ingest();
        let rec = ingest.add_layer(&layer_tar()[..]).unwrap();
        // An rmi elsewhere collects garbage: the unregistered layer stays.
        store.collect_garbage().unwrap();
        assert!(paths.layer_dir(&rec.diff_id).exists());
        assert!(paths.blob(&rec.blob_digest).exists());
        // Once the ingest ends without registering it, the deferred collection removes it.
        drop(ingest);
        assert!(!paths.layer_dir(&rec.diff_id).exists());
        assert!(!paths.blob(&rec.blob_digest).exists());
        // Without an ingest running, collection is immediate.
        let other = store.ingest();
        let rec = other.add_layer(&layer_tar()[..]).unwrap();
        let config = serde_json::to_vec(&crate::engine::image::config::ImageConfig::new(
            vec![rec.diff_id.clone()],
            Default::default(),
        ))
        .unwrap();
        store
            .register(&config, std::slice::from_ref(&rec), &[], None)
            .unwrap();
        drop(other);
        store.collect_garbage().unwrap();
        assert!(
            paths.layer_dir(&rec.diff_id).exists(),
            "a registered layer went"
        );
    }
}
