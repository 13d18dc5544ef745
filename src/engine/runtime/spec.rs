//! What a container is, as the daemon hands it to the supervisor (serialised as JSON in the
//! container's directory).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeSpec {
    pub id: String,
    pub rootfs: RootfsSpec,
    pub process: ProcessSpec,
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    pub mounts: Vec<MountSpec>,
    pub network: NetworkNamespace,
    /// Share the IPC/PID namespace of another process (`container:` modes), else new ones.
    #[serde(default)]
    pub join_pid_ns_of: Option<i32>,
    #[serde(default)]
    pub privileged: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub cgroup: CgroupSpec,
    /// Run a small reaping init as PID 1 (`--init`).
    #[serde(default)]
    pub init: bool,
    /// Namespaced sysctls (`--sysctl`), written in the container's namespaces before its root
    /// is set up; a value the kernel refuses fails the start.
    #[serde(default)]
    pub sysctls: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootfsSpec {
    /// Image layer directories, bottom first.
    pub layers: Vec<PathBuf>,
    /// Engine-made mount points (`/etc/hosts`, ...) laid over the image, like Docker's init layer.
    pub init_layer: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the overlay is mounted inside the container's mount namespace.
    pub mountpoint: PathBuf,
    #[serde(default)]
    pub readonly: bool,
    /// Bytes of `/dev/shm` (`--shm-size`); Docker's 64 MiB when None.
    #[serde(default)]
    pub shm_size: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// `user[:group]`, by name or id, resolved against the container's /etc/passwd and /etc/group.
    pub user: String,
    #[serde(default)]
    pub additional_groups: Vec<String>,
    #[serde(default)]
    pub tty: bool,
    /// Capability names without the `CAP_` prefix.
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// A compiled seccomp BPF program to load just before exec.
    #[serde(default)]
    pub seccomp_bpf: Option<PathBuf>,
    /// The nice value to run at (see [`super::priority`]); unchanged when None.
    #[serde(default)]
    pub nice: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rlimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountSpec {
    pub destination: String,
    pub kind: MountKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountKind {
    Bind {
        source: PathBuf,
        #[serde(default)]
        readonly: bool,
        /// A volume: when still empty, first fill it with what the image has at the target.
        #[serde(default)]
        copy_up: bool,
        /// `shared`, `rslave`, ...: applied to the mount after it is made (private if unset).
        #[serde(default)]
        propagation: Option<String>,
    },
    Tmpfs {
        #[serde(default)]
        options: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum NetworkNamespace {
    /// Share the host's network namespace.
    Host,
    /// A namespace of its own with only loopback up (`none`, and the default until a network
    /// driver attaches it).
    New,
    /// Join a prepared namespace (bind-mounted file), which outlives restarts of the process.
    Path { path: PathBuf },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CgroupSpec {
    /// Relative cgroup path, e.g. `wharf/<id>`.
    pub path: String,
    #[serde(default)]
    pub memory: Option<i64>,
    /// CPU quota in microseconds per 100 ms period.
    #[serde(default)]
    pub cpu_quota: Option<i64>,
    #[serde(default)]
    pub pids: Option<i64>,
}

/// Docker's masked and read-only /proc and /sys paths.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
