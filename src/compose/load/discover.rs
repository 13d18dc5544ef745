//! File discovery: `compose.yaml`, `compose.yml`, `docker-compose.yaml`, `docker-compose.yml`
//! in the working directory or its parents, plus the matching `*.override.y(a)ml`.

use std::path::{Path, PathBuf};

use crate::compose::error::{ComposeError, Result};

/// The default file names, in order of preference.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Find the default compose file in `dir` or its closest parent, with its override file.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut d = Some(dir);
    while let Some(cur) = d {
        if let Some(found) = DEFAULT_FILES
            .iter()
            .map(|f| cur.join(f))
            .find(|p| p.is_file())
        {
            let mut out = vec![found.clone()];
            let stem = found
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.rsplit_once('.'))
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            for ext in ["yaml", "yml"] {
                let o = cur.join(format!("{stem}.override.{ext}"));
                if o.is_file() {
                    out.push(o);
                    break;
                }
            }
            return Ok(out);
        }
        d = cur.parent();
    }
    Err(ComposeError::NoConfigFile {
        dir: dir.to_path_buf(),
        candidates: DEFAULT_FILES.join(", "),
    })
}

/// Split `COMPOSE_FILE` (separator `COMPOSE_PATH_SEPARATOR`, default `:`).
pub fn split_compose_file(value: &str, sep: Option<&str>) -> Vec<PathBuf> {
    let sep = sep.filter(|s| !s.is_empty()).unwrap_or(":");
    value
        .split(sep)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_in_parents_with_override() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(
            t.path().join("docker-compose.override.yml"),
            "services: {}\n",
        )
        .unwrap();
        std::fs::write(t.path().join("compose.yaml"), "services: {}\n").unwrap();
        std::fs::write(t.path().join("compose.override.yml"), "services: {}\n").unwrap();
        let sub = t.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let found = discover(&sub).unwrap();
        assert_eq!(
            found,
            vec![
                t.path().join("compose.yaml"),
                t.path().join("compose.override.yml")
            ]
        );
        let e = discover(Path::new("/nonexistent-dir-wharf")).unwrap_err();
        assert!(e.to_string().contains("compose.yaml"));
    }

    #[test]
    fn compose_file_env() {
        assert_eq!(
            split_compose_file("a.yml:b.yml", None),
            vec![PathBuf::from("a.yml"), PathBuf::from("b.yml")]
        );
        assert_eq!(split_compose_file("a.yml;b.yml", Some(";")).len(), 2);
    }
}
