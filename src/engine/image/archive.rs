//! Image archives: `docker save` format (manifest.json) with an OCI layout (index.json) beside
//! it, so archives move between wharf and docker both ways; plain or gzip-compressed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cancel::{Cancel, CANCELLED};
use super::ingest::Ingest;
use super::layer::{sniff_media_type, LayerRecord, MEDIA_TAR_GZIP};
use super::reference::Reference;
use super::store::familiar;
use super::unpack::{resolve_inside, unpack_tree};
use super::{ImageRecord, ImageStore};
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::paths::hex_of;
use crate::util::fsutil::remove_dir_all_quiet;
use crate::util::ids::random_id;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciIndex {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// A temporary directory under the store's root, removed when dropped.
struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = remove_dir_all_quiet(&self.0);
    }
}

/// Load every image of an archive. Returns the names (or ids, for untagged images) loaded.
/// Nothing is registered unless every layer of an image unpacked and matched its config; work
/// stops once `cancel` is set (the images registered before it stay, whole).
pub fn load<R: Read>(store: &ImageStore, reader: R, cancel: &Cancel) -> Result<Vec<String>> {
    let ingest = store.ingest();
    let result = unpack_and_register(store, cancel.wrap(reader), cancel, &ingest);
    if result.is_err() {
        let _ = store.collect_garbage();
    }
    match result {
        Err(_) if cancel.is_cancelled() => Err(Error::conflict(CANCELLED)),
        other => other,
    }
}

fn unpack_and_register<R: Read>(
    store: &ImageStore,
    reader: R,
    cancel: &Cancel,
    ingest: &Ingest,
) -> Result<Vec<String>> {
    let tmp = TempDir(
        store
            .paths()
            .tmp()
            .join(format!("load-{}", &random_id()[..16])),
    );
    std::fs::create_dir_all(&tmp.0).ctx(|| "creating a temporary directory".into())?;
    let mut buffered = BufReader::new(reader);
    let head = buffered.fill_buf().ctx(|| "reading the archive".into())?;
    if head.is_empty() {
        return Err(Error::invalid("the archive is empty"));
    }
    let stream: Box<dyn Read> = if sniff_media_type(head) == MEDIA_TAR_GZIP {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    unpack_tree(stream, &tmp.0).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::invalid(e.to_string()),
        _ => Error::invalid(format!("malformed or truncated archive: {e}")),
    })?;

    if tmp.0.join("manifest.json").exists() {
        load_docker_archive(store, &tmp.0, cancel, ingest)
    } else if tmp.0.join("index.json").exists() {
        load_oci_layout(store, &tmp.0, cancel, ingest)
    } else {
        Err(Error::invalid(
            "the archive is neither a docker save archive (manifest.json) nor an OCI layout (index.json)",
        ))
    }
}

fn read_in(dir: &Path, rel: &str) -> Result<Vec<u8>> {
    let p = safe_join(dir, rel)?;
    std::fs::read(&p).map_err(|e| Error::invalid(format!("archive entry {rel}: {e}")))
}

/// `dir/rel`, symlinks resolved, refused unless it stays inside the unpacked archive.
fn safe_join(dir: &Path, rel: &str) -> Result<std::path::PathBuf> {
    if rel.split('/').any(|c| c == "..") || rel.starts_with('/') {
        return Err(Error::invalid(format!(
            "archive entry {rel} points outside the archive"
        )));
    }
    resolve_inside(dir, rel).map_err(|e| Error::invalid(e.to_string()))
}

fn load_docker_archive(
    store: &ImageStore,
    dir: &Path,
    cancel: &Cancel,
    ingest: &Ingest,
) -> Result<Vec<String>> {
    let manifest: Vec<ManifestEntry> = serde_json::from_slice(&read_in(dir, "manifest.json")?)
        .map_err(|e| Error::invalid(format!("manifest.json: {e}")))?;
    if manifest.is_empty() {
        return Err(Error::invalid(
            "the archive holds no image: its manifest.json lists none",
        ));
    }
    let mut loaded = Vec::new();
    for entry in manifest {
        let config = read_in(dir, &entry.config)?;
        let layer_files: Vec<std::path::PathBuf> = entry
            .layers
            .iter()
            .map(|l| safe_join(dir, l))
            .collect::<Result<_>>()?;
        let tags = parse_tags(entry.repo_tags.as_deref().unwrap_or_default())?;
        loaded.extend(register(
            store,
            &config,
            &layer_files,
            &tags,
            cancel,
            ingest,
        )?);
    }
    Ok(loaded)
}

