//! Image records, layer registration and reference resolution.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::config::ImageConfig;
use super::ingest::IngestLock;
use super::layer::LayerRecord;
use super::reference::Reference;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::paths::{hex_of, Paths};
use crate::engine::store::{self, Store, Table};
use crate::util::fsutil::{remove_dir_all_quiet, write_atomic};
use crate::util::ids::sha256_digest;

/// One image: its id (the config digest) and the diff ids of its layers, bottom first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: String,
    pub layers: Vec<String>,
    pub created: String,
    pub size: u64,
    /// For committed images: the image the container ran.
    #[serde(default)]
    pub parent: Option<String>,
    /// Registry digests (`repo@sha256:…`) this image is known by.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// A build step's result, kept as build cache: hidden from `images` and image prune
    /// while untagged (Docker's intermediate images), reclaimed by `builder prune`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermediate: bool,
}

/// How long a layer of an unfinished pull is kept for the next pull.
pub const PULLED_LAYER_LEASE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What `rmi` did, in docker's terms.
#[derive(Debug, Clone)]
pub enum RemovedImage {
    Untagged(String),
    Deleted(String),
}

/// Images and layers (cheap to clone: the clones share the database and the ingest count).
#[derive(Clone)]
pub struct ImageStore {
    paths: Paths,
    db: Arc<Store>,
    ingests: IngestLock,
}

impl ImageStore {
    pub fn new(paths: Paths, db: Arc<Store>) -> Self {
        ImageStore {
            paths,
            db,
            ingests: IngestLock::default(),
        }
    }

