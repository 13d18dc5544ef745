//! Local build contexts: when the client runs on the daemon's machine it names its context
//! directory instead of sending it as a tar, and the daemon keeps a mirror of that directory
//! (what `.dockerignore` lets through), brought up to date before each build by comparing
//! every entry's inode, size, mode and times with what was copied last time. A one-file edit
//! in a 1,000-file context then costs 1,000 `lstat`s and one copy, where a tar costs packing,
//! sending, unpacking and hashing all 1,000 files again; each file is hashed once, when it is
//! copied, so the step cache's keys stay as cheap as the tar path's.
//!
//! A build reads the mirror under a read lock, so a build from the same directory that finds
//! it current runs alongside; one that must update it waits for the readers to finish. Files
//! are replaced by rename, never rewritten in place. Mirrors live under the daemon's
//! temporary directory (gone with a restart: the next build copies afresh), at most
//! [`KEPT`] of them, the least recently used idle one dropped first.

use std::collections::{BTreeMap, HashSet};
use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use super::pattern::Ignore;
use super::walk::included;
use crate::engine::error::{Error, IoContext, Result};
use crate::util::fsutil::remove_dir_all_quiet;

/// How many mirrors are kept.
pub const KEPT: usize = 8;

/// The `X-Wharf-Context` header's content: the context directory as the client sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LocalContext {
    /// Absolute and canonical.
    pub dir: PathBuf,
    /// Its device and inode, so the daemon knows it sees the same directory.
    pub dev: u64,
    pub ino: u64,
    /// The `.dockerignore` text that applies (possibly `<Dockerfile>.dockerignore`).
    pub ignore: String,
}

impl LocalContext {
    pub fn of(dir: &Path, ignore: String) -> std::io::Result<LocalContext> {
        let md = std::fs::metadata(dir)?;
        Ok(LocalContext {
            dir: dir.to_path_buf(),
            dev: md.dev(),
            ino: md.ino(),
            ignore,
        })
    }

    /// Whether this process sees the directory the client named (not, say, another mount
    /// namespace's path of the same name).
    pub fn visible(&self) -> bool {
        std::fs::metadata(&self.dir)
            .is_ok_and(|md| md.is_dir() && md.dev() == self.dev && md.ino() == self.ino)
    }
}

