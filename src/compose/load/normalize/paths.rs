//! Paths: relative paths and `~` resolved against the file's directory, lexically cleaned
//! (without touching the filesystem), and the tests for what counts as a host path.

use std::path::{Component, Path, PathBuf};

use crate::compose::load::env::Environment;

use super::NormCtx;

/// Lexically clean a path (`.` and `..` components), without touching the filesystem.
pub fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Resolve `~` and a relative path against the base directory.
pub fn resolve_path(s: &str, ctx: &NormCtx<'_>) -> String {
    resolve_path_in(s, ctx.base_dir, ctx.env)
}

pub(crate) fn resolve_path_in(s: &str, base: &Path, env: &Environment) -> String {
    let expanded = if s == "~" || s.starts_with("~/") {
        let home = env.get("HOME").unwrap_or_else(|| "/root".into());
        format!("{home}{}", &s[1..])
    } else {
        s.to_string()
    };
    let p = Path::new(&expanded);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    clean_path(&abs).display().to_string()
}

/// A mount target in the container, cleaned as docker compose does (`/data/` → `/data`).
pub(super) fn clean_target(t: &str) -> String {
    match t.starts_with('/') {
        true => clean_path(Path::new(t)).display().to_string(),
        false => t.to_string(),
    }
}

pub(super) fn is_remote_context(s: &str) -> bool {
    s.contains("://") || s.starts_with("git@") || s.starts_with("github.com/")
}

pub(super) fn is_bind_source(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(
            clean_path(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        let env = Environment::default();
        assert_eq!(resolve_path_in("./data", Path::new("/p"), &env), "/p/data");
        assert_eq!(resolve_path_in("../x", Path::new("/p/q"), &env), "/p/x");
        assert_eq!(resolve_path_in("/abs", Path::new("/p"), &env), "/abs");
    }
}
