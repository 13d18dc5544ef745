//! The build context: a tar stream (plain or gzip) unpacked as it arrives into a private
//! directory, never held in memory whole, or the kept mirror of a client's local directory
//! (`mirror`) with a small tar beside it that carries the Dockerfile. Each regular file's
//! content is hashed once (while it is unpacked or mirrored), so a COPY's cache key costs a
//! map lookup per file, not a re-read.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use tokio::sync::OwnedRwLockReadGuard;

use super::mirror::Mirror;
use crate::engine::error::{Error, IoContext, Result};
use crate::util::fsutil::remove_dir_all_quiet;

/// A build's context: what COPY sees under `dir`, the Dockerfile under `control`. An
/// unpacked one's directory goes away with it; a mirror stays for the next build.
pub struct Context {
    pub dir: PathBuf,
    /// Where the Dockerfile is read: `dir` for a tar context, the request's small tar for a
    /// local one.
    control: PathBuf,
    /// Context-relative path → hash of its type, mode, link target and content.
    hashes: BTreeMap<String, String>,
    pub size: u64,
    /// Holds the mirror's read lock while the build runs.
    mirror: Option<OwnedRwLockReadGuard<Mirror>>,
}

impl Drop for Context {
    fn drop(&mut self) {
        if !self.control.as_os_str().is_empty() {
            let _ = remove_dir_all_quiet(&self.control);
        }
    }
}

/// Reads through, hashing what passes.
pub(super) struct Hashing<R> {
    pub(super) inner: R,
    pub(super) hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// A tar stream that may end right after its last file's data: the docker CLI sends an
/// outside Dockerfile that way (no padding, no end blocks), and Go's reader takes it as the
/// end. The missing padding and end blocks are supplied as zeros.
struct PaddedEnd<R> {
    inner: R,
    read: u64,
    /// Zeros still to give once `inner` ended.
    tail: Option<u64>,
}

impl<R> PaddedEnd<R> {
    fn new(inner: R) -> Self {
        PaddedEnd {
            inner,
            read: 0,
            tail: None,
        }
    }
}

impl<R: Read> Read for PaddedEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tail.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                return Ok(n);
            }
            let pad = (512 - self.read % 512) % 512;
            self.tail = Some(if pad == 0 { 0 } else { pad + 1024 });
        }
        let left = self.tail.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.tail = Some(left - n as u64);
        Ok(n)
    }
}

/// A context-relative path without `..` escapes, or None when it leaves the context.
pub fn clean_relative(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out)
}

impl Context {
    /// Unpack `reader` (tar, optionally gzip-compressed) under `dir`.
    pub fn unpack<R: Read>(reader: R, dir: PathBuf) -> Result<Context> {
        std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let mut ctx = Context {
            control: dir.clone(),
            dir,
            hashes: BTreeMap::new(),
            size: 0,
            mirror: None,
        };
        let mut buffered = BufReader::with_capacity(64 * 1024, reader);
        let head = buffered
            .fill_buf()
            .ctx(|| "reading the build context".into())?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let result = if gzip {
            ctx.unpack_tar(PaddedEnd::new(flate2::read::GzDecoder::new(buffered)))
        } else {
            ctx.unpack_tar(PaddedEnd::new(buffered))
        };
        result.map_err(|e| {
            Error::invalid(format!(
                "the build context is not a valid tar archive (plain or gzip): {e}"
            ))
        })?;
        Ok(ctx)
    }

