//! Where the engine keeps things: persistent state under the root, runtime state under the run root.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub run_root: PathBuf,
}

impl Paths {
    pub fn new(root: impl Into<PathBuf>, run_root: impl Into<PathBuf>) -> Self {
        Paths {
            root: root.into(),
            run_root: run_root.into(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.root.join("wharf.db")
    }
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }
    pub fn blob(&self, digest: &str) -> PathBuf {
        self.blobs()
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }
    /// The unpacked directory of a layer, keyed by its diff id (uncompressed digest).
    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.layers()
            .join(diff_id.strip_prefix("sha256:").unwrap_or(diff_id))
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes().join(name).join("_data")
    }
    /// Runtime directory of a container: supervisor socket, rootfs mount point.
    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.run_root.join("containers").join(id)
    }
    /// A container's supervisor socket. Kept short: UNIX socket paths are limited to 107 bytes.
    pub fn supervisor_socket(&self, id: &str) -> PathBuf {
        self.run_root
            .join("sup")
            .join(format!("{}.sock", &id[..id.len().min(16)]))
    }
    pub fn default_socket(&self) -> PathBuf {
        self.run_root.join("wharf.sock")
    }
    pub fn daemon_log(&self) -> PathBuf {
        self.run_root.join("wharf-daemon.log")
    }
    pub fn netns_dir(&self) -> PathBuf {
        self.run_root.join("netns")
    }
    pub fn seccomp_profile(&self) -> PathBuf {
        self.run_root.join("seccomp-default.bpf")
    }

    pub fn ensure(&self) -> std::io::Result<()> {
        for d in [
            self.root.clone(),
            self.blobs(),
            self.layers(),
            self.tmp(),
            self.containers(),
            self.volumes(),
            self.run_root.clone(),
            self.run_root.join("containers"),
            self.run_root.join("sup"),
            self.netns_dir(),
        ] {
            std::fs::create_dir_all(&d)?;
        }
        Ok(())
    }
}

/// Strip a `sha256:` prefix.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

pub fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}
