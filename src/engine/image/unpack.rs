//! Placing tar entries inside a layer directory, safely and in time linear in a path's depth.
//!
//! `tar::Entry::unpack_in` checks every entry by canonicalising each of its ancestors (one
//! `lstat` per component, for every component): cubic in the depth, 12 s for one entry of
//! depth 1,000. Here an entry's parents are walked once with `openat`/`mkdirat` and
//! `O_NOFOLLOW` (a symlink among them is refused, so nothing lands outside the layer), the
//! directories already verified are remembered, and paths are capped like the kernel's
//! PATH_MAX. Entries that climb out (`..`, absolute links for hard links) are refused, as
//! Docker does, instead of being dropped silently.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

/// The kernel's PATH_MAX: no path in a layer can be longer.
pub const MAX_PATH_BYTES: usize = 4096;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A path inside the archive with `.` and `/` prefixes removed; an error if it climbs out or
/// is too long; None for the archive's root itself.
pub fn relative_entry_path(path: &Path) -> io::Result<Option<PathBuf>> {
    let len = path.as_os_str().len();
    if len > MAX_PATH_BYTES {
        let shown: String = path.to_string_lossy().chars().take(60).collect();
        return Err(invalid(format!(
            "invalid archive entry {shown}…: its path is {len} bytes, more than PATH_MAX ({MAX_PATH_BYTES})"
        )));
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(invalid(format!(
                    "invalid archive entry {}: a path with \"..\" would leave the layer",
                    path.display()
                )))
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Creates the parents of entries under one layer directory.
pub struct Placer {
    dest: PathBuf,
    /// Parent directories (relative, as bytes: hashing a `Path` parses it) already walked.
    verified: HashSet<Vec<u8>>,
}

impl Placer {
    pub fn new(dest: &Path) -> Self {
        Placer {
            dest: dest.to_path_buf(),
            verified: HashSet::new(),
        }
    }

    /// Make sure every parent of `rel` is a real directory inside the layer (created as
    /// needed); returns the full path to unpack the entry at.
    pub fn prepare(&mut self, rel: &Path) -> io::Result<PathBuf> {
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !self.verified.contains(parent.as_os_str().as_bytes()) {
                self.make_dirs(parent)?;
                self.verified.insert(parent.as_os_str().as_bytes().to_vec());
            }
        }
        Ok(self.dest.join(rel))
    }

    /// Something that is not a directory now sits at `rel` (a whiteout replaced a
    /// directory): what was walked through it no longer holds.
    pub fn replaced(&mut self, rel: &Path) {
        let bytes = rel.as_os_str().as_bytes();
        self.verified
            .retain(|v| !(v.starts_with(bytes) && matches!(v.get(bytes.len()), None | Some(b'/'))));
    }

    /// Walk `rel` from the layer's root with `openat`, creating what is missing; never
    /// through a symlink. Linear in the depth.
    fn make_dirs(&mut self, rel: &Path) -> io::Result<()> {
        let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
        let root = nix::fcntl::open(&self.dest, flags, Mode::empty()).map_err(io::Error::from)?;
        // SAFETY: `open` returned a fresh descriptor that nothing else owns.
        let mut dir: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(root) };
        for (depth, c) in rel.components().enumerate() {
            let name = c.as_os_str();
            let sofar = || -> PathBuf { rel.components().take(depth + 1).collect() };
            match nix::sys::stat::mkdirat(
                Some(dir.as_raw_fd()),
                name,
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        io::Error::from(e).kind(),
                        format!("creating {} in the layer: {e}", sofar().display()),
                    ))
                }
            }
            let next = openat(Some(dir.as_raw_fd()), name, flags, Mode::empty()).map_err(|e| {
                let why = match e {
                    nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => {
                        "it is not a directory (a symlink or a file)".to_string()
                    }
                    e => e.to_string(),
                };
                invalid(format!(
                    "invalid archive: an entry goes through {}: {why}",
                    sofar().display()
                ))
            })?;
            // SAFETY: `openat` returned a fresh descriptor that nothing else owns.
            dir = unsafe { std::os::fd::FromRawFd::from_raw_fd(next) };
        }
        Ok(())
    }
}

/// Unpack a whole archive (the outer tar of `load`) into `dest`: directories, files, symlinks
/// and hard links between its own entries, each placed by the [`Placer`] (linear in depth,
/// never through a symlink); devices and fifos are refused. Symlinks are kept as written (a
/// `docker save` archive links repeated layers): whoever reads through them must check where
/// they lead, as [`resolve_inside`] does.
pub fn unpack_tree<R: io::Read>(reader: R, dest: &Path) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut placer = Placer::new(dest);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(rel) = relative_entry_path(&path)? else {
            continue;
        };
        let full = placer.prepare(&rel)?;
        let kind = entry.header().entry_type();
        if kind.is_hard_link() {
            let target = entry
                .link_name()?
                .and_then(|t| relative_entry_path(&t).transpose())
                .transpose()?
                .ok_or_else(|| {
                    invalid(format!(
                        "invalid archive entry {}: a hard link without a target",
                        rel.display()
                    ))
                })?;
            let target_full = placer.prepare(&target)?;
            std::fs::hard_link(&target_full, &full).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("linking {} to {}: {e}", rel.display(), target.display()),
                )
            })?;
        } else if kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_gnu_sparse() {
            entry.unpack(&full).map_err(|e| {
                io::Error::new(e.kind(), format!("unpacking {}: {e}", rel.display()))
            })?;
            if kind.is_dir() {
                placer.verified.insert(rel.as_os_str().as_bytes().to_vec());
            }
        } else if !(kind.is_pax_global_extensions() || kind.is_pax_local_extensions()) {
            return Err(invalid(format!(
                "invalid archive entry {}: an image archive holds no {kind:?} entries",
                rel.display()
            )));
        }
    }
    Ok(())
}

/// `dest/rel` with every symlink resolved, provided it stays inside `dest`.
pub fn resolve_inside(dest: &Path, rel: &str) -> io::Result<PathBuf> {
    let root = std::fs::canonicalize(dest)?;
    let full = std::fs::canonicalize(dest.join(rel))
        .map_err(|e| io::Error::new(e.kind(), format!("archive entry {rel}: {e}")))?;
    if !full.starts_with(&root) {
        return Err(invalid(format!(
            "archive entry {rel} points outside the archive"
        )));
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_climbing_and_overlong_paths() {
        assert!(relative_entry_path(Path::new("a/../../etc")).is_err());
        assert!(relative_entry_path(Path::new(&"a/".repeat(4000))).is_err());
        assert_eq!(
            relative_entry_path(Path::new("./a/b")).unwrap(),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(relative_entry_path(Path::new("./")).unwrap(), None);
    }

    #[test]
    fn never_goes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("a")).unwrap();
        let mut p = Placer::new(dir.path());
        let e = p.prepare(Path::new("a/passwd")).unwrap_err().to_string();
        assert!(e.contains("goes through a"), "{e}");
        let full = p.prepare(Path::new("b/c/d")).unwrap();
        assert!(dir.path().join("b/c").is_dir());
        assert_eq!(full, dir.path().join("b/c/d"));
    }
}
