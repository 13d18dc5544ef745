//! The daemon ↔ supervisor protocol: each connection opens with one JSON request line.
//! One-shot requests get one JSON reply line; `events` streams state lines; `attach` answers
//! one line then carries raw stream bytes (Docker's 8-byte framing unless the container has a TTY).

use serde::{Deserialize, Serialize};

use super::RunState;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Release the container's first start (after the daemon attached its clients).
    Go,
    /// A state snapshot, then a line for every change until the supervisor ends.
    Events,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// Signal, then SIGKILL after `timeout_secs` (negative: wait forever). No restart follows.
    Stop {
        signal: i32,
        timeout_secs: i64,
    },
    Kill {
        signal: i32,
    },
    Resize {
        height: u16,
        width: u16,
    },
    /// Restart policy bookkeeping when the daemon pauses/unpauses the cgroup.
    SetPaused {
        paused: bool,
    },
    /// `update --restart`: the policy for the exits to come.
    SetRestartPolicy {
        restart: super::RestartPolicy,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
}

impl Reply {
    /// A plain success.
    pub fn ok() -> Self {
        Reply {
            ok: true,
            ..Default::default()
        }
    }
}

/// One line of the `events` stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventLine {
    /// Docker event action: `start`, `die`, `health_status: healthy`, `restart`, `oom`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub state: RunState,
}
