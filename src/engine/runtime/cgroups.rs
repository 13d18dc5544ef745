//! Cgroups for containers: detect whether the controllers live in cgroup v1 hierarchies or the
//! unified v2 one, create `<path>` with the limits, add processes, freeze, read back, remove.

use std::path::{Path, PathBuf};

use super::spec::CgroupSpec;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const V1_CONTROLLERS: &[&str] = &["cpu", "cpuacct", "memory", "pids", "freezer", "blkio"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Controllers mounted as separate v1 hierarchies (also the hybrid layout).
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

    /// The directories making up this cgroup (one per v1 controller, or one for v2).
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self.layout {
            Layout::V1 => V1_CONTROLLERS
                .iter()
                .map(|c| Path::new(CGROUP_ROOT).join(c).join(&self.rel))
                .collect(),
            Layout::V2 => vec![Path::new(CGROUP_ROOT).join(&self.rel)],
        }
    }

    fn dir(&self, controller: &str) -> PathBuf {
        match self.layout {
            Layout::V1 => Path::new(CGROUP_ROOT).join(controller).join(&self.rel),
            Layout::V2 => Path::new(CGROUP_ROOT).join(&self.rel),
        }
    }

    /// Create the cgroup and write the limits.
    pub fn create(&self, spec: &CgroupSpec) -> std::io::Result<()> {
        match self.layout {
            Layout::V1 => {
                for d in self.dirs() {
                    std::fs::create_dir_all(&d)?;
                }
                if let Some(m) = spec.memory {
                    write(&self.dir("memory"), "memory.limit_in_bytes", &m.to_string())?;
                }
                if let Some(q) = spec.cpu_quota {
                    write(&self.dir("cpu"), "cpu.cfs_period_us", "100000")?;
                    write(&self.dir("cpu"), "cpu.cfs_quota_us", &q.to_string())?;
                }
                if let Some(p) = spec.pids {
                    write(&self.dir("pids"), "pids.max", &limit(p))?;
                }
            }
            Layout::V2 => {
                enable_v2_controllers(Path::new(CGROUP_ROOT), &self.rel)?;
                std::fs::create_dir_all(self.dir(""))?;
                if let Some(m) = spec.memory {
                    write(&self.dir(""), "memory.max", &m.to_string())?;
                }
                if let Some(q) = spec.cpu_quota {
                    write(&self.dir(""), "cpu.max", &format!("{q} 100000"))?;
                }
                if let Some(p) = spec.pids {
                    write(&self.dir(""), "pids.max", &limit(p))?;
                }
            }
        }
        Ok(())
    }

    pub fn add(&self, pid: i32) -> std::io::Result<()> {
        for d in self.dirs() {
            write(&d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    pub fn freeze(&self, frozen: bool) -> std::io::Result<()> {
        match self.layout {
            Layout::V1 => write(
                &self.dir("freezer"),
                "freezer.state",
                if frozen { "FROZEN" } else { "THAWED" },
            ),
            Layout::V2 => write(
                &self.dir(""),
                "cgroup.freeze",
                if frozen { "1" } else { "0" },
            ),
        }
    }

    /// Read a control file of a controller (for tests and `stats`).
    pub fn read(&self, controller: &str, file: &str) -> std::io::Result<String> {
        std::fs::read_to_string(self.dir(controller).join(file)).map(|s| s.trim().to_string())
    }

    pub fn pids(&self) -> Vec<i32> {
        self.read("pids", "cgroup.procs")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    /// Whether the memory controller recorded an out-of-memory kill.
    pub fn oom_killed(&self) -> bool {
        match self.layout {
            Layout::V1 => self
                .read("memory", "memory.oom_control")
                .map(|s| {
                    s.lines()
                        .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0"))
                })
                .unwrap_or(false),
            Layout::V2 => self
                .read("", "memory.events")
                .map(|s| {
                    s.lines()
                        .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0"))
                })
                .unwrap_or(false),
        }
    }

    /// Remove the cgroup, killing anything still in it.
    pub fn destroy(&self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for d in self.dirs() {
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
        dir = dir.join(part);
        let parent_of = dir.parent().unwrap().to_path_buf();
        for w in &wanted {
            let _ = std::fs::write(parent_of.join("cgroup.subtree_control"), w);
        }
        std::fs::create_dir_all(&dir)?;
    }
    for w in &wanted {
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), w);
    }
    Ok(())
}
