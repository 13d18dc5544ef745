//! Supervision: one small process per running container (the wharf binary re-executed, like
//! conmon or containerd-shim). It is the container's parent: it holds its stdio, writes its
//! logs, records its exit status, applies the restart policy and runs healthchecks, and it
//! outlives the daemon. The daemon talks to it over a UNIX socket in the container's run dir.

pub mod health;
pub mod logs;
pub mod protocol;
pub mod restart;
mod run;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use run::main as supervise_main;

use super::runtime::RuntimeSpec;
pub use health::{HealthSpec, HealthState};
pub use restart::RestartPolicy;

/// Everything the supervisor needs, written by the daemon as `supervisor.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorConfig {
    pub spec: RuntimeSpec,
    pub log_path: PathBuf,
    pub state_path: PathBuf,
    pub socket_path: PathBuf,
    #[serde(default)]
    pub open_stdin: bool,
    #[serde(default)]
    pub stdin_once: bool,
    pub restart: RestartPolicy,
    #[serde(default)]
    pub health: Option<HealthSpec>,
    pub stop_signal: i32,
    pub stop_timeout_secs: u64,
    /// Restart count carried over from earlier runs (policy counts survive `start`).
    #[serde(default)]
    pub restart_count: u32,
    /// The wharf binary, re-executed as `__nsexec` for probes.
    pub wharf_binary: PathBuf,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Created => "created",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Restarting => "restarting",
            RunStatus::Removing => "removing",
            RunStatus::Exited => "exited",
            RunStatus::Dead => "dead",
        }
    }
}

/// The runtime state of a container, as recorded by its supervisor in `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunState {
    pub status: RunStatus,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub supervisor_pid: i32,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub health: Option<HealthState>,
    /// Stopped by `stop`/`kill` from a user: restart policies do not apply.
    #[serde(default)]
    pub stopped_by_user: bool,
}

impl RunState {
    pub fn is_running(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Running | RunStatus::Paused | RunStatus::Restarting
        )
    }
}
