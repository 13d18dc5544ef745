//! The supervisor's event loop: one thread, `poll(2)` over the container's output, the control
//! socket, a signalfd for SIGCHLD and the healthcheck probe; timers for stop, restart backoff
//! and probes come from the poll timeout. No tokio here, so it stays small (~1-2 MB RSS).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::health::{HealthSpec, HealthState, ProbeResult, MAX_OUTPUT};
use super::logs::LineWriter;
use super::protocol::{EventLine, Reply, Request};
use super::restart::Backoff;
use super::{RunState, RunStatus, SupervisorConfig};
use crate::engine::now_rfc3339;
use crate::engine::runtime::cgroups::Cgroup;
use crate::engine::runtime::init::{self, Stdio};
use crate::engine::runtime::nsexec::NsExecSpec;
use crate::util::fsutil::replace_file;

/// How long a first start may wait for the daemon's `go`.
const GO_TIMEOUT: Duration = Duration::from_secs(60);

/// Entry point of `wharf __supervise CONFIG`.
pub fn main(config_path: &Path) -> i32 {
    let cfg: SupervisorConfig = match std::fs::read(config_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("supervisor: reading {}: {e}", config_path.display());
            return 1;
        }
    };
    match Supervisor::new(cfg).and_then(|mut s| s.run()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("supervisor: {e}");
            1
        }
    }
}

enum Io {
    Pipes {
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        stdin: Option<OwnedFd>,
    },
    Tty {
        master: Option<OwnedFd>,
    },
}

#[derive(PartialEq)]
enum ClientKind {
    /// Still reading the request line.
    New,
    Events,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// Replied; close once the reply is written.
    Closing,
}

struct Client {
    stream: UnixStream,
    kind: ClientKind,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    /// The peer shut down its sending side: nothing more to read, output still goes out.
    eof: bool,
    dead: bool,
}

struct Probe {
    pid: Pid,
    output: OwnedFd,
    buf: Vec<u8>,
    start: String,
    deadline: Instant,
    timed_out: bool,
}

struct Supervisor {
    cfg: SupervisorConfig,
    state: RunState,
    cgroup: Option<Cgroup>,
    listener: UnixListener,
    sigfd: SignalFd,
    log: std::fs::File,
    lines: LineWriter,
    io: Option<Io>,
    stdin_buf: Vec<u8>,
    close_stdin_pending: bool,
    clients: Vec<Client>,
    waiting_go: Option<init::Started>,
    /// The daemon's end of our stdin: it hangs up once the first start is released, or when
    /// the daemon dies before that (then the start is abandoned at once).
    daemon_link: Option<std::fs::File>,
    /// A first start nobody releases (the daemon died in between) is abandoned at this time.
    go_deadline: Option<Instant>,
    pid: Option<Pid>,
    run_started: Instant,
    backoff: Backoff,
    restart_at: Option<Instant>,
    kill_at: Option<Instant>,
    health: Option<HealthSpec>,
    next_probe: Option<Instant>,
    probe: Option<Probe>,
    finished: bool,
}