/// What says an entry is unchanged since it was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mode: u32,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(md: &Metadata) -> Stamp {
        Stamp {
            dev: md.dev(),
            ino: md.ino(),
            mode: md.mode(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    stamp: Stamp,
    /// In the context's hash format (`context::Context`): type, mode, link target or content.
    hash: String,
    size: u64,
}

/// One directory's mirror.
#[derive(Debug)]
pub struct Mirror {
    pub dir: PathBuf,
    entries: BTreeMap<String, Entry>,
}

/// What one update did.
#[derive(Debug, Default, PartialEq)]
pub struct Synced {
    pub copied: usize,
    pub removed: usize,
}

fn is_kind_change(old: &Stamp, md: &Metadata) -> bool {
    (old.mode & libc::S_IFMT) != (md.mode() & libc::S_IFMT)
}

/// Remove a file, link or directory tree; a missing one is fine.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => remove_dir_all_quiet(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Copy a regular file to `target` (by rename of a sibling), hashing it; returns the hash.
fn copy_file(src: &Path, target: &Path, md: &Metadata) -> std::io::Result<String> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = target.with_file_name(format!(
        ".wharf-sync-{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    let mut from = super::context::Hashing {
        inner: std::fs::File::open(src)?,
        hash: Sha256::new(),
    };
    let mut to = std::fs::File::create(&tmp)?;
    std::io::copy(&mut from, &mut to)?;
    to.set_permissions(std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    if let Ok(t) = md.modified() {
        to.set_modified(t)?;
    }
    drop(to);
    std::fs::rename(&tmp, target)?;
    Ok(format!(
        "f{:o}:{}",
        md.mode() & 0o7777,
        hex::encode(from.hash.finalize())
    ))
}

impl Mirror {
    fn new(dir: PathBuf) -> Mirror {
        Mirror {
            dir,
            entries: BTreeMap::new(),
        }
    }

    /// The entries `ignore` lets through under `src`, as (relative path, host path, metadata).
    fn scan(src: &Path, ignore: &Ignore) -> std::io::Result<Vec<(String, PathBuf, Metadata)>> {
        let mut out = Vec::new();
        included(src, ignore, &[], &mut |rel, path, md| {
            // Sockets, fifos and devices: a context tar skips them on unpack too.
            if md.is_dir() || md.is_file() || md.file_type().is_symlink() {
                out.push((rel.to_string(), path.to_path_buf(), md.clone()));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Whether the mirror already holds exactly what `scan` found.
    fn current(&self, scanned: &[(String, PathBuf, Metadata)]) -> bool {
        scanned.len() == self.entries.len()
            && scanned.iter().all(|(rel, _, md)| {
                self.entries
                    .get(rel)
                    .is_some_and(|e| e.stamp == Stamp::of(md))
            })
    }

    /// Bring the mirror up to date with `scanned`: first remove what is gone or changed kind
    /// (so nothing is ever written through a stale symlink), then copy what changed.
    fn apply(&mut self, scanned: &[(String, PathBuf, Metadata)]) -> std::io::Result<Synced> {
        let mut synced = Synced::default();
        let now: std::collections::HashMap<&str, &Metadata> = scanned
            .iter()
            .map(|(rel, _, md)| (rel.as_str(), md))
            .collect();
        let stale: Vec<String> = self
            .entries
            .iter()
            .filter(|(rel, e)| {
                now.get(rel.as_str())
                    .is_none_or(|md| is_kind_change(&e.stamp, md))
            })
            .map(|(rel, _)| rel.clone())
            .collect();
        for rel in stale.iter().rev() {
            remove_any(&self.dir.join(rel))?;
            self.entries.remove(rel);
            synced.removed += 1;
        }
        let mut seen = HashSet::new();
        for (rel, path, md) in scanned {
            seen.insert(rel.as_str());
            let stamp = Stamp::of(md);
            if self.entries.get(rel).is_some_and(|e| e.stamp == stamp) {
                continue;
            }
            let target = self.dir.join(rel);
            let mode = md.mode() & 0o7777;
            let hash = if md.is_dir() {
                std::fs::create_dir_all(&target)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))?;
                format!("d{mode:o}:")
            } else if md.file_type().is_symlink() {
                let link = std::fs::read_link(path)?;
                remove_any(&target)?;
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::os::unix::fs::symlink(&link, &target)?;
                format!("l{mode:o}:{}", link.to_string_lossy())
            } else {
                copy_file(path, &target, md)?
            };
            let size = if md.is_file() { md.size() } else { 0 };
            self.entries
                .insert(rel.clone(), Entry { stamp, hash, size });
            synced.copied += 1;
        }
        Ok(synced)
    }

    /// Context-relative path → hash, and the total size of the files.
    pub fn hashes(&self) -> (BTreeMap<String, String>, u64) {
        let size = self.entries.values().map(|e| e.size).sum();
        let map = self
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.hash.clone()))
            .collect();
        (map, size)
    }
}

/// The mirrors this daemon keeps, by (directory, ignore rules), most recently used last.
pub struct Mirrors {
    base: PathBuf,
    kept: Mutex<Vec<(String, Arc<RwLock<Mirror>>)>>,
}

fn key_of(local: &LocalContext) -> String {
    let mut h = Sha256::new();
    h.update(local.dir.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(local.ignore.as_bytes());
    hex::encode(h.finalize())[..24].to_string()
}

fn blocking_err(e: tokio::task::JoinError) -> Error {
    Error::internal(format!("syncing the build context: {e}"))
}

impl Mirrors {
    pub fn new(base: PathBuf) -> Mirrors {
        Mirrors {
            base,
            kept: Mutex::new(Vec::new()),
        }
    }

    fn slot(&self, key: &str) -> Arc<RwLock<Mirror>> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let slot = match kept.iter().position(|(k, _)| k == key) {
            Some(i) => kept.remove(i).1,
            None => Arc::new(RwLock::new(Mirror::new(self.base.join(key)))),
        };
        kept.push((key.to_string(), slot.clone()));
        // Drop the least recently used idle mirrors beyond the limit.
        while kept.len() > KEPT {
            let Some(i) = kept.iter().position(|(_, m)| Arc::strong_count(m) == 1) else {
                break;
            };
            let (k, _) = kept.remove(i);
            let _ = remove_dir_all_quiet(&self.base.join(k));
        }
        slot
    }

    /// The mirror of `local`, up to date and read-locked for the length of a build.
    pub async fn current(
        &self,
        local: &LocalContext,
    ) -> Result<(OwnedRwLockReadGuard<Mirror>, Synced)> {
        let ignore = Ignore::parse(&local.ignore).map_err(Error::invalid)?;
        let src = local.dir.clone();
        let scanned = {
            let (src, ignore) = (src.clone(), ignore.clone());
            tokio::task::spawn_blocking(move || Mirror::scan(&src, &ignore))
                .await
                .map_err(blocking_err)?
                .ctx(|| format!("reading the build context {}", local.dir.display()))?
        };
        let slot = self.slot(&key_of(local));
        let read = slot.clone().read_owned().await;
        if read.current(&scanned) {
            return Ok((read, Synced::default()));
        }
        drop(read);
        let mut write = slot.write_owned().await;
        let (write, synced) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&write.dir)?;
            // Scan again under the lock: another build may have updated it meanwhile.
            let scanned = Mirror::scan(&src, &ignore)?;
            let synced = write.apply(&scanned);
            Ok::<_, std::io::Error>((write, synced?))
        })
        .await
        .map_err(blocking_err)?
        .ctx(|| format!("mirroring the build context {}", local.dir.display()))?;
        Ok((write.downgrade(), synced))
    }

    /// Drop every mirror no build is using; returns the bytes freed.
    pub fn prune(&self) -> u64 {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let mut freed = 0;
        kept.retain(|(k, m)| {
            let idle = Arc::strong_count(m) == 1 && m.try_write().is_ok();
            if idle {
                if let Ok(g) = m.try_read() {
                    freed += g.hashes().1;
                }
                let _ = remove_dir_all_quiet(&self.base.join(k));
            }
            !idle
        });
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(m: &mut Mirror, src: &Path, ignore: &str) -> Synced {
        let ignore = Ignore::parse(ignore).unwrap();
        let scanned = Mirror::scan(src, &ignore).unwrap();
        let s = m.apply(&scanned).unwrap();
        assert!(m.current(&Mirror::scan(src, &ignore).unwrap()));
        s
    }

    #[test]
    fn copies_once_then_only_what_changed_and_removes_what_went() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("lib")).unwrap();
        for i in 0..20 {
            std::fs::write(src.join(format!("lib/f{i}")), format!("{i}")).unwrap();
        }
        std::fs::write(src.join("app.log"), "noise").unwrap();
        let mut m = Mirror::new(d.path().join("mirror"));
        let first = sync(&mut m, &src, "*.log\n");
        assert_eq!(first.copied, 21, "{first:?}"); // lib + 20 files
        assert!(!m.dir.join("app.log").exists());
        let before = m.hashes().0;

        std::fs::write(src.join("lib/f7"), "edited").unwrap();
        std::fs::remove_file(src.join("lib/f3")).unwrap();
        let second = sync(&mut m, &src, "*.log\n");
        // The edited file, and lib itself (its times changed with the removal).
        assert_eq!(second.copied, 2, "{second:?}");
        assert_eq!(second.removed, 1);
        assert_eq!(std::fs::read(m.dir.join("lib/f7")).unwrap(), b"edited");
        assert!(!m.dir.join("lib/f3").exists());
        let after = m.hashes().0;
        assert_ne!(before["lib/f7"], after["lib/f7"]);
        assert_eq!(before["lib/f8"], after["lib/f8"]);
        assert_eq!(sync(&mut m, &src, "*.log\n"), Synced::default());
    }

    #[test]
    fn a_directory_replaced_by_a_symlink_never_writes_through_it() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(src.join("x")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(src.join("x/file"), "1").unwrap();
        let mut m = Mirror::new(d.path().join("mirror"));
        sync(&mut m, &src, "");
        std::fs::remove_dir_all(src.join("x")).unwrap();
        std::os::unix::fs::symlink(&outside, src.join("x")).unwrap();
        std::fs::write(outside.join("file"), "keep me").unwrap();
        sync(&mut m, &src, "");
        assert!(std::fs::symlink_metadata(m.dir.join("x"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            std::fs::read(outside.join("file")).unwrap(),
            b"keep me",
            "the removal of x/file went through the new symlink"
        );
    }

    #[test]
    fn hashes_match_what_a_tar_context_gives() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/a"), "alpha").unwrap();
        std::fs::set_permissions(src.join("d/a"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("d/a", src.join("l")).unwrap();
        let mut m = Mirror::new(d.path().join("mirror"));
        sync(&mut m, &src, "");
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        included(&src, &Ignore::default(), &[], &mut |rel, path, _| {
            b.append_path_with_name(path, rel)
        })
        .unwrap();
        let tar = b.into_inner().unwrap();
        let ctx = super::super::Context::unpack(&tar[..], d.path().join("ctx")).unwrap();
        for rel in ["d", "d/a", "l", ""] {
            assert_eq!(
                ctx.content_hash(Path::new(rel)),
                super::super::context::content_hash_of(&m.hashes().0, Path::new(rel)),
                "{rel}"
            );
        }
    }
}