fn load_oci_layout(
    store: &ImageStore,
    dir: &Path,
    cancel: &Cancel,
    ingest: &Ingest,
) -> Result<Vec<String>> {
    let index: OciIndex = serde_json::from_slice(&read_in(dir, "index.json")?)
        .map_err(|e| Error::invalid(format!("index.json: {e}")))?;
    if index.manifests.is_empty() {
        return Err(Error::invalid(
            "the archive holds no image: its index.json lists none",
        ));
    }
    let mut loaded = Vec::new();
    let mut queue: Vec<Descriptor> = index.manifests;
    while let Some(desc) = queue.pop() {
        let blob = read_in(dir, &format!("blobs/sha256/{}", hex_of(&desc.digest)))?;
        if desc.media_type.contains("index") || desc.media_type.contains("manifest.list") {
            let nested: OciIndex = serde_json::from_slice(&blob)
                .map_err(|e| Error::invalid(format!("index {}: {e}", desc.digest)))?;
            queue.extend(nested.manifests.into_iter().filter(|m| {
                m.annotations
                    .as_ref()
                    .and_then(|a| a.get("vnd.docker.reference.type"))
                    .is_none()
            }));
            continue;
        }
        let manifest: OciManifest = serde_json::from_slice(&blob)
            .map_err(|e| Error::invalid(format!("manifest {}: {e}", desc.digest)))?;
        let config = read_in(
            dir,
            &format!("blobs/sha256/{}", hex_of(&manifest.config.digest)),
        )?;
        let files: Vec<_> = manifest
            .layers
            .iter()
            .map(|l| safe_join(dir, &format!("blobs/sha256/{}", hex_of(&l.digest))))
            .collect::<Result<_>>()?;
        let name = desc.annotations.as_ref().and_then(|a| {
            a.get("io.containerd.image.name")
                .cloned()
                .or_else(|| a.get("org.opencontainers.image.ref.name").cloned())
        });
        let tags = match name {
            Some(n) => parse_tags(&[n])?,
            None => Vec::new(),
        };
        loaded.extend(register(store, &config, &files, &tags, cancel, ingest)?);
    }
    Ok(loaded)
}

fn parse_tags(tags: &[String]) -> Result<Vec<Reference>> {
    tags.iter()
        .map(|t| Reference::parse(t).map_err(Error::invalid))
        .collect()
}

fn register(
    store: &ImageStore,
    config: &[u8],
    layer_files: &[std::path::PathBuf],
    tags: &[Reference],
    cancel: &Cancel,
    ingest: &Ingest,
) -> Result<Vec<String>> {
    let parsed: super::config::ImageConfig = serde_json::from_slice(config)
        .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
    if parsed.rootfs.diff_ids.len() != layer_files.len() {
        return Err(Error::invalid(format!(
            "the image config names {} layers but the archive lists {}",
            parsed.rootfs.diff_ids.len(),
            layer_files.len()
        )));
    }
    let mut layers: Vec<LayerRecord> = Vec::new();
    for (file, expected) in layer_files.iter().zip(&parsed.rootfs.diff_ids) {
        let f = std::fs::File::open(file)
            .map_err(|e| Error::invalid(format!("layer {}: {e}", file.display())))?;
        let rec = ingest.add_layer_until(f, cancel)?;
        if &rec.diff_id != expected {
            return Err(Error::invalid(format!(
                "layer {} has content digest {} but the image config expects {expected}",
                file.display(),
                rec.diff_id
            )));
        }
        layers.push(rec);
    }
    cancel.check().ctx(|| "loading the archive".into())?;
    let image = store.register(config, &layers, tags, None)?;
    Ok(if tags.is_empty() {
        vec![image.id]
    } else {
        tags.iter().map(|t| t.familiar()).collect()
    })
}