impl Supervisor {
    fn new(cfg: SupervisorConfig) -> Result<Self, String> {
        let mut mask = SigSet::empty();
        for s in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT] {
            mask.add(s);
        }
        mask.thread_block()
            .map_err(|e| format!("blocking signals: {e}"))?;
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| format!("signalfd: {e}"))?;
        // SAFETY: plain signal disposition.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
        let _ = std::fs::remove_file(&cfg.socket_path);
        let listener = UnixListener::bind(&cfg.socket_path)
            .map_err(|e| format!("binding {}: {e}", cfg.socket_path.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.log_path)
            .map_err(|e| format!("opening {}: {e}", cfg.log_path.display()))?;
        let cgroup = Cgroup::detect(&cfg.spec.cgroup.path);
        if let Some(cg) = &cgroup {
            cg.create(&cfg.spec.cgroup)
                .map_err(|e| format!("creating cgroup: {e}"))?;
            // Processes left by an earlier supervisor that died: one init per container.
            if !cg.pids().is_empty() && !cg.kill_and_wait(Duration::from_secs(5)) {
                return Err("processes of an earlier run of the container do not end".into());
            }
        }
        let state = RunState {
            status: RunStatus::Created,
            supervisor_pid: std::process::id() as i32,
            restart_count: cfg.restart_count,
            ..Default::default()
        };
        let health = cfg.health.clone();
        let mut s = Supervisor {
            cfg,
            state,
            cgroup,
            listener,
            sigfd,
            log,
            lines: LineWriter::default(),
            io: None,
            stdin_buf: Vec::new(),
            close_stdin_pending: false,
            clients: Vec::new(),
            waiting_go: None,
            daemon_link: take_stdin(),
            go_deadline: None,
            pid: None,
            run_started: Instant::now(),
            backoff: Backoff::default(),
            restart_at: None,
            kill_at: None,
            health,
            next_probe: None,
            probe: None,
            finished: false,
        };
        let started = s.spawn()?;
        s.waiting_go = Some(started);
        s.go_deadline = Some(Instant::now() + GO_TIMEOUT);
        s.save_state();
        // Tell the daemon we are listening: it attaches its clients, then sends `go`.
        let mut out = std::io::stdout();
        let _ = out.write_all(b"ready\n");
        let _ = out.flush();
        // SAFETY: stdout is ours to close; the daemon reads until EOF.
        let devnull = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        let _ = nix::unistd::dup2(devnull.as_raw_fd(), 1);
        Ok(s)
    }

    /// Clone the container process with fresh stdio; it waits for `go`.
    fn spawn(&mut self) -> Result<init::Started, String> {
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        let devnull = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        let started;
        if self.cfg.spec.process.tty {
            let pty = nix::pty::openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
            set_cloexec(pty.master.as_raw_fd());
            set_cloexec(pty.slave.as_raw_fd());
            let slave_path = nix::unistd::ttyname(pty.slave.as_fd()).ok();
            let mut spec = self.cfg.spec.clone();
            spec.console = slave_path;
            let stdio = Stdio {
                stdin: pty.slave.as_raw_fd(),
                stdout: pty.slave.as_raw_fd(),
                stderr: pty.slave.as_raw_fd(),
            };
            started = init::spawn(&spec, &stdio, self.cgroup.as_ref())?;
            set_nonblocking(pty.master.as_raw_fd());
            self.io = Some(Io::Tty {
                master: Some(pty.master),
            });
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
    fn release(&mut self, started: init::Started) -> Result<Pid, init::StartError> {
        let result = started.go();
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

    fn run(&mut self) -> Result<(), String> {
        while !self.finished {
            self.poll_once()?;
        }
        self.shutdown();
        Ok(())
    }

    fn poll_timeout(&self) -> PollTimeout {
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

    fn poll_once(&mut self) -> Result<(), String> {
        // Gather raw fds with the role of each; BorrowedFd lifetimes end before we act.
        #[derive(Clone, Copy)]
        enum Role {
            Listener,
            Signals,
            Out(u8),
            StdinWrite,
            Client(usize),
            ProbeOut,
            DaemonLink,
        }
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
            match role {
                Role::Listener => self.accept(),
                Role::Signals => self.handle_signals(),
                Role::Out(stream) => {
                    if revents.contains(PollFlags::POLLOUT) {
                        self.flush_stdin();
                    }
                    if revents
                        .intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                    {
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
        self.clients.retain(|c| !(c.dead || c.is_done()));
        self.run_timers();
        Ok(())
    }

    fn run_timers(&mut self) {
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

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                kind: ClientKind::New,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                eof: false,
                dead: false,
            });
        }
    }

    fn read_client(&mut self, i: usize) {
        let mut buf = [0u8; 16 * 1024];
        let n = match self.clients[i].stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => 0,
        };
        let kind_is_new = self.clients[i].kind == ClientKind::New;
        if n == 0 {
            // The peer closed (or half-closed) its side: no more input, output may continue.
            let c = &mut self.clients[i];
            c.eof = true;
            match c.kind {
                ClientKind::Attach {
                    stdin,
                    stdout,
                    stderr,
                } => {
                    c.kind = ClientKind::Attach {
                        stdin: false,
                        stdout,
                        stderr,
                    };
                    if !stdout && !stderr {
                        c.dead = true;
                    }
                    if stdin && self.cfg.stdin_once {
                        self.close_stdin_when_flushed();
                    }
                }
                ClientKind::Events => {}
                _ => c.dead = true,
            }
            return;
        }
        if kind_is_new {
            self.clients[i].inbuf.extend_from_slice(&buf[..n]);
            if let Some(pos) = self.clients[i].inbuf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.clients[i].inbuf.drain(..=pos).collect();
                let rest = std::mem::take(&mut self.clients[i].inbuf);
                match serde_json::from_slice::<Request>(&line) {
                    Ok(req) => self.handle_request(i, req),
                    Err(e) => self.reply(
                        i,
                        Reply {
                            ok: false,
                            message: Some(format!("bad request: {e}")),
                            ..Default::default()
                        },
                    ),
                }
                if !rest.is_empty() {
                    self.client_input(i, &rest);
                }
            }
        } else {
            self.client_input(i, &buf[..n]);
        }
    }

    fn client_input(&mut self, i: usize, data: &[u8]) {
        if let ClientKind::Attach { stdin: true, .. } = self.clients[i].kind {
            self.stdin_buf.extend_from_slice(data);
            self.flush_stdin();
        }
    }

    fn reply(&mut self, i: usize, reply: Reply) {
        let c = &mut self.clients[i];
        c.send_line(&reply);
        c.kind = ClientKind::Closing;
        c.flush();
    }

    fn handle_request(&mut self, i: usize, req: Request) {
        match req {
            Request::Go => {
                let reply = match self.waiting_go.take() {
                    Some(started) => match self.release(started) {
                        Ok(pid) => Reply {
                            ok: true,
                            pid: Some(pid.as_raw()),
                            ..Default::default()
                        },
                        Err(e) => {
                            // A failed first start ends supervision: nothing runs.
                            self.state.status = RunStatus::Created;
                            self.save_state();
                            self.publish(None);
                            self.finished = true;
                            Reply {
                                ok: false,
                                exit_code: Some(e.exit_code),
                                message: Some(e.message),
                                pid: None,
                            }
                        }
                    },
                    None => Reply {
                        ok: true,
                        pid: self.pid.map(|p| p.as_raw()),
                        ..Default::default()
                    },
                };
                self.reply(i, reply);
            }
            Request::Events => {
                let line = EventLine {
                    action: None,
                    state: self.state.clone(),
                };
                let c = &mut self.clients[i];
                c.kind = ClientKind::Events;
                c.send_line(&line);
                c.flush();
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                let c = &mut self.clients[i];
                c.send_line(&Reply {
                    ok: true,
                    ..Default::default()
                });
                c.kind = ClientKind::Attach {
                    stdin: stdin && self.cfg.open_stdin,
                    stdout,
                    stderr,
                };
                c.flush();
            }
            Request::Stop {
                signal,
                timeout_secs,
            } => {
                self.state.stopped_by_user = true;
                if self.waiting_go.is_some() {
                    self.abandon_unstarted();
                } else if self.restart_at.take().is_some() {
                    // Waiting to restart: the container is already down.
                    self.final_exit();
                } else if let Some(pid) = self.pid {
                    if let Some(started) = self.waiting_go.take() {
                        drop(started);
                    }
                    let _ = self.thaw();
                    let _ = nix::sys::signal::kill(
                        pid,
                        Signal::try_from(signal).unwrap_or(Signal::SIGTERM),
                    );
                    if timeout_secs >= 0 {
                        self.kill_at =
                            Some(Instant::now() + Duration::from_secs(timeout_secs as u64));
                    }
                }
                self.save_state();
                self.reply(
                    i,
                    Reply {
                        ok: true,
                        ..Default::default()
                    },
                );
            }
            Request::Kill { signal } => {
                if self.waiting_go.is_some() {
                    self.abandon_unstarted();
                }
                let reply = match self.pid {
                    Some(pid) => {
                        self.state.stopped_by_user = true;
                        if signal == libc::SIGKILL {
                            let _ = self.thaw();
                        }
                        match Signal::try_from(signal) {
                            Ok(sig) => {
                                let _ = nix::sys::signal::kill(pid, sig);
                                Reply {
                                    ok: true,
                                    ..Default::default()
                                }
                            }
                            Err(_) => Reply {
                                ok: false,
                                message: Some(format!("invalid signal {signal}")),
                                ..Default::default()
                            },
                        }
                    }
                    None => {
                        if self.restart_at.take().is_some() {
                            self.state.stopped_by_user = true;
                            self.final_exit();
                        }
                        Reply {
                            ok: true,
                            ..Default::default()
                        }
                    }
                };
                self.reply(i, reply);
            }
            Request::Resize { height, width } => {
                if let Some(Io::Tty { master: Some(m) }) = &self.io {
                    let ws = libc::winsize {
                        ws_row: height,
                        ws_col: width,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    // SAFETY: TIOCSWINSZ with a valid winsize on our pty master.
                    unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
                }
                self.reply(
                    i,
                    Reply {
                        ok: true,
                        ..Default::default()
                    },
                );
            }
            Request::SetRestartPolicy { restart } => {
                self.cfg.restart = restart;
                self.reply(
                    i,
                    Reply {
                        ok: true,
                        ..Default::default()
                    },
                );
            }
            Request::SetPaused { paused } => {
                if self.pid.is_some() {
                    self.state.status = if paused {
                        RunStatus::Paused
                    } else {
                        RunStatus::Running
                    };
                    self.save_state();
                    self.publish(Some(if paused { "pause" } else { "unpause" }));
                }
                self.reply(
                    i,
                    Reply {
                        ok: true,
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// The daemon closed our stdin (or wrote to it: it never does): released already, or the
    /// daemon died before releasing the first start, which then never comes.
    fn daemon_link_closed(&mut self) {
        let Some(link) = &mut self.daemon_link else {
            return;
        };
        let mut buf = [0u8; 64];
        match link.read(&mut buf) {
            Ok(n) if n > 0 => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            _ => {}
        }
        self.daemon_link = None;
        if self.waiting_go.is_some() {
            self.abandon_unstarted();
        }
    }

    /// The first start was never released (stopped, or the daemon went away before `go`):
    /// kill the waiting process and end supervision, the container still `created`.
    fn abandon_unstarted(&mut self) {
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

    fn thaw(&self) -> std::io::Result<()> {
        match &self.cgroup {
            Some(cg) if self.state.status == RunStatus::Paused => cg.freeze(false),
            _ => Ok(()),
        }
    }

    fn read_output(&mut self, stream: u8) {
        let mut buf = [0u8; 32 * 1024];
        loop {
            let fd = match (&self.io, stream) {
                (
                    Some(Io::Pipes {
                        stdout: Some(f), ..
                    }),
                    1,
                ) => f.as_raw_fd(),
                (
                    Some(Io::Pipes {
                        stderr: Some(f), ..
                    }),
                    2,
                ) => f.as_raw_fd(),
                (Some(Io::Tty { master: Some(m) }), _) => m.as_raw_fd(),
                _ => return,
            };
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => {
                    self.close_output(stream);
                    return;
                }
                Ok(n) => self.output(stream, &buf[..n]),
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.close_output(stream);
                    return;
                }
            }
        }
    }

    fn close_output(&mut self, stream: u8) {
        match &mut self.io {
            Some(Io::Pipes { stdout, stderr, .. }) => {
                if stream == 1 {
                    *stdout = None;
                } else {
                    *stderr = None;
                }
            }
            Some(Io::Tty { master }) => *master = None,
            None => {}
        }
    }

    fn output(&mut self, stream: u8, data: &[u8]) {
        let _ = self.lines.write(&mut self.log, stream, data);
        let tty = self.cfg.spec.process.tty;
        for c in &mut self.clients {
            if c.wants(stream) {
                if !tty {
                    let mut header = [0u8; 8];
                    header[0] = stream;
                    header[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
                    c.outbuf.extend_from_slice(&header);
                }
                c.outbuf.extend_from_slice(data);
                c.flush();
                if c.outbuf.len() > 8 * 1024 * 1024 {
                    // A client that does not read loses its attachment, not the container.
                    c.dead = true;
                }
            }
        }
    }

    fn stdin_fd(&self) -> Option<i32> {
        match &self.io {
            Some(Io::Pipes { stdin: Some(f), .. }) => Some(f.as_raw_fd()),
            Some(Io::Tty { master: Some(m) }) => Some(m.as_raw_fd()),
            _ => None,
        }
    }

    fn flush_stdin(&mut self) {
        let Some(fd) = self.stdin_fd() else {
            self.stdin_buf.clear();
            return;
        };
        while !self.stdin_buf.is_empty() {
            // SAFETY: fd is open and owned by self.io.
            match nix::unistd::write(unsafe { BorrowedFd::borrow_raw(fd) }, &self.stdin_buf) {
                Ok(n) => {
                    self.stdin_buf.drain(..n);
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.stdin_buf.clear();
                    return;
                }
            }
        }
        if self.close_stdin_pending {
            self.close_stdin_now();
        }
    }

    fn close_stdin_when_flushed(&mut self) {
        self.close_stdin_pending = true;
        if self.stdin_buf.is_empty() {
            self.close_stdin_now();
        }
    }

    fn close_stdin_now(&mut self) {
        self.close_stdin_pending = false;
        if let Some(Io::Pipes { stdin, .. }) = &mut self.io {
            *stdin = None;
        }
    }

    fn handle_signals(&mut self) {
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

    fn reap_all(&mut self) {
        loop {
            match nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.reaped(pid, code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => self.reaped(pid, 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }

    fn reaped(&mut self, pid: Pid, code: i32) {
        if Some(pid) == self.pid {
            self.container_exited(code);
        } else if self.probe.as_ref().is_some_and(|p| p.pid == pid) {
            self.probe_finished(code);
        }
    }

    fn container_exited(&mut self, code: i32) {
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
    fn final_exit(&mut self) {
        self.state.status = RunStatus::Exited;
        if self.state.finished_at.is_none() {
            self.state.finished_at = Some(now_rfc3339());
        }
        self.save_state();
        self.publish(Some("die"));
        self.finished = true;
    }

    fn restart(&mut self) {
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

    fn start_probe(&mut self) {
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

    fn read_probe(&mut self) {
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

    fn probe_finished(&mut self, code: i32) {
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

    fn record_probe(&mut self, result: ProbeResult) {
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

    fn save_state(&self) {
        if let Ok(bytes) = serde_json::to_vec(&self.state) {
            let _ = replace_file(&self.cfg.state_path, &bytes);
        }
    }

    /// Send the state (and the event, if any) to every `events` client.
    fn publish(&mut self, action: Option<&str>) {
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

    fn shutdown(&mut self) {
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

impl Client {
    /// A one-shot reply fully sent: the connection can go.
    fn is_done(&self) -> bool {
        self.kind == ClientKind::Closing && self.outbuf.is_empty()
    }

    fn wants(&self, stream: u8) -> bool {
        match self.kind {
            ClientKind::Attach { stdout, stderr, .. } => {
                (stream == 1 && stdout) || (stream == 2 && stderr)
            }
            _ => false,
        }
    }

    fn send_line<T: serde::Serialize>(&mut self, v: &T) {
        if let Ok(mut line) = serde_json::to_vec(v) {
            line.push(b'\n');
            self.outbuf.extend_from_slice(&line);
        }
    }

    fn flush(&mut self) {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.dead = true;
                    self.outbuf.clear();
                    return;
                }
            }
        }
        if self.kind == ClientKind::Closing {
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
        }
    }
}

fn set_nonblocking(fd: i32) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Move stdin (the daemon's link) to a close-on-exec descriptor, so no container or probe
/// inherits it, and leave /dev/null in its place.
fn take_stdin() -> Option<std::fs::File> {
    use nix::fcntl::{fcntl, FcntlArg};
    let fd = fcntl(0, FcntlArg::F_DUPFD_CLOEXEC(3)).ok()?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nothing else owns.
    let link = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    if let Ok(devnull) = std::fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2(devnull.as_raw_fd(), 0);
    }
    set_nonblocking(fd);
    Some(link)
}

fn set_cloexec(fd: i32) {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
}
