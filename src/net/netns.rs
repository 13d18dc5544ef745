//! Persistent network namespace files and running code inside a namespace.
//!
//! A persistent namespace is an empty file with the namespace bind-mounted on it (what
//! `ip netns add` and podman do): it lives as long as the mount, independently of any process, so
//! the container's processes can come and go (restarts) and keep their addresses. The container's
//! first process joins it with `setns` (`NetworkNamespace::Path` in the runtime).
//!
//! Everything here is synchronous and short; from async code call it directly (creation takes a
//! few hundred microseconds) or through `spawn_blocking`. Namespace switches always happen on a
//! dedicated, short-lived thread: the calling thread (a tokio worker, say) never changes namespace.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Create a persistent network namespace at `path` (parents created as needed), with `lo` up.
/// Fails if `path` already holds a namespace.
pub fn create(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if is_netns(path) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is already a network namespace", path.display()),
        ));
    }
    // The mount point: an empty file.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let target = path.to_path_buf();
    let res = std::thread::spawn(move || -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(io_err("unshare(CLONE_NEWNET)"))?;
        mount(
            Some(Path::new("/proc/thread-self/ns/net")),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(io_err(format!(
            "bind-mounting the namespace on {}",
            target.display()
        )))?;
        set_link_up("lo")
    })
    .join()
    .map_err(|_| io::Error::other("netns creation thread panicked"))?;
    if let Err(e) = res {
        let _ = umount2(path, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Delete a persistent network namespace: unmount it and remove the file. A missing file is not
/// an error (idempotent). The namespace itself disappears with its last user; its veth ends are
/// then destroyed by the kernel.
pub fn delete(path: &Path) -> io::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => {
            return Err(io::Error::other(format!(
                "unmounting {}: {e}",
                path.display()
            )))
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether `path` is a network namespace (a bind-mounted nsfs file).
pub fn is_netns(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    match nix::sys::statfs::statfs(path) {
        Ok(st) => st.filesystem_type().0 == NSFS_MAGIC,
        Err(_) => false,
    }
}

/// Run `f` with the calling context switched into the network namespace at `path`, on a dedicated
/// thread (scoped: `f` may borrow). Sockets created inside stay in that namespace.
pub fn run_in<F, R>(path: &Path, f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let ns = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    std::thread::scope(|s| {
        s.spawn(move || -> io::Result<R> {
            setns(&ns, CloneFlags::CLONE_NEWNET)
                .map_err(io_err(format!("joining {}", path.display())))?;
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("closure running in the network namespace panicked"))?
    })
}

/// Like [`run_in`] but on a `'static` thread, awaitable from async code without blocking a
/// runtime worker.
pub async fn run_in_async<F, R>(path: PathBuf, f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_in(&path, f));
    });
    rx.await
        .map_err(|_| io::Error::other("netns thread vanished"))?
}

/// Bring an interface of the current thread's namespace up (ioctl, no netlink needed).
pub(crate) fn set_link_up(name: &str) -> io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq with a NUL-terminated name.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let sock = <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in name.bytes().take(libc::IFNAMSIZ - 1).enumerate() {
            req.ifr_name[i] = b as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn io_err<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> io::Error {
    let what = what.into();
    move |e| io::Error::other(format!("{what}: {e}"))
}