/// Write the named images as one archive: docker's manifest.json plus an OCI layout.
pub fn save<W: Write>(store: &ImageStore, names: &[String], out: W) -> Result<W> {
    let mut images: Vec<(ImageRecord, Vec<String>)> = Vec::new();
    for name in names {
        let image = store.resolve(name)?;
        let tags: Vec<String> = match Reference::parse(name) {
            Ok(r) if store.tags_of(&image.id)?.contains(&r.to_string()) => vec![r.to_string()],
            // Saved by ID (`sha256:…` or a hex prefix): no tags, as with Docker.
            _ if name.starts_with("sha256:") || looks_like_id(name) => Vec::new(),
            _ => store.tags_of(&image.id)?,
        };
        match images.iter_mut().find(|(i, _)| i.id == image.id) {
            Some((_, t)) => t.extend(tags),
            None => images.push((image, tags)),
        }
    }
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::HashSet::new();
    let mut manifest_json = Vec::new();
    let mut index = OciIndex {
        schema_version: 2,
        media_type: Some(MEDIA_INDEX.into()),
        manifests: Vec::new(),
    };
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    append_dir(&mut tar, "blobs")?;
    append_dir(&mut tar, "blobs/sha256")?;
    for (image, tags) in &images {
        let config = store.config_bytes(&image.id)?;
        let mut layer_descs = Vec::new();
        for diff in &image.layers {
            let layer = store.layer(diff)?;
            let path = format!("blobs/sha256/{}", hex_of(&layer.blob_digest));
            if written.insert(path.clone()) {
                let mut f = std::fs::File::open(store.blob_path(&layer.blob_digest))
                    .ctx(|| format!("opening layer blob {}", layer.blob_digest))?;
                let mut h = file_header(layer.blob_size);
                tar.append_data(&mut h, &path, &mut f)
                    .ctx(|| "writing the archive".into())?;
            }
            layer_descs.push(Descriptor {
                media_type: layer.media_type.clone(),
                digest: layer.blob_digest.clone(),
                size: layer.blob_size,
                annotations: None,
            });
        }
        let config_path = format!("blobs/sha256/{}", hex_of(&image.id));
        if written.insert(config_path.clone()) {
            append_bytes(&mut tar, &config_path, &config)?;
        }
        let manifest_bytes = oci_manifest(image, config.len() as u64, layer_descs)?;
        let manifest_digest = crate::util::ids::sha256_digest(&manifest_bytes);
        let manifest_path = format!("blobs/sha256/{}", hex_of(&manifest_digest));
        if written.insert(manifest_path.clone()) {
            append_bytes(&mut tar, &manifest_path, &manifest_bytes)?;
        }
        let familiar_tags: Vec<String> = tags.iter().map(|t| familiar(t)).collect();
        let desc = |annotations| Descriptor {
            media_type: MEDIA_MANIFEST.into(),
            digest: manifest_digest.clone(),
            size: manifest_bytes.len() as u64,
            annotations,
        };
        if tags.is_empty() {
            index.manifests.push(desc(None));
        }
        for t in tags {
            let r = Reference::parse(t).map_err(Error::internal)?;
            let mut a = BTreeMap::new();
            a.insert("io.containerd.image.name".to_string(), t.clone());
            a.insert(
                "org.opencontainers.image.ref.name".to_string(),
                r.tag.clone().unwrap_or_default(),
            );
            index.manifests.push(desc(Some(a)));
            if let Some(top) = image.layers.last() {
                repositories
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(r.tag.clone().unwrap_or_default(), hex_of(top).to_string());
            }
        }
        manifest_json.push(ManifestEntry {
            config: config_path,
            repo_tags: Some(familiar_tags),
            layers: image
                .layers
                .iter()
                .map(|d| {
                    store
                        .layer(d)
                        .map(|l| format!("blobs/sha256/{}", hex_of(&l.blob_digest)))
                })
                .collect::<Result<_>>()?,
        });
    }
    append_bytes(&mut tar, "index.json", &serde_json::to_vec(&index)?)?;
    append_bytes(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&manifest_json)?,
    )?;
    append_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    if !repositories.is_empty() {
        append_bytes(
            &mut tar,
            "repositories",
            &serde_json::to_vec(&repositories)?,
        )?;
    }
    tar.into_inner().ctx(|| "finishing the archive".into())
}

/// An image's OCI manifest as it is written to archives and pushed to registries.
fn oci_manifest(image: &ImageRecord, config_size: u64, layers: Vec<Descriptor>) -> Result<Vec<u8>> {
    let manifest = OciManifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        config: Descriptor {
            media_type: MEDIA_CONFIG.into(),
            digest: image.id.clone(),
            size: config_size,
            annotations: None,
        },
        layers,
    };
    Ok(serde_json::to_vec(&manifest)?)
}

/// What a registry push uploads: the blobs (digest, size: layers, then config), then the
/// manifest.
pub struct PushPlan {
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
    pub blobs: Vec<(String, u64)>,
}

/// The push plan of an image.
pub fn push_plan(store: &ImageStore, image: &ImageRecord) -> Result<PushPlan> {
    let config = store.config_bytes(&image.id)?;
    let mut blobs = Vec::new();
    let mut descs = Vec::new();
    for diff in &image.layers {
        let layer = store.layer(diff)?;
        blobs.push((layer.blob_digest.clone(), layer.blob_size));
        descs.push(Descriptor {
            media_type: layer.media_type.clone(),
            digest: layer.blob_digest.clone(),
            size: layer.blob_size,
            annotations: None,
        });
    }
    blobs.push((image.id.clone(), config.len() as u64));
    Ok(PushPlan {
        manifest: oci_manifest(image, config.len() as u64, descs)?,
        media_type: MEDIA_MANIFEST,
        blobs,
    })
}

fn looks_like_id(s: &str) -> bool {
    let h = s.strip_prefix("sha256:").unwrap_or(s);
    h.len() >= 12 && h.chars().all(|c| c.is_ascii_hexdigit())
}

fn file_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = file_header(data.len() as u64);
    tar.append_data(&mut h, path, data)
        .ctx(|| "writing the archive".into())
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut h, format!("{path}/"), std::io::empty())
        .ctx(|| "writing the archive".into())
}