    pub(super) fn ingests(&self) -> &IngestLock {
        &self.ingests
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Store a blob by digest (config or manifest); verifies nothing, the caller computed it.
    pub fn put_blob(&self, data: &[u8]) -> Result<String> {
        let digest = sha256_digest(data);
        let path = self.paths.blob(&digest);
        if !path.exists() {
            write_atomic(&path, data).ctx(|| format!("writing blob {digest}"))?;
        }
        Ok(digest)
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.paths.blob(digest)
    }

    /// Register an image made of `config_bytes` over `layers`, tagging it with `tags`.
    /// Layers must already be unpacked; the config's diff ids must match them.
    pub fn register(
        &self,
        config_bytes: &[u8],
        layers: &[LayerRecord],
        tags: &[Reference],
        parent: Option<String>,
    ) -> Result<ImageRecord> {
        let config: ImageConfig = serde_json::from_slice(config_bytes)
            .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
        let by_diff: HashMap<&str, &LayerRecord> =
            layers.iter().map(|l| (l.diff_id.as_str(), l)).collect();
        // The image's size counts every layer, also those it shares with images stored
        // before (a build's base, a step cached earlier).
        let mut size = 0u64;
        for d in &config.rootfs.diff_ids {
            size += match by_diff.get(d.as_str()) {
                Some(l) => l.size,
                None => match self.db.get::<LayerRecord>(Table::Layers, d)? {
                    Some(l) => l.size,
                    None => {
                        return Err(Error::invalid(format!(
                            "image config names layer {d}, which the archive does not contain"
                        )))
                    }
                },
            };
        }
        let id = self.put_blob(config_bytes)?;
        let rec = ImageRecord {
            id: id.clone(),
            layers: config.rootfs.diff_ids.clone(),
            created: config
                .created
                .clone()
                .unwrap_or_else(crate::engine::now_rfc3339),
            size,
            parent,
            repo_digests: Vec::new(),
            intermediate: false,
        };
        self.db.tx(|tx| {
            for l in layers {
                let l = LayerRecord {
                    kept_until: None,
                    ..l.clone()
                };
                store::put(tx, Table::Layers, &l.diff_id, &l)?;
            }
            let existing: Option<ImageRecord> = store::get(tx, Table::Images, &id)?;
            let rec = match existing {
                Some(mut old) => {
                    if old.parent.is_none() {
                        old.parent = rec.parent.clone();
                    }
                    old
                }
                None => rec.clone(),
            };
            store::put(tx, Table::Images, &id, &rec)?;
            for t in tags {
                store::set_tag(tx, &t.to_string(), &id)?;
            }
            Ok(())
        })?;
        self.get(&id)
    }

    /// Add `repo@digest` to the image's RepoDigests (after a pull or push), once.
    pub fn add_repo_digest(&self, id: &str, repo_digest: &str) -> Result<ImageRecord> {
        let mut image = self.get(id)?;
        if !image.repo_digests.iter().any(|d| d == repo_digest) {
            image.repo_digests.push(repo_digest.to_string());
            self.update_record(&image)?;
        }
        Ok(image)
    }

    /// Record a layer a pull has unpacked before its image is registered, so that the next
    /// pull finds it when this one fails or is stopped; kept unreferenced for
    /// [`PULLED_LAYER_LEASE`] (the one-day lease of containerd's pulls).
    pub fn keep_pulled_layer(&self, rec: &LayerRecord) -> Result<()> {
        if self
            .db
            .get::<LayerRecord>(Table::Layers, &rec.diff_id)?
            .is_some()
        {
            return Ok(());
        }
        let until = chrono::Utc::now().timestamp() + PULLED_LAYER_LEASE.as_secs() as i64;
        let rec = LayerRecord {
            kept_until: Some(until),
            ..rec.clone()
        };
        self.db.put(Table::Layers, &rec.diff_id, &rec)
    }

    /// Register a build step's result as an intermediate image (unless the same image is
    /// already known as a regular one).
    pub fn register_intermediate(
        &self,
        config_bytes: &[u8],
        layers: &[LayerRecord],
        parent: Option<String>,
    ) -> Result<ImageRecord> {
        let id = sha256_digest(config_bytes);
        let existed = self.db.get::<ImageRecord>(Table::Images, &id)?.is_some();
        let mut rec = self.register(config_bytes, layers, &[], parent)?;
        if !existed {
            rec.intermediate = true;
            self.update_record(&rec)?;
        }
        Ok(rec)
    }

    /// A build's result becomes a regular image (listed even when untagged).
    pub fn promote(&self, id: &str) -> Result<()> {
        let mut rec = self.get(id)?;
        if rec.intermediate {
            rec.intermediate = false;
            self.update_record(&rec)?;
        }
        Ok(())
    }

    /// Replace an image's record (repo digests).
    pub fn update_record(&self, image: &ImageRecord) -> Result<()> {
        self.db.put(Table::Images, &image.id, image)
    }

    pub fn get(&self, id: &str) -> Result<ImageRecord> {
        self.db
            .get(Table::Images, id)?
            .ok_or_else(|| Error::not_found(format!("No such image: {id}")))
    }

    /// Resolve a name (`box`, `box:v2`, `docker.io/library/box`), a full id or a unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        if let Ok(r) = Reference::parse(name) {
            if let Some(id) = self.db.tag_target(&r.to_string())? {
                return self.get(&id);
            }
            // `repo@sha256:…`: the image a pull or push knew by that repo digest.
            if let (Some(d), None) = (&r.digest, &r.tag) {
                let wanted = format!("{}@{d}", r.familiar_name());
                if let Some(i) = self
                    .list()?
                    .into_iter()
                    .find(|i| i.repo_digests.contains(&wanted))
                {
                    return Ok(i);
                }
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if !hex.is_empty() && hex.len() <= 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let matches: Vec<ImageRecord> = self
                .list()?
                .into_iter()
                .filter(|i| hex_of(&i.id).starts_with(hex))
                .collect();
            match matches.len() {
                1 => return Ok(matches.into_iter().next().unwrap()),
                0 => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "ambiguous image id prefix {name}: it matches {} images",
                        matches.len()
                    )))
                }
            }
        }
        Err(Error::not_found(format!("No such image: {name}")))
    }

    pub fn list(&self) -> Result<Vec<ImageRecord>> {
        self.db.list(Table::Images)
    }

    /// All tags, canonical name → image id.
    pub fn tags(&self) -> Result<Vec<(String, String)>> {
        self.db.tags()
    }

    pub fn tags_of(&self, id: &str) -> Result<Vec<String>> {
        Ok(self
            .tags()?
            .into_iter()
            .filter(|(_, i)| i == id)
            .map(|(n, _)| n)
            .collect())
    }

    pub fn config(&self, id: &str) -> Result<ImageConfig> {
        let bytes = self.config_bytes(id)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("image {id}: corrupt config: {e}")))
    }

    pub fn config_bytes(&self, id: &str) -> Result<Vec<u8>> {
        std::fs::read(self.paths.blob(id)).ctx(|| format!("reading config of image {id}"))
    }

    pub fn layer(&self, diff_id: &str) -> Result<LayerRecord> {
        self.db
            .get(Table::Layers, diff_id)?
            .ok_or_else(|| Error::not_found(format!("layer {diff_id} is not in the store")))
    }

    /// Layer directories for an overlay mount, bottom layer first.
    /// The unpacked layer directories, bottom first. Layers are shared by content, so one can
    /// repeat (two RUN steps that change nothing): overlayfs refuses a directory twice
    /// (ELOOP), and only its topmost place counts (it covers everything the lower one did).
    pub fn layer_dirs(&self, image: &ImageRecord) -> Vec<PathBuf> {
        let mut seen = std::collections::HashSet::new();
        let mut dirs: Vec<PathBuf> = image
            .layers
            .iter()
            .rev()
            .filter(|d| seen.insert(d.as_str()))
            .map(|d| self.paths.layer_dir(d))
            .collect();
        dirs.reverse();
        dirs
    }

    pub fn tag(&self, id: &str, reference: &Reference) -> Result<()> {
        self.db
            .tx(|tx| store::set_tag(tx, &reference.to_string(), id).map(|_| ()))
    }

    /// Remove a name, or the whole image when named by id (or its last tag goes).
    /// `in_use` says whether a container uses the image; only `force` overrides it.
    pub fn remove(&self, name: &str, force: bool, in_use: bool) -> Result<Vec<RemovedImage>> {
        let image = self.resolve(name)?;
        let tags = self.tags_of(&image.id)?;
        let by_tag = Reference::parse(name)
            .ok()
            .map(|r| r.to_string())
            .filter(|t| tags.contains(t));
        let mut out = Vec::new();
        if let Some(tag) = &by_tag {
            if tags.len() > 1 {
                // Other names remain: only untag.
                self.db.tx(|tx| store::remove_tag(tx, tag))?;
                out.push(RemovedImage::Untagged(familiar(tag)));
                return Ok(out);
            }
        } else if tags.len() > 1 && !force {
            return Err(Error::conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                crate::util::ids::short_id(&image.id)
            )));
        }
        if in_use && !force {
            return Err(Error::conflict(format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container is using its referenced image {}",
                crate::util::ids::short_id(&image.id)
            )));
        }
        if in_use {
            // Forced while in use: like docker, untag but keep the image for its containers.
            self.db.tx(|tx| {
                for t in &tags {
                    store::remove_tag(tx, t)?;
                }
                Ok(())
            })?;
            out.extend(tags.iter().map(|t| RemovedImage::Untagged(familiar(t))));
            return Ok(out);
        }
        self.db.tx(|tx| {
            for t in &tags {
                store::remove_tag(tx, t)?;
            }
            store::delete(tx, Table::Images, &image.id)
        })?;
        out.extend(tags.iter().map(|t| RemovedImage::Untagged(familiar(t))));
        out.push(RemovedImage::Deleted(image.id.clone()));
        self.collect_garbage()?;
        Ok(out)
    }

    /// Delete layers (directories, blobs, records) and config blobs no image refers to, and
    /// leftovers of interrupted imports; the layers of unfinished pulls stay for their lease.
    /// Only with no ingest running: see [`Self::collect_garbage`].
    pub(super) fn sweep(&self) -> Result<()> {
        let images = self.list()?;
        let layers: Vec<LayerRecord> = self.db.list(Table::Layers)?;
        let now = chrono::Utc::now().timestamp();
        let used: HashSet<&str> = images
            .iter()
            .flat_map(|i| i.layers.iter().map(String::as_str))
            .chain(
                layers
                    .iter()
                    .filter(|l| l.kept_until.is_some_and(|t| t > now))
                    .map(|l| l.diff_id.as_str()),
            )
            .collect();
        let mut keep_blobs: HashSet<String> =
            images.iter().map(|i| hex_of(&i.id).to_string()).collect();
        for l in &layers {
            if used.contains(l.diff_id.as_str()) {
                keep_blobs.insert(hex_of(&l.blob_digest).to_string());
            } else {
                self.db.delete(Table::Layers, &l.diff_id)?;
            }
        }
        let kept_dirs: HashSet<String> = used.iter().map(|d| hex_of(d).to_string()).collect();
        if let Ok(rd) = std::fs::read_dir(self.paths.layers()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !kept_dirs.contains(&name) {
                    let _ = remove_dir_all_quiet(&e.path());
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.paths.blobs()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !keep_blobs.contains(&name) && !self.is_kept_blob(&name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Manifests are kept for registry pushes; they are named in image records' repo digests.
    fn is_kept_blob(&self, hex: &str) -> bool {
        self.list()
            .map(|imgs| {
                imgs.iter()
                    .any(|i| i.repo_digests.iter().any(|d| d.ends_with(hex)))
            })
            .unwrap_or(false)
    }
}

/// `docker.io/library/box:latest` → `box:latest`.
pub fn familiar(canonical: &str) -> String {
    Reference::parse(canonical)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| canonical.to_string())
}
