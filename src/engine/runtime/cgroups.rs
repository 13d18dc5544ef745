//! Cgroups for containers. Membership lives in the unified (v2) hierarchy whenever one is
//! mounted, so the first process can be cloned straight into its cgroup (`CLONE_INTO_CGROUP`)
//! instead of being migrated afterwards (a migration waits for an RCU grace period: ~10 ms
//! here). Freezing and listing use the v2 core files (`cgroup.freeze`, `cgroup.procs`).
//! Resource limits go where the controllers are: the unified hierarchy on a pure v2 host, or
//! the v1 hierarchies on a hybrid host (this machine), where they are created only when a
//! limit is asked for.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::spec::CgroupSpec;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const V1_CONTROLLERS: &[&str] = &["cpu", "cpuacct", "memory", "pids", "freezer", "blkio"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Controllers mounted as v1 hierarchies (pure v1, or hybrid with a controller-less v2).
    V1,
    /// One unified v2 hierarchy with the controllers.
    V2,
}

pub fn detect() -> Option<Layout> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        Some(Layout::V2)
    } else if root.join("memory").join("memory.limit_in_bytes").exists() {
        Some(Layout::V1)
    } else {
        None
    }
}

/// The v2 hierarchy used for membership: the root on a pure v2 host, `unified` on a hybrid one.
fn unified_root() -> Option<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        Some(root.to_path_buf())
    } else if root.join("unified/cgroup.procs").exists() {
        Some(root.join("unified"))
    } else {
        None
    }
}

/// A container's cgroup in whichever layout is in use.
#[derive(Debug, Clone)]
pub struct Cgroup {
    layout: Layout,
    rel: String,
}

impl Cgroup {
    pub fn new(layout: Layout, rel: &str) -> Self {
        Cgroup {
            layout,
            rel: rel.trim_matches('/').to_string(),
        }
    }