    fn unpack_tar<R: Read>(&mut self, reader: R) -> std::io::Result<()> {
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_overwrite(true);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.to_string_lossy().to_string();
            let Some(rel) = clean_relative(&raw) else {
                return Err(std::io::Error::other(format!(
                    "{raw}: path leaves the context"
                )));
            };
            if rel.as_os_str().is_empty() {
                continue;
            }
            let kind = entry.header().entry_type();
            let mode = entry.header().mode().unwrap_or(0o644);
            let link = entry
                .link_name()?
                .map(|l| l.to_string_lossy().to_string())
                .unwrap_or_default();
            let rel_s = rel.to_string_lossy().to_string();
            if kind.is_file() {
                let size = entry.size();
                let target = self.dir.join(&rel);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut h = Hashing {
                    inner: &mut entry,
                    hash: Sha256::new(),
                };
                let mut f = std::fs::File::create(&target)?;
                std::io::copy(&mut h, &mut f)?;
                let content = hex::encode(h.hash.finalize());
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
                self.size += size;
                self.hashes
                    .insert(rel_s, format!("f{:o}:{content}", mode & 0o7777));
            } else {
                if !entry.unpack_in(&self.dir)? {
                    return Err(std::io::Error::other(format!(
                        "{raw}: path leaves the context"
                    )));
                }
                let tag = if kind.is_dir() { 'd' } else { 'l' };
                self.hashes
                    .insert(rel_s, format!("{tag}{:o}:{link}", mode & 0o7777));
            }
        }
        Ok(())
    }

    /// A local directory's context: its mirror (read-locked while this lives) for COPY, and
    /// the request's tar (the Dockerfile) unpacked under `control`.
    pub fn mirrored<R: Read>(
        mirror: OwnedRwLockReadGuard<Mirror>,
        control_tar: R,
        control: PathBuf,
    ) -> Result<Context> {
        let mut unpacked = Context::unpack(control_tar, control)?;
        let (hashes, size) = mirror.hashes();
        Ok(Context {
            dir: mirror.dir.clone(),
            // The control directory is now this context's to remove.
            control: std::mem::take(&mut unpacked.control),
            hashes,
            size,
            mirror: Some(mirror),
        })
    }

    /// Where the Dockerfile named by the build is read.
    pub fn dockerfile_root(&self) -> &Path {
        &self.control
    }

    /// dockerd's rule for the files that only steer the build: `.dockerignore` and the
    /// Dockerfile (`dockerfile`, context-relative) leave the context when `.dockerignore`
    /// excludes them, so COPY never sees them (docker-py sends a Dockerfile from outside the
    /// context as `.dockerfile.<random>`, listed in the `.dockerignore` it writes).
    pub fn drop_ignored_build_files(&mut self, dockerfile: &Path) -> Result<()> {
        if self.mirror.is_some() {
            // A mirror holds only what `.dockerignore` lets through, build files included.
            return Ok(());
        }
        let ignore_path = self.dir.join(".dockerignore");
        let Ok(text) = std::fs::read_to_string(&ignore_path) else {
            return Ok(());
        };
        let ignore = super::pattern::Ignore::parse(&text).map_err(Error::invalid)?;
        for rel in [Path::new(".dockerignore"), dockerfile] {
            let key = rel.to_string_lossy().to_string();
            if ignore.excluded(&key) {
                let path = self.dir.join(rel);
                if path.is_file() {
                    std::fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
                }
                self.hashes.remove(&key);
            }
        }
        Ok(())
    }

    /// The hash of everything at and under `rel` (a context-relative path), names included.
    pub fn content_hash(&self, rel: &Path) -> String {
        content_hash_of(&self.hashes, rel)
    }
}

/// The hash of everything at and under `rel` in `hashes` (path → entry hash).
pub fn content_hash_of(hashes: &BTreeMap<String, String>, rel: &Path) -> String {
    let key = rel.to_string_lossy().to_string();
    let prefix = format!("{key}/");
    let mut h = Sha256::new();
    let under = hashes
        .range(key.clone()..)
        .take_while(|(k, _)| **k == key || k.starts_with(&prefix) || key.is_empty());
    let mut any = false;
    for (k, v) in under {
        any = true;
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    if !any {
        // Not from the tar (a directory made implicitly): hash what is on disk.
        h.update(key.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(clean_relative("/a/./b/../c"), Some(PathBuf::from("a/c")));
        assert_eq!(clean_relative("../x"), None);
        assert_eq!(clean_relative("a/../../x"), None);
        assert_eq!(clean_relative("."), Some(PathBuf::new()));
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn hashes_change_with_content_only_under_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Context::unpack(
            &tar_of(&[("d/x", b"1"), ("d/y", b"2"), ("z", b"3")])[..],
            tmp.path().join("a"),
        )
        .unwrap();
        let b = Context::unpack(
            &tar_of(&[("d/x", b"1"), ("d/y", b"2"), ("z", b"4")])[..],
            tmp.path().join("b"),
        )
        .unwrap();
        assert_eq!(
            a.content_hash(Path::new("d")),
            b.content_hash(Path::new("d"))
        );
        assert_ne!(
            a.content_hash(Path::new("z")),
            b.content_hash(Path::new("z"))
        );
        assert_ne!(a.content_hash(Path::new("")), b.content_hash(Path::new("")));
        assert_eq!(std::fs::read(a.dir.join("d/y")).unwrap(), b"2");
    }

    #[test]
    fn a_tar_ending_after_its_last_files_data_unpacks() {
        let tmp = tempfile::tempdir().unwrap();
        let full = tar_of(&[("a", b"first"), ("Dockerfile", b"FROM x\n")]);
        // Cut after the last file's 7 bytes: no padding, no end blocks.
        let cut = &full[..512 * 3 + 7];
        let c = Context::unpack(cut, tmp.path().join("c")).unwrap();
        assert_eq!(
            std::fs::read(c.dir.join("Dockerfile")).unwrap(),
            b"FROM x\n"
        );
        assert_eq!(std::fs::read(c.dir.join("a")).unwrap(), b"first");
    }

    #[test]
    fn not_a_tar_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let junk = vec![b'x'; 2000];
        assert!(Context::unpack(&junk[..], tmp.path().join("c")).is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar_of(&[("f", b"ok")])).unwrap();
        let ok = Context::unpack(&gz.finish().unwrap()[..], tmp.path().join("g")).unwrap();
        assert_eq!(std::fs::read(ok.dir.join("f")).unwrap(), b"ok");
    }
}
