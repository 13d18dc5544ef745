//! The root filesystem set-up against a recording double of [`Syscall`]: which mounts are made,
//! in which order, with which flags, what a failure stops, and what the fallbacks do. No root
//! needed: nothing touches the host.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::{bind_console, lowerdir, setup_rootfs, NOSUID_NOEXEC_NODEV};
use crate::engine::runtime::init::EXIT_RUNTIME;
use crate::engine::runtime::spec::{MountKind, MountSpec, RuntimeSpec};
use crate::engine::runtime::syscall::{FileKind, Mount, Syscall};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount(PathBuf),
    PivotRoot,
    Chdir(PathBuf),
    Mknod(PathBuf, u64),
    Umask(u32),
    Symlink(PathBuf, PathBuf),
    CopyTree(PathBuf, PathBuf),
}

/// Records every call; keeps a file tree of paths to kinds; fails the mounts it is told to.
#[derive(Default)]
struct Recorder {
    calls: RefCell<Vec<Call>>,
    files: RefCell<BTreeMap<PathBuf, FileKind>>,
    /// Mounts of these file-system types or onto these targets fail.
    failing: BTreeSet<String>,
}

impl Recorder {
    fn with_files(files: &[(&str, FileKind)]) -> Self {
        let r = Recorder::default();
        for (p, k) in files {
            r.files.borrow_mut().insert(PathBuf::from(p), *k);
        }
        r
    }

    fn failing(mut self, what: &str) -> Self {
        self.failing.insert(what.to_string());
        self
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn mounts(&self) -> Vec<(String, Option<String>, MsFlags)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Mount {
                    target,
                    fstype,
                    flags,
                    ..
                } => Some((target.display().to_string(), fstype, flags)),
                _ => None,
            })
            .collect()
    }

    fn mounts_on(&self, target: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Mount { target: t, .. } if t == Path::new(target)))
            .collect()
    }
}

fn eperm<T>() -> nix::Result<T> {
    Err(nix::errno::Errno::EPERM)
}

impl Syscall for Recorder {
    fn mount(&self, m: &Mount<'_>) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Mount {
            source: m.source.map(Path::to_path_buf),
            target: m.target.to_path_buf(),
            fstype: m.fstype.map(String::from),
            flags: m.flags,
            data: m.data.map(String::from),
        });
        let t = m.target.display().to_string();
        if self.failing.contains(&t) || m.fstype.is_some_and(|f| self.failing.contains(f)) {
            return eperm();
        }
        Ok(())
    }

    fn umount2(&self, target: &Path, _flags: MntFlags) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Umount(target.to_path_buf()));
        Ok(())
    }

    fn pivot_root(&self, _new_root: &Path, _put_old: &Path) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::PivotRoot);
        if self.failing.contains("pivot_root") {
            return eperm();
        }
        Ok(())
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Chdir(path.to_path_buf()));
        Ok(())
    }

    fn mknod(&self, path: &Path, _kind: SFlag, _perm: Mode, dev: u64) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Mknod(path.to_path_buf(), dev));
        self.files
            .borrow_mut()
            .insert(path.to_path_buf(), FileKind::Other);
        Ok(())
    }

    fn umask(&self, mask: Mode) -> Mode {
        self.calls.borrow_mut().push(Call::Umask(mask.bits()));
        Mode::from_bits_truncate(0o022)
    }

    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Symlink(target.to_path_buf(), link.to_path_buf()));
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut files = self.files.borrow_mut();
        for p in path.ancestors() {
            files.entry(p.to_path_buf()).or_insert(FileKind::Dir);
        }
        Ok(())
    }

    fn create_file(&self, path: &Path) -> io::Result<()> {
        self.files
            .borrow_mut()
            .insert(path.to_path_buf(), FileKind::Other);
        Ok(())
    }

    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        self.files
            .borrow()
            .get(path)
            .copied()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn dir_is_empty(&self, path: &Path) -> bool {
        !self
            .files
            .borrow()
            .keys()
            .any(|p| p != path && p.starts_with(path))
    }

    fn copy_tree(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::CopyTree(from.to_path_buf(), to.to_path_buf()));
        Ok(())
    }
}

