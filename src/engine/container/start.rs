//! Starting a container: checks (not running, no unknown supervisor still at it), its
//! supervisor config with the network namespace ready, the supervisor launched in a session of
//! its own (it outlives the daemon), early attach clients handed their streams, then the
//! first start released with `go` and its outcome recorded.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::Instrument;

use super::lifecycle::{connect, read_line, request, wait_for_end};
use super::ContainerRecord;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::supervisor::protocol::{Reply, Request};
use crate::engine::supervisor::{RunStatus, SupervisorConfig};
use crate::engine::Engine;

impl Engine {
    #[tracing::instrument(target = "phase", level = "debug", name = "start", skip_all)]
    pub async fn start_container(self: &Arc<Self>, key: &str) -> Result<()> {
        let id = self.containers.resolve(key)?.id;
        // One start at a time per container, and never while the end of its last supervisor
        // is being handled: two inits must never share a container.
        let _start = self.supervision.lock(&id).await;
        self.supervision.cancel_restart(&id);
        let rec = self.containers.resolve(&id)?;
        self.check_startable(&rec).await?;
        let cfg = self.start_config(&rec).await?;
        let (release_guard, supervisor_pid) = self.launch_supervisor(&rec, &cfg).await?;
        let socket = cfg.socket_path.clone();
        self.hand_over_attach_waiters(&rec.id, &socket).await;
        let (events, reply) = async {
            let mut events = connect(&socket, &Request::Events).await?;
            let _snapshot = read_line(&mut events).await?;
            let reply = request(&socket, &Request::Go).await?;
            Ok::<_, Error>((events, reply))
        }
        .instrument(tracing::debug_span!(target: "phase", "go"))
        .await?;
        drop(release_guard);
        if !reply.ok {
            return Err(self.first_start_failed(&rec, reply).await);
        }
        self.containers.update(&rec.id, |r| {
            r.has_been_started = true;
            r.state.status = RunStatus::Running;
            r.state.pid = reply.pid.unwrap_or(0);
            r.state.supervisor_pid = supervisor_pid.unwrap_or(0);
            r.state.stopped_by_user = false;
            r.state.started_at = Some(crate::engine::now_rfc3339());
        })?;
        let engine = self.clone();
        let id = rec.id.clone();
        tokio::spawn(async move { engine.monitor(id, supervisor_pid, events).await });
        Ok(())
    }

    /// Not running, not being removed, and not run by a supervisor this daemon does not know
    /// of (one that is ending is waited for).
    #[tracing::instrument(target = "phase", level = "debug", name = "check", skip_all)]
    async fn check_startable(self: &Arc<Self>, rec: &ContainerRecord) -> Result<()> {
        if rec.state.is_running() {
            return Err(Error::NotModified(format!(
                "container {} is already running",
                rec.id
            )));
        }
        if rec.state.status == RunStatus::Removing {
            return Err(Error::conflict(format!(
                "container {} is marked for removal and cannot be started",
                rec.id
            )));
        }
        // A supervisor this daemon does not know of may still run the container: follow it
        // instead of starting a second init in the same cgroup and namespaces.
        let socket = self.socket_of(&rec.id);
        if socket.exists() {
            if let Ok(events) = connect(&socket, &Request::Events).await {
                if self.adopt(&rec.id, events).await.is_running() {
                    return Err(Error::NotModified(format!(
                        "container {} is already running",
                        rec.id
                    )));
                }
                // It is ending: let it finish (its monitor waits for this lock to record
                // the end) before a new one takes the cgroup.
                wait_for_end(&socket).await;
            }
        }
        Ok(())
    }

    /// Write the supervisor's config and hand it to a supervisor (the spare, see
    /// [`super::spare`]); wait for its `ready`. Returns its stdin (the release guard: closing it tells the supervisor the
    /// first start is released or abandoned) and its pid.
    #[tracing::instrument(target = "phase", level = "debug", name = "supervisor spawn", skip_all)]
    async fn launch_supervisor(
        self: &Arc<Self>,
        rec: &ContainerRecord,
        cfg: &SupervisorConfig,
    ) -> Result<(Option<tokio::process::ChildStdin>, Option<i32>)> {
        let dir = self.containers.dir(&rec.id);
        let run_dir = self.paths.container_run_dir(&rec.id);
        std::fs::create_dir_all(&run_dir).ctx(|| format!("creating {}", run_dir.display()))?;
        let cfg_path = dir.join("supervisor.json");
        crate::util::fsutil::replace_file(&cfg_path, &serde_json::to_vec(cfg)?)
            .ctx(|| "writing supervisor.json".into())?;
        let _ = std::fs::remove_file(&cfg.state_path);
        let mut child = self.supervisor_for(&cfg_path).await?;
        let release_guard = child.stdin.take();
        let mut ready = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut ready).await;
        }
        let supervisor_pid = child.id().map(|p| p as i32);
        // The supervisor is reaped by tokio's orphan queue when it ends.
        drop(child);
        if ready.trim() != "ready" {
            let log = std::fs::read_to_string(dir.join("supervisor.log")).unwrap_or_default();
            let last = log
                .lines()
                .last()
                .unwrap_or("the supervisor exited")
                .to_string();
            return Err(Error::internal(format!(
                "starting container {}: {last}",
                rec.name
            )));
        }
        Ok((release_guard, supervisor_pid))
    }

    /// Clients attached before the start get their streams now, before anything runs.
    #[tracing::instrument(target = "phase", level = "debug", name = "attach handover", skip_all)]
    async fn hand_over_attach_waiters(&self, id: &str, socket: &std::path::Path) {
        let pending = self
            .attach_waiters
            .waiters
            .lock()
            .unwrap()
            .remove(id)
            .unwrap_or_default();
        for p in pending {
            let req = Request::Attach {
                stdin: p.stdin,
                stdout: p.stdout,
                stderr: p.stderr,
            };
            if let Ok(mut r) = connect(socket, &req).await {
                let _ = read_line(&mut r).await;
                let _ = p.tx.send(r.into_inner());
            }
        }
    }

    /// The first start failed in the runtime: record why (and remove a `--rm` container);
    /// the error as dockerd words it.
    async fn first_start_failed(self: &Arc<Self>, rec: &ContainerRecord, reply: Reply) -> Error {
        let code = reply.exit_code.unwrap_or(125);
        let msg = reply.message.unwrap_or_default();
        let recorded = self.containers.update(&rec.id, |r| {
            r.state.exit_code = code;
            r.state.error = msg.clone();
            r.state.finished_at = Some(crate::engine::now_rfc3339());
        });
        if let Err(e) = recorded {
            return e;
        }
        if rec.host_config.auto_remove.unwrap_or(false) {
            let _ = self.remove_container(&rec.id, true, true).await;
        }
        Error::invalid(format!(
            "failed to create task for container: unable to start container process: {msg}: unknown"
        ))
    }

    /// What the supervisor will run, with the network namespace ready. A container that
    /// cannot start goes at once with `--rm`, as dockerd's (`docker run --rm` waits for that).
    #[tracing::instrument(target = "phase", level = "debug", name = "config", skip_all)]
    async fn start_config(self: &Arc<Self>, rec: &ContainerRecord) -> Result<SupervisorConfig> {
        let prepared = match self.supervisor_config(rec) {
            Ok(mut cfg) => self.prepare_network(rec).await.map(|network| {
                cfg.spec.network = network;
                cfg
            }),
            Err(e) => Err(e),
        };
        if prepared.is_err() && rec.host_config.auto_remove.unwrap_or(false) {
            let _ = self.remove_container(&rec.id, true, true).await;
        }
        prepared
    }
}
