//! File helpers: atomic writes so that nothing is ever half-written after a crash.

use std::io::Write;
use std::path::Path;

/// Write `data` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Replace `path` atomically (temporary file + rename) without forcing it to disk: for runtime
/// state that must never be torn but need not survive a power loss (no container survives one).
pub fn replace_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

/// Total size in bytes of the regular files under `path` (not following symlinks).
pub fn dir_size(path: &Path) -> u64 {
    fn walk(p: &Path, total: &mut u64) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                walk(&e.path(), total);
            } else if md.is_file() {
                *total += md.len();
            }
        }
    }
    let mut total = 0;
    walk(path, &mut total);
    total
}

/// Remove a directory tree, ignoring "not found".
/// Remove a directory tree off the caller's path: renamed aside at once to `.NAME.removing`
/// beside it (its parent's owner must treat such names as leftovers, as the container index
/// does at start-up), then deleted by a blocking task of the current tokio runtime (or here,
/// outside one). Each unlink and rmdir can wait for the disk (ext4 mounted with `discard`
/// here), and a container's tree is not needed once its record is gone.
pub fn remove_dir_in_background(path: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        let _ = remove_dir_all_quiet(path);
        return;
    };
    let aside = path.with_file_name(format!(".{name}.removing"));
    match std::fs::rename(path, &aside) {
        Ok(()) => match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || remove_dir_all_quiet(&aside));
            }
            Err(_) => {
                let _ = remove_dir_all_quiet(&aside);
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => {
            let _ = remove_dir_all_quiet(path);
        }
    }
}

pub fn remove_dir_all_quiet(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