const ROOT: &str = "/run/c1/rootfs";

fn spec(privileged: bool, mounts: Vec<MountSpec>) -> RuntimeSpec {
    let mut s: RuntimeSpec = serde_json::from_value(serde_json::json!({
        "id": "c1",
        "rootfs": {
            "layers": ["/var/lib/wharf/layers/aaa", "/var/lib/wharf/layers/bbb"],
            "init_layer": "/var/lib/wharf/containers/c1/init",
            "upper": "/var/lib/wharf/containers/c1/upper",
            "work": "/var/lib/wharf/containers/c1/work",
            "mountpoint": ROOT,
        },
        "process": {
            "args": ["sh"], "env": [], "cwd": "/", "user": "", "capabilities": [],
        },
        "hostname": "c1",
        "mounts": [],
        "network": {"mode": "new"},
        "privileged": privileged,
        "masked_paths": ["/proc/kcore", "/proc/acpi", "/proc/absent"],
        "readonly_paths": ["/proc/sys", "/proc/absent2"],
        "cgroup": {"path": "wharf/c1"},
    }))
    .expect("spec");
    s.mounts = mounts;
    s
}

/// What the container's paths are after `pivot_root` (the double does not move its tree).
fn container_paths() -> Recorder {
    Recorder::with_files(&[
        ("/proc/kcore", FileKind::Other),
        ("/proc/acpi", FileKind::Dir),
        ("/proc/sys", FileKind::Dir),
    ])
}

fn bind(source: &str, dest: &str) -> MountSpec {
    MountSpec {
        destination: dest.into(),
        kind: MountKind::Bind {
            source: source.into(),
            readonly: false,
            copy_up: false,
            propagation: None,
        },
    }
}

fn at(p: &str) -> String {
    format!("{ROOT}{p}")
}

#[test]
fn lowerdir_puts_the_init_layer_on_top_and_names_store_layers_relative() {
    let s = spec(false, vec![]);
    let (lower, dir) = lowerdir(&s.rootfs);
    assert_eq!(lower, "/var/lib/wharf/containers/c1/init:bbb:aaa");
    assert_eq!(dir, Some(PathBuf::from("/var/lib/wharf/layers")));
    let mut s = s;
    s.rootfs.layers.push("/elsewhere/ccc".into());
    assert_eq!(
        lowerdir(&s.rootfs).0,
        "/var/lib/wharf/containers/c1/init:/elsewhere/ccc:bbb:aaa"
    );
}

#[test]
fn an_unprivileged_root_gets_dockers_mounts_in_order() {
    let sys = container_paths();
    setup_rootfs(&sys, &spec(false, vec![])).expect("set up");
    let ro = MsFlags::MS_RDONLY;
    let expected: Vec<(String, Option<String>, MsFlags)> = vec![
        ("/".into(), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE),
        (ROOT.into(), Some("overlay".into()), MsFlags::empty()),
        (at("/proc"), Some("proc".into()), NOSUID_NOEXEC_NODEV),
        (
            at("/dev"),
            Some("tmpfs".into()),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        ),
        (
            at("/dev/pts"),
            Some("devpts".into()),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        ),
        (at("/dev/shm"), Some("tmpfs".into()), NOSUID_NOEXEC_NODEV),
        (
            at("/dev/mqueue"),
            Some("mqueue".into()),
            NOSUID_NOEXEC_NODEV,
        ),
        (at("/sys"), Some("sysfs".into()), NOSUID_NOEXEC_NODEV | ro),
        // After pivot_root: masked paths (a file under /dev/null, a directory under tmpfs)...
        ("/proc/kcore".into(), None, MsFlags::MS_BIND),
        ("/proc/acpi".into(), Some("tmpfs".into()), ro),
        // ...and read-only paths (bound onto themselves, then remounted).
        ("/proc/sys".into(), None, MsFlags::MS_BIND | MsFlags::MS_REC),
        (
            "/proc/sys".into(),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | ro | MsFlags::MS_REC,
        ),
    ];
    assert_eq!(sys.mounts(), expected);
    let overlay = &sys.mounts_on(ROOT)[0];
    let Call::Mount { data, .. } = overlay else {
        panic!("{overlay:?}")
    };
    assert_eq!(
        data.as_deref(),
        Some(
            "lowerdir=/var/lib/wharf/containers/c1/init:bbb:aaa,\
             upperdir=/var/lib/wharf/containers/c1/upper,workdir=/var/lib/wharf/containers/c1/work"
        )
    );
    let calls = sys.calls();
    let pivot = calls
        .iter()
        .position(|c| *c == Call::PivotRoot)
        .expect("pivot");
    assert_eq!(calls[pivot - 1], Call::Chdir(ROOT.into()));
    assert_eq!(calls[pivot + 1], Call::Umount(".".into()));
    assert_eq!(calls[pivot + 2], Call::Chdir("/".into()));
    assert_eq!(calls[1], Call::Chdir("/var/lib/wharf/layers".into()));
}

