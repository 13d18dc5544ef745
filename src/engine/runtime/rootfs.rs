//! The container's root filesystem, set up in the child before `execve`, in phases: the mount
//! tree made private, the overlay of the image layers, the kernel file systems (`/proc`, `/dev`
//! with its nodes, `/dev/pts`, `/dev/shm`, `/dev/mqueue`, `/sys`), the container's own mounts (binds and tmpfs), `pivot_root`, then Docker's masked and read-only paths and a
//! read-only root. Every call goes through [`Syscall`], so the phases are unit-tested with a
//! recording double (see the tests below) and run on the host with [`super::syscall::Linux`].

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::init::EXIT_RUNTIME;
use super::spec::{MountKind, MountSpec, RootfsSpec, RuntimeSpec};
use super::syscall::{FileKind, Mount, Syscall};

/// A failure: Docker's exit code for it and the message.
pub type SetupError = (i32, String);

fn fail<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> SetupError {
    let what = what.into();
    move |e| (EXIT_RUNTIME, format!("{what}: {e}"))
}

const NOSUID_NOEXEC_NODEV: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NODEV);

/// Docker's `/dev/shm` size.
const DEFAULT_SHM_BYTES: u64 = 64 << 20;

/// Set up the root filesystem of `spec` and enter it.
pub fn setup_rootfs(sys: &dyn Syscall, spec: &RuntimeSpec) -> Result<(), SetupError> {
    let root_dir = Path::new("/");
    sys.mount(&Mount::change(
        root_dir,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
    ))
    .map_err(fail("making / private"))?;
    let root = mount_overlay(sys, &spec.rootfs)?;
    let fs = Rootfs { sys, root: &root };
    fs.mount_kernel_filesystems(spec.privileged, spec.rootfs.shm_size)?;
    for m in &spec.mounts {
        fs.mount_one(m)?;
    }
    pivot_root(sys, &root)?;
    if !spec.privileged {
        restrict_paths(sys, &spec.masked_paths, &spec.readonly_paths);
    }
    if spec.rootfs.readonly {
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        sys.mount(&Mount::change(root_dir, ro))
            .map_err(fail("making the root filesystem read-only"))?;
    }
    Ok(())
}

/// Bind a terminal's slave (`/dev/pts/N` of the container's devpts) onto `/dev/console`, in the
/// entered root: the console exists only once the container's own devpts is the one in reach.
pub fn bind_console(sys: &dyn Syscall, slave: &Path) -> Result<(), SetupError> {
    let target = Path::new("/dev/console");
    touch(sys, target)?;
    sys.mount(&Mount::bind(slave, target, MsFlags::MS_BIND))
        .map_err(fail("binding /dev/console"))
}

/// The overlay's `lowerdir`: the init layer on top, then the image's layers from the last to
/// the first; those in the layer store by their name only, relative to it (the option string
/// stays short however many layers there are). Returns the store's directory too.
fn lowerdir(r: &RootfsSpec) -> (String, Option<PathBuf>) {
    let layers_dir = r
        .layers
        .first()
        .and_then(|l| l.parent())
        .map(Path::to_path_buf);
    let mut lower: Vec<String> = vec![r.init_layer.display().to_string()];
    for l in r.layers.iter().rev() {
        match (&layers_dir, l.parent(), l.file_name()) {
            (Some(d), Some(p), Some(name)) if p == d => {
                lower.push(name.to_string_lossy().to_string())
            }
            _ => lower.push(l.display().to_string()),
        }
    }
    (lower.join(":"), layers_dir)
}

/// Mount the overlay of the layers on the mount point; returns the mount point.
fn mount_overlay(sys: &dyn Syscall, r: &RootfsSpec) -> Result<PathBuf, SetupError> {
    let (lower, layers_dir) = lowerdir(r);
    if let Some(d) = &layers_dir {
        sys.chdir(d).map_err(fail("entering the layer store"))?;
    }
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        r.upper.display(),
        r.work.display()
    );
    sys.create_dir_all(&r.mountpoint)
        .map_err(fail("creating the rootfs mount point"))?;
    let overlay = Mount::fs("overlay", &r.mountpoint, "overlay", MsFlags::empty());
    sys.mount(&overlay.data(Some(opts.as_str())))
        .map_err(fail("mounting the root filesystem (overlay)"))?;
    Ok(r.mountpoint.clone())
}

