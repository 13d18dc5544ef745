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
pub fn remove_dir_all_quiet(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
