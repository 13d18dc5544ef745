//! Healthchecks: the probe command run in the container's namespaces (through `__nsexec`), its
//! output collected up to Docker's limit, its deadline, and the result recorded in the health
//! state (with an event when the status changes).

use std::os::fd::AsRawFd;
use std::time::Instant;

use nix::unistd::Pid;

use super::io::set_nonblocking;
use super::{Probe, Supervisor};
use crate::engine::now_rfc3339;
use crate::engine::runtime::nsexec::NsExecSpec;
use crate::engine::supervisor::health::{HealthState, ProbeResult, MAX_OUTPUT};

impl Supervisor {
    pub(super) fn start_probe(&mut self) {
        let (Some(spec), Some(pid)) = (self.health.clone(), self.pid) else {
            return;
        };
        let mut process = self.cfg.spec.process.clone();
        process.args = spec.command.clone();
        process.tty = false;
        let ns = NsExecSpec {
            pid: pid.as_raw(),
            process,
            privileged: self.cfg.spec.privileged,
            cgroup: Some(self.cfg.spec.cgroup.path.clone()),
            console_socket: None,
        };
        let Ok((r, w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            return;
        };
        let Ok(w2) = w.try_clone() else { return };
        let child = std::process::Command::new(&self.cfg.wharf_binary)
            .arg("__nsexec")
            .env(
                "WHARF_NSEXEC_SPEC",
                serde_json::to_string(&ns).unwrap_or_default(),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(w))
            .stderr(std::process::Stdio::from(w2))
            .spawn();
        let start = now_rfc3339();
        match child {
            Ok(child) => {
                set_nonblocking(r.as_raw_fd());
                self.probe = Some(Probe {
                    pid: Pid::from_raw(child.id() as i32),
                    output: r,
                    buf: Vec::new(),
                    start,
                    deadline: Instant::now() + spec.timeout,
                    timed_out: false,
                });
            }
            Err(e) => {
                let result = ProbeResult {
                    start,
                    end: now_rfc3339(),
                    exit_code: -1,
                    output: format!("starting the probe: {e}"),
                };
                self.record_probe(result);
            }
        }
    }

    pub(super) fn read_probe(&mut self) {
        let Some(p) = &mut self.probe else { return };
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(p.output.as_raw_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(p.buf.len());
                    p.buf.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }

    pub(super) fn probe_finished(&mut self, code: i32) {
        self.read_probe();
        let Some(p) = self.probe.take() else { return };
        let output = if p.timed_out {
            let timeout = self.health.as_ref().map(|h| h.timeout).unwrap_or_default();
            format!("Health check exceeded timeout ({timeout:?})")
        } else {
            String::from_utf8_lossy(&p.buf).into_owned()
        };
        let result = ProbeResult {
            start: p.start,
            end: now_rfc3339(),
            exit_code: if p.timed_out { -1 } else { code },
            output,
        };
        self.record_probe(result);
    }

    pub(super) fn record_probe(&mut self, result: ProbeResult) {
        let Some(spec) = self.health.clone() else {
            return;
        };
        let in_start_period = self.run_started.elapsed() < spec.start_period;
        let health = self.state.health.get_or_insert_with(HealthState::default);
        let changed = health.record(&spec, result, in_start_period);
        let delay = health.next_delay(&spec, in_start_period);
        if self.pid.is_some() {
            self.next_probe = Some(Instant::now() + delay);
        }
        self.save_state();
        match changed {
            Some(status) => self.publish(Some(&format!("health_status: {}", status.as_str()))),
            None => self.publish(None),
        }
    }
}
