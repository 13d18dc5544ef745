//! Container lifecycle in the daemon: follow a supervisor's events, stop, kill, wait,
//! restart, pause, remove, and recovery of supervisors after a daemon restart. Starting is
//! [`super::start`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::EventMessageTypeEnum;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::mounts::MountKind;
use super::orphan::{self, supervisor_alive};
use super::ContainerRecord;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::runtime::cgroups::Cgroup;
use crate::engine::supervisor::protocol::{EventLine, Reply, Request};
use crate::engine::supervisor::{RunState, RunStatus};
use crate::engine::Engine;

/// A client waiting to attach to a container that has not started yet.
pub struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tx: oneshot::Sender<UnixStream>,
}

#[derive(Default)]
pub struct AttachWaiters {
    pub(super) waiters: std::sync::Mutex<HashMap<String, Vec<PendingAttach>>>,
}

/// What `wait` waits for, as Docker's `condition` parameter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s.unwrap_or("not-running") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::invalid(format!("invalid condition: {other:?}"))),
        }
    }
}

pub(super) async fn read_line(reader: &mut BufReader<UnixStream>) -> Result<String> {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .ctx(|| "reading from the container's supervisor".into())?;
    Ok(line)
}

/// Open a connection to a supervisor and send a request line.
pub(super) async fn connect(socket: &Path, req: &Request) -> Result<BufReader<UnixStream>> {
    let mut stream = UnixStream::connect(socket)
        .await
        .ctx(|| format!("connecting to the supervisor at {}", socket.display()))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .await
        .ctx(|| "talking to the supervisor".into())?;
    Ok(BufReader::new(stream))
}