#[test]
fn dev_gets_its_nodes_with_no_umask_and_its_symlinks() {
    let sys = container_paths();
    setup_rootfs(&sys, &spec(false, vec![])).expect("set up");
    let calls = sys.calls();
    let nodes: Vec<(PathBuf, u64)> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Mknod(p, d) => Some((p.clone(), *d)),
            _ => None,
        })
        .collect();
    let names: Vec<String> = nodes.iter().map(|(p, _)| p.display().to_string()).collect();
    let dev = at("/dev");
    assert_eq!(
        names,
        ["null", "zero", "full", "random", "urandom", "tty"].map(|n| format!("{dev}/{n}"))
    );
    assert_eq!(nodes[0].1, nix::sys::stat::makedev(1, 3));
    assert_eq!(nodes[5].1, nix::sys::stat::makedev(5, 0));
    let umasks: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c, Call::Umask(_)))
        .collect();
    assert_eq!(umasks, [&Call::Umask(0), &Call::Umask(0o022)]);
    assert!(calls.contains(&Call::Symlink(
        "pts/ptmx".into(),
        format!("{dev}/ptmx").into()
    )));
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::Symlink(..)))
            .count(),
        6
    );
}

#[test]
fn sysfs_falls_back_to_the_hosts_bound_read_only_unless_privileged() {
    for privileged in [false, true] {
        let sys = container_paths().failing("sysfs");
        setup_rootfs(&sys, &spec(privileged, vec![])).expect("set up");
        let sys_mounts = sys.mounts_on(&at("/sys"));
        let flags: Vec<MsFlags> = sys_mounts
            .iter()
            .map(|c| match c {
                Call::Mount { flags, .. } => *flags,
                _ => MsFlags::empty(),
            })
            .collect();
        let mut expected = vec![
            NOSUID_NOEXEC_NODEV
                | if privileged {
                    MsFlags::empty()
                } else {
                    MsFlags::MS_RDONLY
                },
            MsFlags::MS_BIND | MsFlags::MS_REC,
        ];
        if !privileged {
            expected.push(
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
            );
        }
        assert_eq!(flags, expected, "privileged {privileged}");
    }
}

#[test]
fn privileged_keeps_the_kernel_paths_and_a_read_only_root_is_remounted_last() {
    let sys = container_paths();
    let mut s = spec(true, vec![]);
    s.rootfs.readonly = true;
    setup_rootfs(&sys, &s).expect("set up");
    assert!(sys.mounts_on("/proc/kcore").is_empty() && sys.mounts_on("/proc/sys").is_empty());
    let last = sys.mounts().pop().expect("a mount");
    assert_eq!(
        last,
        (
            "/".into(),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY
        )
    );
}

