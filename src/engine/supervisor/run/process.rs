//! The container's process: cloned with fresh stdio and held until released, its exit reaped
//! and recorded, the restart policy applied (with Docker's backoff), the state file and the
//! events kept current, and the end of supervision.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::io::set_nonblocking;
use super::{ClientKind, Io, Supervisor};
use crate::engine::now_rfc3339;
use crate::engine::runtime::console;
use crate::engine::runtime::init::{self, Stdio};
use crate::engine::supervisor::health::HealthState;
use crate::engine::supervisor::protocol::EventLine;
use crate::engine::supervisor::RunStatus;
use crate::util::fsutil::replace_file;

impl Supervisor {
    /// Clone the container process with fresh stdio; it waits for `go`.
    pub(super) fn spawn(&mut self) -> Result<init::Started, String> {
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        let devnull = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        let started;
        if self.cfg.spec.process.tty {
            let (socket, give) = console::socket_pair().map_err(|e| format!("socketpair: {e}"))?;
            let stdio = Stdio {
                stdin: devnull.as_raw_fd(),
                stdout: devnull.as_raw_fd(),
                stderr: devnull.as_raw_fd(),
                console: Some(give.as_raw_fd()),
            };
            started = init::spawn(&self.cfg.spec, &stdio, self.cgroup.as_ref())?;
            // Only the child's copy stays open: its exit before sending closes the socket.
            drop(give);
            self.io = Some(Io::TtyToCome { socket });
        } else {
            let (out_r, out_w) = nix::unistd::pipe2(cloexec).map_err(|e| e.to_string())?;
            let (err_r, err_w) = nix::unistd::pipe2(cloexec).map_err(|e| e.to_string())?;
            let (in_r, in_w) = if self.cfg.open_stdin {
                let (r, w) = nix::unistd::pipe2(cloexec).map_err(|e| e.to_string())?;
                (Some(r), Some(w))
            } else {
                (None, None)
            };
            let stdio = Stdio {
                stdin: in_r
                    .as_ref()
                    .map(|f| f.as_raw_fd())
                    .unwrap_or(devnull.as_raw_fd()),
                stdout: out_w.as_raw_fd(),
                stderr: err_w.as_raw_fd(),
                console: None,
            };
            started = init::spawn(&self.cfg.spec, &stdio, self.cgroup.as_ref())?;
            for fd in [&out_r, &err_r] {
                set_nonblocking(fd.as_raw_fd());
            }
            if let Some(w) = &in_w {
                set_nonblocking(w.as_raw_fd());
            }
            self.io = Some(Io::Pipes {
                stdout: Some(out_r),
                stderr: Some(err_r),
                stdin: in_w,
            });
        }
        self.stdin_buf.clear();
        Ok(started)
    }

    /// Release a spawned process; record it as running or failed.
    pub(super) fn release(&mut self, started: init::Started) -> Result<Pid, init::StartError> {
        let result =
            tracing::debug_span!(target: "phase", "release until execve").in_scope(|| started.go());
        if let Some(Io::TtyToCome { socket }) = &self.io {
            // Sent before the exec that `go` waited for (or never: then the socket is closed).
            let master = console::recv_fd(socket.as_raw_fd()).ok().flatten();
            if let Some(m) = &master {
                set_nonblocking(m.as_raw_fd());
            }
            self.io = Some(Io::Tty { master });
        }
        match &result {
            Ok(pid) => {
                self.pid = Some(*pid);
                self.run_started = Instant::now();
                self.state.status = RunStatus::Running;
                self.state.pid = pid.as_raw();
                self.state.started_at = Some(now_rfc3339());
                self.state.finished_at = None;
                self.state.exit_code = 0;
                self.state.error.clear();
                self.state.oom_killed = false;
                if self.health.is_some() {
                    let keep_log = self.state.health.take().map(|h| h.log).unwrap_or_default();
                    self.state.health = Some(HealthState {
                        log: keep_log,
                        ..Default::default()
                    });
                    // The first probe runs right away, not one interval later.
                    self.next_probe = Some(Instant::now());
                }
                self.save_state();
                self.publish(Some("start"));
            }
            Err(e) => {
                self.pid = None;
                self.state.pid = 0;
                self.state.exit_code = e.exit_code;
                self.state.error = e.message.clone();
                self.state.finished_at = Some(now_rfc3339());
                // The failed process has exited; reap it now.
                self.reap_all();
            }
        }
        result
    }

