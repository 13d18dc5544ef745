//! The loop itself: which descriptors to wait on (and what each one is for), how long until the
//! next timer, what a ready descriptor or an expired timer sets off, and the signals the
//! supervisor takes (SIGCHLD; SIGTERM and SIGINT stop the container).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use super::{ClientKind, Io, Supervisor};

/// What a polled descriptor is.
#[derive(Clone, Copy)]
enum Role {
    Listener,
    Signals,
    /// The container's stdout (1) or stderr (2), or its TTY.
    Out(u8),
    StdinWrite,
    Client(usize),
    ProbeOut,
    DaemonLink,
}

impl Supervisor {
    pub(super) fn poll_timeout(&self) -> PollTimeout {
        let now = Instant::now();
        let deadlines = [
            self.go_deadline.filter(|_| self.waiting_go.is_some()),
            self.restart_at,
            self.kill_at,
            if self.probe.is_none() && self.pid.is_some() {
                self.next_probe
            } else {
                None
            },
            self.probe.as_ref().map(|p| p.deadline),
        ];
        match deadlines.iter().flatten().min() {
            None => PollTimeout::NONE,
            Some(d) => {
                let ms = d.saturating_duration_since(now).as_millis().min(60_000) as u16;
                PollTimeout::from(ms.max(if *d > now { 1 } else { 0 }))
            }
        }
    }

    pub(super) fn poll_once(&mut self) -> Result<(), String> {
        // Raw fds with the role of each; BorrowedFd lifetimes end before we act.
        let roles = self.watched();
        let timeout = self.poll_timeout();
        let mut pollfds: Vec<PollFd> = roles
            .iter()
            // SAFETY: every fd listed is owned by `self` and stays open during the poll.
            .map(|(fd, flags, _)| PollFd::new(unsafe { BorrowedFd::borrow_raw(*fd) }, *flags))
            .collect();
        match nix::poll::poll(&mut pollfds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(()),
            Err(e) => return Err(format!("poll: {e}")),
        }
        let ready: Vec<(Role, PollFlags)> = pollfds
            .iter()
            .zip(&roles)
            .filter_map(|(p, (_, _, role))| {
                p.revents().filter(|r| !r.is_empty()).map(|r| (*role, r))
            })
            .collect();
        drop(pollfds);
        for (role, revents) in ready {
            self.on_ready(role, revents);
        }
        self.clients.retain(|c| !(c.dead || c.is_done()));
        self.run_timers();
        Ok(())
    }

    /// Every descriptor to wait on, with the events wanted and what it is.
    fn watched(&self) -> Vec<(i32, PollFlags, Role)> {
        let mut roles: Vec<(i32, PollFlags, Role)> = vec![
            (self.listener.as_raw_fd(), PollFlags::POLLIN, Role::Listener),
            (self.sigfd.as_raw_fd(), PollFlags::POLLIN, Role::Signals),
        ];
        if let Some(link) = &self.daemon_link {
            roles.push((link.as_raw_fd(), PollFlags::POLLIN, Role::DaemonLink));
        }
        match &self.io {
            Some(Io::Pipes {
                stdout,
                stderr,
                stdin,
            }) => {
                if let Some(f) = stdout {
                    roles.push((f.as_raw_fd(), PollFlags::POLLIN, Role::Out(1)));
                }
                if let Some(f) = stderr {
                    roles.push((f.as_raw_fd(), PollFlags::POLLIN, Role::Out(2)));
                }
                if let (Some(f), false) = (stdin, self.stdin_buf.is_empty()) {
                    roles.push((f.as_raw_fd(), PollFlags::POLLOUT, Role::StdinWrite));
                }
            }
            Some(Io::Tty { master: Some(m) }) => {
                let mut flags = PollFlags::POLLIN;
                if !self.stdin_buf.is_empty() {
                    flags |= PollFlags::POLLOUT;
                }
                roles.push((m.as_raw_fd(), flags, Role::Out(1)));
            }
            _ => {}
        }
        let stdin_full = self.stdin_buf.len() > 256 * 1024;
        for (i, c) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            let sends_stdin = matches!(c.kind, ClientKind::Attach { stdin: true, .. });
            let input_paused = stdin_full && sends_stdin;
            if !(c.eof || input_paused) {
                flags |= PollFlags::POLLIN;
            }
            if !c.outbuf.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            roles.push((c.stream.as_raw_fd(), flags, Role::Client(i)));
        }
        if let Some(p) = &self.probe {
            roles.push((p.output.as_raw_fd(), PollFlags::POLLIN, Role::ProbeOut));
        }
        roles
    }

    /// Act on one ready descriptor.
    fn on_ready(&mut self, role: Role, revents: PollFlags) {
        match role {
            Role::Listener => self.accept(),
            Role::Signals => self.handle_signals(),
            Role::Out(stream) => {
                if revents.contains(PollFlags::POLLOUT) {
                    self.flush_stdin();
                }
                if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.read_output(stream);
                }
            }
            Role::StdinWrite => self.flush_stdin(),
            Role::Client(i) => {
                if revents.contains(PollFlags::POLLOUT) {
                    self.clients[i].flush();
                }
                if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
                    && self.clients[i].eof
                {
                    // Both directions closed: the client is gone.
                    self.clients[i].dead = true;
                } else if revents
                    .intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                {
                    self.read_client(i);
                }
            }
            Role::ProbeOut => self.read_probe(),
            Role::DaemonLink => self.daemon_link_closed(),
        }
    }

    pub(super) fn run_timers(&mut self) {
        let now = Instant::now();
        if self.waiting_go.is_some() && self.go_deadline.is_some_and(|t| t <= now) {
            self.abandon_unstarted();
            return;
        }
        if self.kill_at.is_some_and(|t| t <= now) {
            self.kill_at = None;
            if let Some(pid) = self.pid {
                let _ = self.thaw();
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            }
        }
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            self.restart();
        }
        if let Some(p) = &mut self.probe {
            if p.deadline <= now && !p.timed_out {
                p.timed_out = true;
                let _ = nix::sys::signal::kill(p.pid, Signal::SIGKILL);
            }
        }
        if self.probe.is_none() && self.pid.is_some() && self.next_probe.is_some_and(|t| t <= now) {
            self.next_probe = None;
            self.start_probe();
        }
    }

    pub(super) fn handle_signals(&mut self) {
        while let Ok(Some(info)) = self.sigfd.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => self.reap_all(),
                libc::SIGTERM | libc::SIGINT => {
                    // Someone asked the supervisor itself to end: stop the container the
                    // configured way, without a restart.
                    self.state.stopped_by_user = true;
                    if self.waiting_go.is_some() {
                        self.abandon_unstarted();
                    } else if let Some(pid) = self.pid {
                        // A frozen container cannot act on any signal: thaw it first.
                        let _ = self.thaw();
                        let _ = nix::sys::signal::kill(
                            pid,
                            Signal::try_from(self.cfg.stop_signal).unwrap_or(Signal::SIGTERM),
                        );
                        self.kill_at =
                            Some(Instant::now() + Duration::from_secs(self.cfg.stop_timeout_secs));
                    } else {
                        self.restart_at = None;
                        self.final_exit();
                    }
                }
                _ => {}
            }
        }
    }
}
