//! `GET /containers/{id}/changes` (`wharf diff`): what a container changed in its root
//! filesystem, read from its overlay upper directory against the image's layers, with
//! Docker's kinds: 0 modified, 1 added, 2 deleted (an overlay whiteout).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fs::ENGINE_FILES;
use crate::engine::error::{IoContext, Result};
use crate::engine::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    pub kind: u8,
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self.kind {
            0 => "C",
            1 => "A",
            _ => "D",
        }
    }
}

/// Walk `upper` (relative path `rel`), classifying each entry against the `lowers`.
fn walk(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(upper.join(rel))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = rel.join(e.file_name());
        let shown = format!("/{}", path.display());
        if ENGINE_FILES.iter().any(|f| Path::new(f) == path) {
            continue;
        }
        let meta = e.metadata()?;
        let in_lower = lowers
            .iter()
            .any(|l| l.join(&path).symlink_metadata().is_ok());
        // A whiteout: a 0:0 character device.
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            if in_lower {
                out.push(Change {
                    path: shown,
                    kind: ChangeKind::Deleted as u8,
                });
            }
            continue;
        }
        let kind = if in_lower {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change {
            path: shown,
            kind: kind as u8,
        });
        if meta.is_dir() {
            walk(upper, &path, lowers, out)?;
        }
    }
    Ok(())
}

impl Engine {
    pub fn container_changes(&self, key: &str) -> Result<Vec<Change>> {
        let rec = self.containers.resolve(key)?;
        let image = self.images.get(&rec.image_id)?;
        let dir = self.containers.dir(&rec.id);
        let mut lowers = vec![dir.join("init")];
        lowers.extend(self.images.layer_dirs(&image));
        let upper = dir.join("upper");
        let mut out = Vec::new();
        walk(&upper, Path::new(""), &lowers, &mut out)
            .ctx(|| format!("reading {}", upper.display()))?;
        Ok(out)
    }
}
