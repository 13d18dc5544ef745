//! A supervisor that dies (kill -9, a crash) leaves its container without a parent: nobody
//! records its exit, applies its restart policy or holds its stdio. The daemon notices at
//! once (the supervisor's `events` connection hangs up), kills what is left in the container's
//! cgroup (exact: every process of the container, nothing else), records exit 137 as
//! containerd does when a shim dies, removes the stale socket and applies the restart policy
//! with Docker's backoff. Starts of one container are serialised, so two inits never share a
//! container.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use crate::engine::runtime::cgroups::Cgroup;
use crate::engine::supervisor::restart::Backoff;
use crate::engine::supervisor::{RunState, RunStatus};
use crate::engine::Engine;

/// What the container's processes get when their supervisor is gone: SIGKILL (128 + 9).
pub const ORPHAN_EXIT_CODE: i32 = 137;

/// How long the daemon waits for a killed cgroup to empty.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The daemon's share of supervision: per-container start locks, and restarts the daemon
/// itself scheduled for containers whose supervisor died.
#[derive(Default)]
pub struct Supervision {
    starts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    restarts: Mutex<HashMap<String, PendingRestart>>,
    backoffs: Mutex<HashMap<String, Backoff>>,
}

struct PendingRestart {
    task: tokio::task::AbortHandle,
}

impl Supervision {
    /// Held while a container starts or its supervisor's end is handled.
    pub async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let m = self
            .starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone();
        m.lock_owned().await
    }

    /// Drop a restart the daemon scheduled (the user stopped, killed, started or removed the
    /// container in the meantime). Whether one was pending.
    pub fn cancel_restart(&self, id: &str) -> bool {
        let pending = self
            .restarts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        match pending {
            Some(p) => {
                p.task.abort();
                true
            }
            None => false,
        }
    }

    /// Forget a removed container.
    pub fn forget(&self, id: &str) {
        self.cancel_restart(id);
        self.backoffs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    fn next_delay(&self, id: &str, ran_for: Duration) -> Duration {
        self.backoffs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_string())
            .or_default()
            .delay(ran_for)
    }
}

/// Kill every process left in a container's cgroup and wait until it is empty.
pub async fn kill_cgroup(id: &str) {
    let Some(cg) = Cgroup::detect(&format!("wharf/{id}")) else {
        return;
    };
    let _ = tokio::task::spawn_blocking(move || {
        cg.kill_and_wait(KILL_WAIT);
        cg.destroy();
    })
    .await;
}

/// How long the last run of a container lasted (for the backoff's reset after 10 s).
fn ran_for(state: &RunState) -> Duration {
    state
        .started_at
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .and_then(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .ok()
        })
        .unwrap_or_default()
}

impl Engine {
    /// The supervisor ended without recording the container's end: the state the daemon
    /// records instead (the container itself has been killed through its cgroup).
    pub(super) fn orphaned_state(mut state: RunState) -> RunState {
        state.status = RunStatus::Exited;
        state.exit_code = ORPHAN_EXIT_CODE;
        state.pid = 0;
        state.error = "the container's supervisor died; its processes were killed".into();
        state.finished_at = Some(crate::engine::now_rfc3339());
        state
    }

    /// Apply the restart policy to a container whose supervisor died. Whether a restart was
    /// scheduled.
    pub(super) fn restart_orphan(self: &Arc<Self>, id: &str, state: &RunState) -> bool {
        let Some(rec) = self.containers.get(id) else {
            return false;
        };
        let Ok(policy) = super::create::restart_policy(&rec.host_config) else {
            return false;
        };
        if !policy.should_restart(ORPHAN_EXIT_CODE, state.restart_count, state.stopped_by_user) {
            return false;
        }
        let delay = self.supervision.next_delay(id, ran_for(state));
        let engine = self.clone();
        let task_id = id.to_string();
        let mut restarts = self
            .supervision
            .restarts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            engine
                .supervision
                .restarts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&task_id);
            let bumped = engine
                .containers
                .update(&task_id, |r| r.state.restart_count += 1);
            if bumped.is_ok() {
                if let Err(e) = engine.start_container(&task_id).await {
                    tracing::warn!(container = %task_id, "restarting after its supervisor died: {e}");
                }
            }
        });
        restarts.insert(
            id.to_string(),
            PendingRestart {
                task: task.abort_handle(),
            },
        );
        true
    }
}

/// Whether `pid` is still the supervisor of container `id` (not a reused pid).
pub fn supervisor_alive(pid: i32, id: &str) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    if args.get(1) != Some(&&b"__supervise"[..]) {
        return false;
    }
    if args
        .get(2)
        .is_some_and(|p| String::from_utf8_lossy(p).contains(id))
    {
        return true;
    }
    // A spare (`__supervise -`) learnt its container after it started: its open log files,
    // in the container's directory, name it.
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| target.to_string_lossy().contains(id))
}