#[test]
fn binds_make_their_mount_point_as_the_source_is_and_apply_options() {
    let sys = container_paths();
    sys.create_dir_all(Path::new("/vol/data")).expect("dir");
    sys.create_file(Path::new("/host/app.conf")).expect("file");
    // The image has content where the empty volume goes: it is copied into the volume first.
    sys.create_dir_all(Path::new(&at("/var/lib/data")))
        .expect("dir");
    let mounts = vec![
        MountSpec {
            destination: "/var/lib/data".into(),
            kind: MountKind::Bind {
                source: "/vol/data".into(),
                readonly: true,
                copy_up: true,
                propagation: Some("rshared".into()),
            },
        },
        bind("/host/app.conf", "/etc/app/app.conf"),
        MountSpec {
            destination: "/tmp".into(),
            kind: MountKind::Tmpfs {
                options: "size=1m".into(),
            },
        },
    ];
    setup_rootfs(&sys, &spec(false, mounts)).expect("set up");
    let data = at("/var/lib/data");
    assert!(sys
        .calls()
        .contains(&Call::CopyTree(data.clone().into(), "/vol/data".into())));
    let flags: Vec<MsFlags> = sys
        .mounts_on(&data)
        .iter()
        .map(|c| match c {
            Call::Mount { flags, .. } => *flags,
            _ => MsFlags::empty(),
        })
        .collect();
    assert_eq!(
        flags,
        [
            MsFlags::MS_BIND | MsFlags::MS_REC,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
        ]
    );
    // A file source: its parent directory made and an empty file to bind onto.
    let conf = at("/etc/app/app.conf");
    assert_eq!(sys.kind(Path::new(&conf)).ok(), Some(FileKind::Other));
    assert_eq!(
        sys.kind(Path::new(&at("/etc/app"))).ok(),
        Some(FileKind::Dir)
    );
    assert_eq!(sys.mounts_on(&conf).len(), 1);
    let tmp = &sys.mounts_on(&at("/tmp"))[0];
    assert!(
        matches!(tmp, Call::Mount { fstype: Some(t), data: Some(d), .. } if t == "tmpfs" && d == "size=1m"),
        "{tmp:?}"
    );
}

#[test]
fn a_volume_with_content_is_not_filled_again() {
    let sys = container_paths();
    sys.create_dir_all(Path::new("/vol/data/old")).expect("dir");
    sys.create_dir_all(Path::new(&at("/data"))).expect("dir");
    let m = MountSpec {
        destination: "/data".into(),
        kind: MountKind::Bind {
            source: "/vol/data".into(),
            readonly: false,
            copy_up: true,
            propagation: None,
        },
    };
    setup_rootfs(&sys, &spec(false, vec![m])).expect("set up");
    assert!(!sys.calls().iter().any(|c| matches!(c, Call::CopyTree(..))));
}

#[test]
fn a_missing_bind_source_fails_with_dockers_message_before_pivot_root() {
    let sys = container_paths();
    let err = setup_rootfs(&sys, &spec(false, vec![bind("/nope", "/x")])).expect_err("fails");
    assert_eq!(err.0, EXIT_RUNTIME);
    assert!(
        err.1.starts_with("bind source path does not exist: /nope:"),
        "{}",
        err.1
    );
    assert!(!sys.calls().contains(&Call::PivotRoot));
}

#[test]
fn a_failed_mount_stops_the_set_up_and_says_which() {
    let sys = container_paths().failing(&at("/dev/pts"));
    let err = setup_rootfs(&sys, &spec(false, vec![])).expect_err("fails");
    assert_eq!(
        err,
        (
            EXIT_RUNTIME,
            "mounting /dev/pts: EPERM: Operation not permitted".into()
        )
    );
    assert!(sys.mounts_on(&at("/dev/shm")).is_empty());
    let sys = container_paths().failing("pivot_root");
    let err = setup_rootfs(&sys, &spec(false, vec![])).expect_err("fails");
    assert!(err.1.starts_with("pivot_root:"), "{}", err.1);
    assert!(sys.mounts_on("/proc/kcore").is_empty());
}

#[test]
fn the_console_is_bound_onto_a_file_in_dev() {
    let sys = container_paths();
    bind_console(&sys, Path::new("/dev/pts/7")).expect("bound");
    let console = "/dev/console";
    assert_eq!(sys.kind(Path::new(console)).ok(), Some(FileKind::Other));
    assert!(matches!(
        &sys.mounts_on(console)[..],
        [Call::Mount { source: Some(src), flags, .. }] if src == Path::new("/dev/pts/7") && *flags == MsFlags::MS_BIND
    ));
}