/// Wait (bounded) until the supervisor at `socket` hangs up: it has ended, and its cgroup
/// and socket are gone.
pub(super) async fn wait_for_end(socket: &Path) {
    let Ok(mut events) = connect(socket, &Request::Events).await else {
        return;
    };
    let drain = async {
        let mut line = String::new();
        while matches!(events.read_line(&mut line).await, Ok(n) if n > 0) {
            line.clear();
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
}

pub(super) async fn request(socket: &Path, req: &Request) -> Result<Reply> {
    let mut r = connect(socket, req).await?;
    let line = read_line(&mut r).await?;
    serde_json::from_str(&line)
        .map_err(|e| Error::internal(format!("supervisor reply {line:?}: {e}")))
}

/// Whether the record names a supervisor other than `supervisor_pid` (a start after it).
fn superseded(rec: &ContainerRecord, supervisor_pid: Option<i32>) -> bool {
    supervisor_pid
        .is_some_and(|pid| rec.state.supervisor_pid != 0 && rec.state.supervisor_pid != pid)
}

impl Engine {
    pub(super) fn socket_of(&self, id: &str) -> std::path::PathBuf {
        self.paths.supervisor_socket(id)
    }

    fn publish_container(&self, rec: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs: HashMap<String, String> = rec.labels();
        attrs.insert("name".into(), rec.name.clone());
        attrs.insert("image".into(), rec.image_name());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events
            .publish(EventMessageTypeEnum::CONTAINER, action, &rec.id, attrs);
    }

    /// Follow a supervisor's events until it ends (its connection hangs up: at once, even
    /// when it is killed); keep the record's state current.
    pub(super) async fn monitor(
        self: Arc<Self>,
        id: String,
        supervisor_pid: Option<i32>,
        mut events: BufReader<UnixStream>,
    ) {
        loop {
            let mut line = String::new();
            match events.read_line(&mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let Ok(ev) = serde_json::from_str::<EventLine>(&line) else {
                continue;
            };
            let persist = ev
                .action
                .as_deref()
                .is_some_and(|a| !a.starts_with("health_status"));
            if self
                .containers
                .get(&id)
                .is_some_and(|r| superseded(&r, supervisor_pid))
            {
                // A newer supervisor runs the container: this one's last words are not its state.
                break;
            }
            let Some(rec) = self.containers.set_state(&id, ev.state.clone(), persist) else {
                return;
            };
            if let Some(action) = &ev.action {
                let extra: Vec<(&str, String)> = if action == "die" {
                    vec![("exitCode", ev.state.exit_code.to_string())]
                } else {
                    Vec::new()
                };
                self.publish_container(&rec, action, &extra);
            }
        }
        self.supervisor_gone(&id, supervisor_pid).await;
    }

    /// A supervisor ended (`gone`: its pid, when known): take its last recorded state, make
    /// sure nothing of the container survives it, then apply the restart policy (it died
    /// before recording an end) or `--rm`.
    #[tracing::instrument(target = "phase", level = "debug", name = "exit handling", skip_all)]
    async fn supervisor_gone(self: &Arc<Self>, id: &str, gone: Option<i32>) {
        let _start = self.supervision.lock(id).await;
        let state_path = self.containers.dir(id).join("state.json");
        let state: RunState = std::fs::read(&state_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        // The record knows the supervisor that runs the container now before that one has
        // written its state file: a start right after this one's end must not be undone.
        let newer = |rec: &ContainerRecord| match gone {
            Some(pid) => {
                (state.supervisor_pid != 0 && state.supervisor_pid != pid) || superseded(rec, gone)
            }
            None => {
                supervisor_alive(state.supervisor_pid, id)
                    || supervisor_alive(rec.state.supervisor_pid, id)
            }
        };
        let Some(rec) = self.containers.get(id).filter(|r| !newer(r)) else {
            // Another supervisor runs the container now (a restart): nothing here is ours.
            return;
        };
        let crashed = state.is_running();
        if crashed && !rec.state.is_running() {
            // Already handled (the same death seen twice).
            return;
        }
        orphan::kill_cgroup(id).await;
        let _ = std::fs::remove_file(self.socket_of(id));
        let mut final_state = if crashed {
            Self::orphaned_state(state)
        } else {
            state
        };
        if final_state.status == RunStatus::Created && rec.has_been_started {
            final_state.status = RunStatus::Exited;
        }
        let rec = self
            .containers
            .set_state(id, final_state.clone(), true)
            .unwrap_or(rec);
        if crashed {
            let code = final_state.exit_code.to_string();
            self.publish_container(&rec, "die", &[("exitCode", code)]);
        }
        self.network_stopped(id).await;
        let _ = std::fs::remove_dir_all(self.paths.container_run_dir(id));
        if crashed && self.restart_orphan(id, &final_state) {
            return;
        }
        if rec.host_config.auto_remove.unwrap_or(false) && rec.state.status != RunStatus::Removing {
            drop(_start);
            let _ = self.remove_container(id, true, true).await;
        }
    }

    /// Follow a supervisor that runs without this daemon having started it (the daemon
    /// restarted, or died between the supervisor's release and recording the start): take its
    /// state (the first line of its events) and monitor it from now on.
    pub(super) async fn adopt(
        self: &Arc<Self>,
        id: &str,
        mut events: BufReader<UnixStream>,
    ) -> RunState {
        let state = read_line(&mut events)
            .await
            .ok()
            .and_then(|line| serde_json::from_str::<EventLine>(&line).ok())
            .map(|ev| ev.state);
        let supervisor_pid = state.as_ref().map(|s| s.supervisor_pid);
        if let Some(state) = &state {
            let started = state.started_at.is_some();
            let _ = self.containers.update(id, |r| {
                r.state = state.clone();
                r.has_been_started |= started;
            });
        }
        let engine = self.clone();
        let id = id.to_string();
        tokio::spawn(async move { engine.monitor(id, supervisor_pid, events).await });
        state.unwrap_or_default()
    }

    /// After a daemon restart: reconnect to live supervisors; record the end of the others.
    /// A container the record calls never started may still have one: the daemon can die
    /// after releasing its first start and before recording it.
    pub async fn recover(self: &Arc<Self>) {
        for rec in self.containers.all() {
            let socket = self.socket_of(&rec.id);
            if !rec.has_been_started && !socket.exists() {
                continue;
            }
            match connect(&socket, &Request::Events).await {
                Ok(events) => {
                    self.adopt(&rec.id, events).await;
                }
                Err(_) if !rec.has_been_started => {
                    let _ = std::fs::remove_file(&socket);
                }
                Err(_) => {
                    if rec.state.is_running()
                        || self.containers.dir(&rec.id).join("state.json").exists()
                    {
                        self.supervisor_gone(&rec.id, None).await;
                    }
                }
            }
        }
    }

    pub async fn stop_container(
        self: &Arc<Self>,
        key: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        let restart_cancelled = self.supervision.cancel_restart(&rec.id);
        if !rec.state.is_running() || restart_cancelled {
            return Err(Error::NotModified(format!(
                "container {} is already stopped",
                rec.id
            )));
        }
        let cfg_signal = match signal.filter(|s| !s.is_empty()).or(rec
            .config
            .stop_signal
            .as_deref()
            .filter(|s| !s.is_empty()))
        {
            Some(s) => super::create::parse_signal(s)?,
            None => libc::SIGTERM,
        };
        let timeout = timeout.unwrap_or(
            rec.config
                .stop_timeout
                .unwrap_or(super::runspec::DEFAULT_STOP_TIMEOUT),
        );
        let mut bus = self.events.subscribe();
        let reply = request(
            &self.socket_of(&rec.id),
            &Request::Stop {
                signal: cfg_signal,
                timeout_secs: timeout,
            },
        )
        .await;
        if reply.is_err() {
            // The supervisor is gone already: no restart follows a stop.
            self.supervisor_gone(&rec.id, None).await;
            self.supervision.cancel_restart(&rec.id);
            return Ok(());
        }
        self.wait_until(&rec.id, &mut bus, |r| {
            r.map(|r| !r.state.is_running()).unwrap_or(true)
        })
        .await;
        // Its published ports are free when `stop` returns, as with dockerd (the supervisor's
        // hang-up, which also releases them, may come a moment later).
        self.network_stopped(&rec.id).await;
        Ok(())
    }

    pub async fn kill_container(self: &Arc<Self>, key: &str, signal: Option<&str>) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        self.supervision.cancel_restart(&rec.id);
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => super::create::parse_signal(s)?,
            None => libc::SIGKILL,
        };
        let mut bus = self.events.subscribe();
        let reply = request(&self.socket_of(&rec.id), &Request::Kill { signal: sig }).await?;
        if !reply.ok {
            return Err(Error::invalid(reply.message.unwrap_or_default()));
        }
        self.publish_container(&rec, "kill", &[("signal", sig.to_string())]);
        if sig == libc::SIGKILL {
            self.wait_until(&rec.id, &mut bus, |r| {
                r.map(|r| !r.state.is_running()).unwrap_or(true)
            })
            .await;
        }
        Ok(())
    }

    pub async fn restart_container(
        self: &Arc<Self>,
        key: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop_container(key, timeout, signal).await {
            Ok(()) | Err(Error::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        self.start_container(key).await?;
        let rec = self.containers.resolve(key)?;
        self.publish_container(&rec, "restart", &[]);
        Ok(())
    }

    /// Wait on the event bus until `done` holds for the container (None once removed).
    async fn wait_until(
        &self,
        id: &str,
        bus: &mut tokio::sync::broadcast::Receiver<bollard_stubs::models::EventMessage>,
        done: impl Fn(Option<&ContainerRecord>) -> bool,
    ) {
        loop {
            if done(self.containers.get(id).as_ref()) {
                return;
            }
            match bus.recv().await {
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    }

    /// Docker's `wait`: returns the exit code.
    pub async fn wait_container(
        self: &Arc<Self>,
        key: &str,
        condition: WaitCondition,
    ) -> Result<(i64, Option<String>)> {
        let bus = self.events.subscribe();
        self.wait_container_from(key, condition, bus).await
    }

    /// `wait` with a bus subscription taken by the caller (before it answered the request, so
    /// an exit right after cannot be missed).
    pub async fn wait_container_from(
        self: &Arc<Self>,
        key: &str,
        condition: WaitCondition,
        mut bus: tokio::sync::broadcast::Receiver<bollard_stubs::models::EventMessage>,
    ) -> Result<(i64, Option<String>)> {
        let rec = self.containers.resolve(key)?;
        let id = rec.id.clone();
        // The exit code seen in the last `die` event: the record may be gone (`--rm`) by the end.
        let mut last_exit: Option<i64> = None;
        let done = |r: Option<&ContainerRecord>, seen_die: bool| match condition {
            // Like dockerd: the first exit ends the wait, even if a restart policy follows.
            WaitCondition::NotRunning => {
                seen_die
                    || r.is_none_or(|r| {
                        !r.state.is_running() || r.state.status == RunStatus::Restarting
                    })
            }
            WaitCondition::Removed => r.is_none(),
            WaitCondition::NextExit => seen_die || r.is_none(),
        };
        loop {
            if done(self.containers.get(&id).as_ref(), last_exit.is_some()) {
                break;
            }
            match bus.recv().await {
                Ok(ev) => {
                    let same = ev.actor.as_ref().and_then(|a| a.id.as_deref()) == Some(id.as_str());
                    if same && ev.action.as_deref() == Some("die") {
                        last_exit = ev
                            .actor
                            .as_ref()
                            .and_then(|a| a.attributes.as_ref())
                            .and_then(|a| a.get("exitCode"))
                            .and_then(|c| c.parse::<i64>().ok());
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        let last = self
            .containers
            .get(&id)
            .map(|r| r.state)
            .unwrap_or(rec.state);
        let code = match (condition, last_exit) {
            (WaitCondition::NotRunning, None) if self.containers.get(&id).is_some() => {
                last.exit_code as i64
            }
            (_, Some(c)) => c,
            _ => last.exit_code as i64,
        };
        let err = (!last.error.is_empty()).then(|| last.error.clone());
        Ok((code, err))
    }

    /// Remove a container; `force` kills it first, `volumes` also removes its anonymous volumes.
    #[tracing::instrument(target = "phase", level = "debug", name = "remove", skip_all)]
    pub async fn remove_container(
        self: &Arc<Self>,
        key: &str,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        if rec.state.status == RunStatus::Removing {
            return Err(Error::conflict(format!(
                "removal of container {} is already in progress",
                rec.id
            )));
        }
        if rec.state.is_running() {
            if !force {
                return Err(Error::conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    rec.name
                )));
            }
            let _ = self.kill_container(&rec.id, Some("KILL")).await;
        }
        // A supervisor still waiting to release a first start (its daemon died in between)
        // must not outlive the container.
        let socket = self.socket_of(&rec.id);
        if !rec.state.is_running() && socket.exists() {
            let _ = request(
                &socket,
                &Request::Kill {
                    signal: libc::SIGKILL,
                },
            )
            .await;
        }
        let rec = self
            .containers
            .update(&rec.id, |r| r.state.status = RunStatus::Removing)?;
        self.supervision.forget(&rec.id);
        self.attach_waiters.waiters.lock().unwrap().remove(&rec.id);
        self.network_removed(&rec).await;
        self.containers.remove_record(&rec.id)?;
        tracing::debug_span!(target: "phase", "remove files").in_scope(|| {
            let _ =
                crate::util::fsutil::remove_dir_all_quiet(&self.paths.container_run_dir(&rec.id));
            let _ = std::fs::remove_file(self.socket_of(&rec.id));
            crate::util::fsutil::remove_dir_in_background(&self.containers.dir(&rec.id));
        });
        if let Some(cg) = Cgroup::detect(&format!("wharf/{}", rec.id)) {
            // It waits (a little) for killed processes to leave: not on a worker thread.
            let _ = tokio::task::spawn_blocking(move || cg.destroy()).await;
        }
        if volumes {
            for m in rec
                .mounts
                .iter()
                .filter(|m| m.kind == MountKind::Volume && m.anonymous)
            {
                let users = self.volume_users(&m.source);
                if users.is_empty() {
                    let _ = self.volumes.remove(&m.source, &[]);
                }
            }
        }
        self.publish_container(&rec, "destroy", &[]);
        // Give the memory of a finished container back to the system (an idle daemon stays
        // small), off the request's path.
        tokio::task::spawn_blocking(|| {
            // SAFETY: malloc_trim only releases free heap memory.
            unsafe { libc::malloc_trim(0) };
        });
        Ok(())
    }

    /// Names of containers mounting a volume.
    pub fn volume_users(&self, volume: &str) -> Vec<String> {
        self.containers
            .all()
            .into_iter()
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == MountKind::Volume && m.source == volume)
            })
            .map(|c| c.id)
            .collect()
    }

    pub async fn pause_container(self: &Arc<Self>, key: &str, pause: bool) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if pause == (rec.state.status == RunStatus::Paused) {
            return Err(Error::conflict(format!(
                "Container {} is {}paused",
                rec.id,
                if pause { "already " } else { "not " }
            )));
        }
        let cg = Cgroup::detect(&format!("wharf/{}", rec.id))
            .ok_or_else(|| Error::internal("no cgroup hierarchy with a freezer is available"))?;
        cg.freeze(pause)
            .ctx(|| "freezing the container's cgroup".into())?;
        request(
            &self.socket_of(&rec.id),
            &Request::SetPaused { paused: pause },
        )
        .await?;
        // The supervisor's event follows; inspect must see the change as soon as we answer.
        let status = if pause {
            RunStatus::Paused
        } else {
            RunStatus::Running
        };
        self.containers.update(&rec.id, |r| {
            if r.state.is_running() {
                r.state.status = status;
            }
        })?;
        Ok(())
    }

    /// Connect a client to a container's streams. Before the container starts, the connection
    /// is made at start time (so no output is missed).
    pub async fn attach_container(
        &self,
        key: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<UnixStream> {
        let rec = self.containers.resolve(key)?;
        if rec.state.is_running() {
            let mut r = connect(
                &self.socket_of(&rec.id),
                &Request::Attach {
                    stdin,
                    stdout,
                    stderr,
                },
            )
            .await?;
            let _ = read_line(&mut r).await?;
            return Ok(r.into_inner());
        }
        let (tx, rx) = oneshot::channel();
        self.attach_waiters
            .waiters
            .lock()
            .unwrap()
            .entry(rec.id.clone())
            .or_default()
            .push(PendingAttach {
                stdin,
                stdout,
                stderr,
                tx,
            });
        rx.await.map_err(|_| {
            Error::conflict(format!(
                "container {} was removed before it started",
                rec.id
            ))
        })
    }

    pub async fn resize_container(&self, key: &str, height: u16, width: u16) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        request(&self.socket_of(&rec.id), &Request::Resize { height, width }).await?;
        Ok(())
    }

    pub fn rename_container(&self, key: &str, new_name: &str) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        let new_name = new_name.trim_start_matches('/');
        if new_name.is_empty() {
            return Err(Error::invalid("Neither old nor new names may be empty"));
        }
        self.containers.rename(&rec.id, new_name)?;
        self.publish_container(&rec, "rename", &[("oldName", format!("/{}", rec.name))]);
        Ok(())
    }
}

/// How long `stop` waits at most by default: used by callers that need a bound.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