    pub fn detect(rel: &str) -> Option<Self> {
        detect().map(|l| Cgroup::new(l, rel))
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The v2 directory holding the container's processes.
    fn unified(&self) -> Option<PathBuf> {
        unified_root().map(|r| r.join(&self.rel))
    }

    fn v1_dir(&self, controller: &str) -> PathBuf {
        Path::new(CGROUP_ROOT).join(controller).join(&self.rel)
    }

    /// v1 controller directories that exist for this container.
    fn v1_dirs(&self) -> Vec<PathBuf> {
        if self.layout != Layout::V1 {
            return Vec::new();
        }
        V1_CONTROLLERS
            .iter()
            .map(|c| self.v1_dir(c))
            .filter(|d| d.exists())
            .collect()
    }

    /// Directory of the given controller's files for this container.
    fn dir(&self, controller: &str) -> PathBuf {
        match self.layout {
            Layout::V1 if !controller.is_empty() => self.v1_dir(controller),
            _ => self.unified().unwrap_or_else(|| self.v1_dir("freezer")),
        }
    }

    /// Create the cgroup and write the limits.
    pub fn create(&self, spec: &CgroupSpec) -> std::io::Result<()> {
        if let Some(root) = unified_root() {
            if self.layout == Layout::V2 {
                enable_v2_controllers(&root, &self.rel)?;
            }
            std::fs::create_dir_all(root.join(&self.rel))?;
        }
        match self.layout {
            Layout::V1 => {
                let limits = [
                    (
                        "memory",
                        spec.memory
                            .map(|m| ("memory.limit_in_bytes", m.to_string())),
                    ),
                    (
                        "cpu",
                        spec.cpu_quota.map(|q| ("cpu.cfs_quota_us", q.to_string())),
                    ),
                    ("pids", spec.pids.map(|p| ("pids.max", limit(p)))),
                ];
                let any_limit = limits.iter().any(|(_, l)| l.is_some());
                // Without a v2 hierarchy for membership, v1 holds it: use every controller.
                let all = self.unified().is_none();
                for c in V1_CONTROLLERS {
                    if all || (any_limit && ["memory", "cpu", "pids"].contains(c)) {
                        std::fs::create_dir_all(self.v1_dir(c))?;
                    }
                }
                if spec.cpu_quota.is_some() {
                    write(&self.v1_dir("cpu"), "cpu.cfs_period_us", "100000")?;
                }
                for (c, l) in limits {
                    if let Some((file, value)) = l {
                        write(&self.v1_dir(c), file, &value)?;
                    }
                }
            }
            Layout::V2 => {
                let d = self.dir("");
                if let Some(m) = spec.memory {
                    write(&d, "memory.max", &m.to_string())?;
                }
                if let Some(q) = spec.cpu_quota {
                    write(&d, "cpu.max", &format!("{q} 100000"))?;
                }
                if let Some(p) = spec.pids {
                    write(&d, "pids.max", &limit(p))?;
                }
            }
        }
        Ok(())
    }

    /// The directory fd to clone into (`CLONE_INTO_CGROUP`), when there is a v2 hierarchy.
    pub fn clone_target(&self) -> Option<OwnedFd> {
        let u = self.unified()?;
        std::fs::File::open(u).ok().map(OwnedFd::from)
    }

    /// Put a process in the cgroup. `cloned_into_unified`: the v2 membership is already done.
    pub fn add(&self, pid: i32, cloned_into_unified: bool) -> std::io::Result<()> {
        if !cloned_into_unified {
            if let Some(u) = self.unified() {
                write(&u, "cgroup.procs", &pid.to_string())?;
            }
        }
        for d in self.v1_dirs() {
            write(&d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    pub fn freeze(&self, frozen: bool) -> std::io::Result<()> {
        match self.unified() {
            Some(u) => write(&u, "cgroup.freeze", if frozen { "1" } else { "0" }),
            None => write(
                &self.v1_dir("freezer"),
                "freezer.state",
                if frozen { "FROZEN" } else { "THAWED" },
            ),
        }
    }

    /// Read a control file of a controller (for tests and `stats`).
    pub fn read(&self, controller: &str, file: &str) -> std::io::Result<String> {
        std::fs::read_to_string(self.dir(controller).join(file)).map(|s| s.trim().to_string())
    }

    pub fn pids(&self) -> Vec<i32> {
        let dir = self.unified().unwrap_or_else(|| self.v1_dir("pids"));
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    /// Whether the memory controller recorded an out-of-memory kill.
    pub fn oom_killed(&self) -> bool {
        let events = match self.layout {
            Layout::V1 => self.read("memory", "memory.oom_control"),
            Layout::V2 => self.read("", "memory.events"),
        };
        events
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0"))
            })
            .unwrap_or(false)
    }

    /// SIGKILL every process in the cgroup (frozen ones too) and wait, bounded by `limit`,
    /// until it is empty. Event-driven on v2 (`cgroup.events` notifies `populated 0`).
    /// Whether the cgroup is empty at the end.
    pub fn kill_and_wait(&self, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        let Some(u) = self.unified().filter(|u| u.exists()) else {
            // No v2 membership: signal what v1 lists until nothing is left.
            while std::time::Instant::now() < deadline {
                let pids = self.pids();
                if pids.is_empty() {
                    return true;
                }
                for pid in pids {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return self.pids().is_empty();
        };
        let Ok(events) = std::fs::File::open(u.join("cgroup.events")) else {
            return true;
        };
        let populated = || {
            let mut buf = [0u8; 256];
            let n = nix::sys::uio::pread(&events, &mut buf, 0).unwrap_or(0);
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "populated 1")
        };
        if !populated() {
            return true;
        }
        if std::fs::write(u.join("cgroup.kill"), "1").is_err() {
            // Kernels before 5.14: signal each member (they cannot fork once SIGKILLed).
            let _ = self.freeze(false);
            for pid in self.pids() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        use std::os::fd::AsFd;
        while populated() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [nix::poll::PollFd::new(
                events.as_fd(),
                nix::poll::PollFlags::POLLPRI,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
        }
        true
    }

    /// Remove the cgroup, killing anything still in it.
    pub fn destroy(&self) {
        if let Some(u) = self.unified() {
            let _ = std::fs::write(u.join("cgroup.kill"), "1");
        }
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let mut dirs = self.v1_dirs();
        dirs.extend(self.unified());
        for d in dirs {
            // Killed processes leave the cgroup asynchronously: a few retries at most.
            for _ in 0..50 {
                match std::fs::remove_dir(&d) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(2))
                    }
                    _ => break,
                }
            }
        }
    }
}

fn limit(v: i64) -> String {
    if v <= 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(file), value).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("writing {value} to {}: {e}", dir.join(file).display()),
        )
    })
}

/// In v2, a controller is usable in a child only when every ancestor enables it for its children.
fn enable_v2_controllers(root: &Path, rel: &str) -> std::io::Result<()> {
    let available = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = available
        .split_whitespace()
        .filter(|c| ["cpu", "memory", "pids", "io"].contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        for w in &wanted {
            let _ = std::fs::write(dir.join("cgroup.subtree_control"), w);
        }
        dir = dir.join(part);
        std::fs::create_dir_all(&dir)?;
    }
    for w in &wanted {
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), w);
    }
    Ok(())
}
