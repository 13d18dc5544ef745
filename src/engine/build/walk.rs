//! The entries of a context directory that `.dockerignore` lets through, in the order a
//! context tar lists them (each directory's entries sorted by name, a directory before what
//! it holds). One walk for both ends: the client packs what it yields into the tar it sends,
//! and the daemon mirrors what it yields from a local directory (`mirror`), so both see the
//! same files.

use std::fs::Metadata;
use std::path::Path;

use super::pattern::Ignore;

/// Visit every entry under `root` that `ignore` keeps; `keep` names context-relative paths
/// that go even when ignored (the client always sends the Dockerfile and `.dockerignore`).
/// An excluded directory is still walked when a `!` exception may re-include something under
/// it; its entry itself is not visited. Symlinks are not followed.
pub fn included(
    root: &Path,
    ignore: &Ignore,
    keep: &[String],
    visit: &mut dyn FnMut(&str, &Path, &Metadata) -> std::io::Result<()>,
) -> std::io::Result<()> {
    walk(root, "", ignore, keep, visit)
}

fn walk(
    root: &Path,
    rel: &str,
    ignore: &Ignore,
    keep: &[String],
    visit: &mut dyn FnMut(&str, &Path, &Metadata) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let md = std::fs::symlink_metadata(e.path())?;
        let is_dir = md.is_dir();
        if ignore.excluded(&path) && !keep.contains(&path) {
            if is_dir && ignore.may_include_under(&path) {
                walk(root, &path, ignore, keep, visit)?;
            }
            continue;
        }
        visit(&path, &e.path(), &md)?;
        if is_dir {
            walk(root, &path, ignore, keep, visit)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_pre_order_without_what_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("b/inner")).unwrap();
        std::fs::create_dir_all(p.join("skip/keep")).unwrap();
        std::fs::write(p.join("b/inner/x"), "x").unwrap();
        std::fs::write(p.join("a.log"), "x").unwrap();
        std::fs::write(p.join("Dockerfile"), "x").unwrap();
        std::fs::write(p.join("skip/keep/y"), "y").unwrap();
        std::fs::write(p.join("skip/z"), "z").unwrap();
        let ignore = Ignore::parse("*.log\nskip\n!skip/keep\nDockerfile\n").unwrap();
        let mut seen = Vec::new();
        included(p, &ignore, &["Dockerfile".into()], &mut |rel, _, _| {
            seen.push(rel.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "Dockerfile",
                "b",
                "b/inner",
                "b/inner/x",
                "skip/keep",
                "skip/keep/y"
            ]
        );
    }
}