/// The new root before `pivot_root`: paths inside it, and the mounts made there.
struct Rootfs<'a> {
    sys: &'a dyn Syscall,
    root: &'a Path,
}

impl Rootfs<'_> {
    fn at(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// Create the directory `p` (inside the root) and mount a file system of `fstype` on it.
    fn mount_fs(
        &self,
        p: &str,
        source: &str,
        fstype: &str,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<PathBuf, SetupError> {
        let target = self.at(p);
        mkdir(self.sys, &target)?;
        self.sys
            .mount(&Mount::fs(source, &target, fstype, flags).data(data))
            .map_err(fail(format!("mounting {p}")))?;
        Ok(target)
    }

    fn mount_kernel_filesystems(
        &self,
        privileged: bool,
        shm_size: Option<u64>,
    ) -> Result<(), SetupError> {
        self.mount_fs("/proc", "proc", "proc", NOSUID_NOEXEC_NODEV, None)?;
        let dev = self.mount_fs(
            "/dev",
            "tmpfs",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        )?;
        make_devices(self.sys, &dev)?;
        self.mount_fs(
            "/dev/pts",
            "devpts",
            "devpts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        )?;
        self.mount_fs(
            "/dev/shm",
            "shm",
            "tmpfs",
            NOSUID_NOEXEC_NODEV,
            Some(&format!(
                "mode=1777,size={}",
                shm_size.unwrap_or(DEFAULT_SHM_BYTES)
            )),
        )?;
        self.mount_fs("/dev/mqueue", "mqueue", "mqueue", NOSUID_NOEXEC_NODEV, None)?;
        self.mount_sys(privileged)
    }

    /// sysfs, read-only unless privileged. Without a network namespace of our own it cannot
    /// be mounted: the host's is bound instead.
    fn mount_sys(&self, privileged: bool) -> Result<(), SetupError> {
        let sys_dir = self.at("/sys");
        mkdir(self.sys, &sys_dir)?;
        let flags = if privileged {
            NOSUID_NOEXEC_NODEV
        } else {
            NOSUID_NOEXEC_NODEV | MsFlags::MS_RDONLY
        };
        if self
            .sys
            .mount(&Mount::fs("sysfs", &sys_dir, "sysfs", flags))
            .is_ok()
        {
            return Ok(());
        }
        self.sys
            .mount(&Mount::bind(
                Path::new("/sys"),
                &sys_dir,
                MsFlags::MS_BIND | MsFlags::MS_REC,
            ))
            .map_err(fail("mounting /sys"))?;
        if !privileged {
            remount_ro(self.sys, &sys_dir)?;
        }
        Ok(())
    }

    /// One of the container's mounts.
    fn mount_one(&self, m: &MountSpec) -> Result<(), SetupError> {
        let target = self.at(&m.destination);
        match &m.kind {
            MountKind::Bind {
                source,
                readonly,
                copy_up,
                propagation,
            } => {
                let bind = Bind {
                    source,
                    readonly: *readonly,
                    copy_up: *copy_up,
                    propagation: propagation.as_deref(),
                };
                self.bind(&bind, &target, &m.destination)
            }
            MountKind::Tmpfs { options } => {
                mkdir(self.sys, &target)?;
                let opts = (!options.is_empty()).then_some(options.as_str());
                let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
                let tmpfs = Mount::fs("tmpfs", &target, "tmpfs", flags);
                self.sys
                    .mount(&tmpfs.data(opts))
                    .map_err(fail(format!("mounting tmpfs on {}", m.destination)))
            }
        }
    }

    /// A bind mount: its mount point made (a directory or a file, as the source), an empty
    /// volume filled from the image first when asked, then read-only and propagation.
    fn bind(&self, b: &Bind<'_>, target: &Path, destination: &str) -> Result<(), SetupError> {
        let sys = self.sys;
        let kind = sys.kind(b.source).map_err(|e| {
            (
                EXIT_RUNTIME,
                format!(
                    "bind source path does not exist: {}: {e}",
                    b.source.display()
                ),
            )
        })?;
        if kind == FileKind::Dir {
            mkdir(sys, target)?;
        } else {
            if let Some(p) = target.parent() {
                mkdir(sys, p)?;
            }
            touch(sys, target)?;
        }
        if b.copy_up
            && kind == FileKind::Dir
            && sys.dir_is_empty(b.source)
            && sys.kind(target).is_ok_and(|k| k == FileKind::Dir)
        {
            sys.copy_tree(target, b.source)
                .map_err(fail(format!("filling volume for {destination}")))?;
        }
        sys.mount(&Mount::bind(
            b.source,
            target,
            MsFlags::MS_BIND | MsFlags::MS_REC,
        ))
        .map_err(fail(format!(
            "mounting {} on {destination}",
            b.source.display()
        )))?;
        if b.readonly {
            remount_ro(sys, target)?;
        }
        if let Some(p) = b.propagation {
            set_propagation(sys, target, p)?;
        }
        Ok(())
    }
}

/// A bind mount as the spec asks for it.
struct Bind<'a> {
    source: &'a Path,
    readonly: bool,
    copy_up: bool,
    propagation: Option<&'a str>,
}

/// `pivot_root` onto the new root, then drop the old one.
fn pivot_root(sys: &dyn Syscall, root: &Path) -> Result<(), SetupError> {
    let here = Path::new(".");
    sys.chdir(root)
        .map_err(fail("entering the root filesystem"))?;
    sys.pivot_root(here, here).map_err(fail("pivot_root"))?;
    sys.umount2(here, MntFlags::MNT_DETACH)
        .map_err(fail("detaching the old root"))?;
    sys.chdir(Path::new("/")).map_err(fail("chdir /"))
}

/// Docker's masked paths (hidden) and read-only paths, where they exist. Best effort: a kernel
/// without one of them is no error.
fn restrict_paths(sys: &dyn Syscall, masked: &[String], readonly: &[String]) {
    for p in masked {
        mask_path(sys, Path::new(p));
    }
    for p in readonly {
        let p = Path::new(p);
        if sys.kind(p).is_ok() {
            let _ = sys.mount(&Mount::bind(p, p, MsFlags::MS_BIND | MsFlags::MS_REC));
            let _ = remount_ro(sys, p);
        }
    }
}

fn mkdir(sys: &dyn Syscall, p: &Path) -> Result<(), SetupError> {
    sys.create_dir_all(p)
        .map_err(fail(format!("creating {}", p.display())))
}

fn touch(sys: &dyn Syscall, p: &Path) -> Result<(), SetupError> {
    if sys.kind(p).is_err() {
        sys.create_file(p)
            .map_err(fail(format!("creating {}", p.display())))?;
    }
    Ok(())
}

/// A bind mount's propagation as `-v src:dst:rshared` asks.
fn set_propagation(sys: &dyn Syscall, p: &Path, mode: &str) -> Result<(), SetupError> {
    let flags = match mode {
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" => MsFlags::MS_PRIVATE,
        _ => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
    };
    sys.mount(&Mount::change(p, flags)).map_err(fail(format!(
        "setting {mode} propagation on {}",
        p.display()
    )))
}

fn remount_ro(sys: &dyn Syscall, p: &Path) -> Result<(), SetupError> {
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
    sys.mount(&Mount::change(p, ro))
        .map_err(fail(format!("remounting {} read-only", p.display())))
}

/// Hide a path: an empty read-only tmpfs over a directory, /dev/null over a file.
fn mask_path(sys: &dyn Syscall, p: &Path) {
    match sys.kind(p) {
        Ok(FileKind::Dir) => {
            let _ = sys.mount(&Mount::fs("tmpfs", p, "tmpfs", MsFlags::MS_RDONLY));
        }
        Ok(FileKind::Other) => {
            let null = Path::new("/dev/null");
            let _ = sys.mount(&Mount::bind(null, p, MsFlags::MS_BIND));
        }
        Err(_) => {}
    }
}

/// The device nodes Docker gives every container, and the usual symlinks.
const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

fn make_devices(sys: &dyn Syscall, dev: &Path) -> Result<(), SetupError> {
    let old = sys.umask(Mode::empty());
    for (name, major, minor) in DEVICES {
        sys.mknod(
            &dev.join(name),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(*major, *minor),
        )
        .map_err(fail(format!("creating /dev/{name}")))?;
    }
    sys.umask(old);
    for (link, target) in DEV_LINKS {
        let _ = sys.symlink(Path::new(target), &dev.join(link));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