    /// The first start was never released (stopped, or the daemon went away before `go`):
    /// kill the waiting process and end supervision, the container still `created`.
    pub(super) fn abandon_unstarted(&mut self) {
        if let Some(started) = self.waiting_go.take() {
            let pid = started.pid;
            drop(started);
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        self.go_deadline = None;
        self.state.status = RunStatus::Created;
        self.save_state();
        self.publish(None);
        self.finished = true;
    }

    pub(super) fn thaw(&self) -> std::io::Result<()> {
        match &self.cgroup {
            Some(cg) if self.state.status == RunStatus::Paused => cg.freeze(false),
            _ => Ok(()),
        }
    }

    pub(super) fn reap_all(&mut self) {
        loop {
            match nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.reaped(pid, code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => self.reaped(pid, 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }

    pub(super) fn reaped(&mut self, pid: Pid, code: i32) {
        if Some(pid) == self.pid {
            self.container_exited(code);
        } else if self.probe.as_ref().is_some_and(|p| p.pid == pid) {
            self.probe_finished(code);
        }
    }

    pub(super) fn container_exited(&mut self, code: i32) {
        tracing::debug!(target: "phase", "exited");
        let _phase = tracing::debug_span!(target: "phase", "record exit").entered();
        self.pid = None;
        self.kill_at = None;
        self.next_probe = None;
        // Drain what the container wrote before it died; then the streams are done.
        self.read_output(1);
        self.read_output(2);
        let _ = self.lines.flush(&mut self.log);
        self.io = None;
        self.close_stdin_pending = false;
        for c in &mut self.clients {
            if matches!(c.kind, ClientKind::Attach { .. }) {
                c.kind = ClientKind::Closing;
            }
        }
        self.state.exit_code = code;
        self.state.pid = 0;
        self.state.finished_at = Some(now_rfc3339());
        self.state.oom_killed = self.cgroup.as_ref().is_some_and(|c| c.oom_killed());
        if let Some(p) = self.probe.take() {
            let _ = nix::sys::signal::kill(p.pid, Signal::SIGKILL);
        }
        let ran_for = self.run_started.elapsed();
        let restart = self.cfg.restart.should_restart(
            code,
            self.state.restart_count,
            self.state.stopped_by_user,
        );
        if self.state.oom_killed {
            self.publish(Some("oom"));
        }
        if restart {
            let delay = self.backoff.delay(ran_for);
            self.state.status = RunStatus::Restarting;
            self.save_state();
            self.publish(Some("die"));
            self.restart_at = Some(Instant::now() + delay);
        } else {
            self.final_exit();
        }
    }

    /// The container is down for good: record it, tell everyone, and end supervision.
    pub(super) fn final_exit(&mut self) {
        self.state.status = RunStatus::Exited;
        if self.state.finished_at.is_none() {
            self.state.finished_at = Some(now_rfc3339());
        }
        self.save_state();
        self.publish(Some("die"));
        self.finished = true;
    }

    pub(super) fn restart(&mut self) {
        self.state.restart_count += 1;
        match self
            .spawn()
            .map_err(|e| init::StartError {
                exit_code: init::EXIT_RUNTIME,
                message: e,
            })
            .and_then(|s| self.release(s))
        {
            Ok(_) => {
                self.save_state();
                self.publish(Some("restart"));
            }
            Err(e) => {
                self.state.error = e.message;
                self.state.exit_code = e.exit_code;
                self.final_exit();
            }
        }
    }

    pub(super) fn save_state(&self) {
        if let Ok(bytes) = serde_json::to_vec(&self.state) {
            let _ = replace_file(&self.cfg.state_path, &bytes);
        }
    }

    /// Send the state (and the event, if any) to every `events` client.
    pub(super) fn publish(&mut self, action: Option<&str>) {
        let line = EventLine {
            action: action.map(String::from),
            state: self.state.clone(),
        };
        for c in &mut self.clients {
            if c.kind == ClientKind::Events {
                c.send_line(&line);
                c.flush();
            }
        }
    }

    pub(super) fn shutdown(&mut self) {
        // The cgroup and the socket go first: a client that sees our hang-up may start a
        // new supervisor for this container at once, and must find neither.
        if let Some(cg) = &self.cgroup {
            cg.destroy();
        }
        let _ = std::fs::remove_file(&self.cfg.socket_path);
        // Give clients their last bytes (bounded: a stuck client cannot keep us alive).
        let deadline = Instant::now() + Duration::from_secs(2);
        for c in &mut self.clients {
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ));
            let _ = c.stream.write_all(&c.outbuf);
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        self.clients.clear();
    }
}
