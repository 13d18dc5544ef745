//! The system calls the root filesystem set-up makes, behind one trait: mounts, `pivot_root`,
//! device nodes, symlinks, and the few file-system queries whose answers decide what is mounted
//! where. [`Linux`] makes the calls; the unit tests of [`super::rootfs`] give it an in-memory
//! double that records them, so the order and flags of every mount are checked without root
//! (the idea of youki's `Syscall` trait and its test double).
//!
//! Only the set-up's own calls are here. Everything after `pivot_root` that is not about mounts
//! (user, capabilities, seccomp, `execve`) is in [`super::init`] and runs on the host directly.

use std::io;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

/// What a path is, as far as the set-up cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    /// A regular file, a device, a socket...: bind-mounted onto a file.
    Other,
}

/// One `mount(2)` call.
#[derive(Debug, Clone, Copy)]
pub struct Mount<'a> {
    pub source: Option<&'a Path>,
    pub target: &'a Path,
    pub fstype: Option<&'a str>,
    pub flags: MsFlags,
    pub data: Option<&'a str>,
}

impl<'a> Mount<'a> {
    /// A file system of `fstype` from `source` (a device name or a tag) on `target`.
    pub fn fs(source: &'a str, target: &'a Path, fstype: &'a str, flags: MsFlags) -> Self {
        Mount {
            source: Some(Path::new(source)),
            target,
            fstype: Some(fstype),
            flags,
            data: None,
        }
    }

    /// `source` bound onto `target`.
    pub fn bind(source: &'a Path, target: &'a Path, flags: MsFlags) -> Self {
        Mount {
            source: Some(source),
            target,
            fstype: None,
            flags,
            data: None,
        }
    }

    /// New flags for the mount at `target` (a remount, a propagation change).
    pub fn change(target: &'a Path, flags: MsFlags) -> Self {
        Mount {
            source: None,
            target,
            fstype: None,
            flags,
            data: None,
        }
    }

    /// With file-system options.
    pub fn data(self, data: Option<&'a str>) -> Self {
        Mount { data, ..self }
    }
}

/// The set-up's view of the kernel. Paths are absolute (or relative to the current directory,
/// after `chdir`).
pub trait Syscall {
    fn mount(&self, m: &Mount<'_>) -> nix::Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()>;
    /// Set the umask; returns the previous one.
    fn umask(&self, mask: Mode) -> Mode;
    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()>;
    /// `mkdir -p`.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Create (or truncate) a regular file.
    fn create_file(&self, path: &Path) -> io::Result<()>;
    /// What `path` is, following symlinks.
    fn kind(&self, path: &Path) -> io::Result<FileKind>;
    /// Whether `path` is a directory with no entries (false when it cannot be read).
    fn dir_is_empty(&self, path: &Path) -> bool;
    /// `cp -a from/. to/` (a volume filled from the image on first use).
    fn copy_tree(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// The real calls, through `nix` and `std`.
pub struct Linux;

impl Syscall for Linux {
    fn mount(&self, m: &Mount<'_>) -> nix::Result<()> {
        nix::mount::mount(m.source, m.target, m.fstype, m.flags, m.data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        nix::sys::stat::mknod(path, kind, perm, dev)
    }

    fn umask(&self, mask: Mode) -> Mode {
        nix::sys::stat::umask(mask)
    }

    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn create_file(&self, path: &Path) -> io::Result<()> {
        std::fs::File::create(path).map(drop)
    }

    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        std::fs::metadata(path).map(|m| {
            if m.is_dir() {
                FileKind::Dir
            } else {
                FileKind::Other
            }
        })
    }

    fn dir_is_empty(&self, path: &Path) -> bool {
        std::fs::read_dir(path)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false)
    }

    fn copy_tree(&self, from: &Path, to: &Path) -> io::Result<()> {
        copy_tree(from, to)
    }
}

/// Copy a directory tree keeping modes, owners, symlinks and timestamps (`cp -a`).
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let md = std::fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()));
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
    }
    let md = std::fs::metadata(from)?;
    let _ = std::os::unix::fs::chown(to, Some(md.uid()), Some(md.gid()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    Ok(())
}
