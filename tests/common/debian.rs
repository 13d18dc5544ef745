//! A Debian bookworm root filesystem made with mmdebstrap, for tests that build real images
//! with `RUN apt-get` (through wharf's NAT to Debian's mirror). Made once per machine (a few
//! minutes) and cached under /var/tmp by its recipe; concurrent tests wait for one maker.

#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

const RECIPE: [&str; 3] = ["--quiet", "--variant=apt", "bookworm"];
const MIRROR: &str = "http://deb.debian.org/debian";

/// A short hash of `parts`, for cache file names.
pub fn content_key(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..8])
}

/// The cache key of the root filesystem (its recipe and mirror).
pub fn rootfs_key() -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{RECIPE:?} {MIRROR}").as_bytes());
    hex::encode(&h[..8])
}

/// Hold an exclusive lock on `/var/tmp/<name>.lock` while `f` runs: one maker per artefact.
pub fn with_lock<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("/var/tmp/{name}.lock"))
        .unwrap();
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    f()
}

/// The path of the bookworm root filesystem tar, made first if it is not cached yet.
pub fn rootfs() -> PathBuf {
    let key = rootfs_key();
    let tar = PathBuf::from(format!("/var/tmp/wharf-build-debian-{key}.tar"));
    with_lock(&format!("wharf-build-debian-{key}"), || {
        if tar.exists() {
            return;
        }
        // mmdebstrap picks its output format by the name: keep `.tar`.
        let tmp = PathBuf::from(format!(
            "/var/tmp/wharf-build-debian-{key}.{}.tar",
            std::process::id()
        ));
        let st = Command::new("mmdebstrap")
            .args(RECIPE)
            .arg(&tmp)
            .arg(MIRROR)
            .status()
            .expect("mmdebstrap (Debian's mmdebstrap package) is needed");
        assert!(st.success(), "mmdebstrap failed");
        std::fs::rename(&tmp, &tar).unwrap();
    });
    tar
}
