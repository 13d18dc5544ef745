//! The supervisor's event loop: one thread, `poll(2)` over the container's output, the control
//! socket, a signalfd for SIGCHLD and the healthcheck probe; timers for stop, restart backoff
//! and probes come from the poll timeout. No tokio here, so it stays small (~1-2 MB RSS).
//!
//! One [`Supervisor`] value holds all the state; its methods live in one module per concern:
//! [`poll`] (the loop: what to wait for, timers, signals), [`clients`] (the control socket:
//! requests and their replies), [`io`] (the container's stdio and the log), [`process`] (the
//! container's process: start, exit, restart policy, state) and [`probe`] (healthchecks).

mod clients;
mod io;
mod poll;
mod probe;
mod process;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use super::health::HealthSpec;
use super::logs::LineWriter;
use super::restart::Backoff;
use super::{RunState, RunStatus, SupervisorConfig};
use crate::engine::runtime::cgroups::Cgroup;
use crate::engine::runtime::init;
use io::take_stdin;

/// How long a first start may wait for the daemon's `go`.
const GO_TIMEOUT: Duration = Duration::from_secs(60);

/// Entry point of `wharf __supervise CONFIG`; with `-` for CONFIG, a spare supervisor that
/// waits for its config's path on stdin (the engine's `spare` module) and logs beside it.
pub fn main(config_path: &Path) -> i32 {
    crate::util::trace::init(crate::util::trace::Process::Supervisor);
    let from_stdin;
    let config_path = if config_path == Path::new("-") {
        match io::config_from_stdin() {
            Some(p) => {
                from_stdin = p;
                from_stdin.as_path()
            }
            // The daemon went away before it needed us.
            None => return 0,
        }
    } else {
        config_path
    };
    let setup = tracing::debug_span!(target: "phase", "supervisor setup").entered();
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
    let supervisor = Supervisor::new(cfg);
    drop(setup);
    match supervisor.and_then(|mut s| s.run()) {
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
    /// A TTY whose terminal the process makes in its own root: the master arrives on this
    /// socket once it is released; input written meanwhile waits in the buffer.
    TtyToCome {
        socket: OwnedFd,
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
        let _cgroup_phase = tracing::debug_span!(target: "phase", "cgroup").entered();
        let cgroup = Cgroup::detect(&cfg.spec.cgroup.path);
        if let Some(cg) = &cgroup {
            cg.create(&cfg.spec.cgroup)
                .map_err(|e| format!("creating cgroup: {e}"))?;
            // Processes left by an earlier supervisor that died: one init per container.
            if !cg.pids().is_empty() && !cg.kill_and_wait(Duration::from_secs(5)) {
                return Err("processes of an earlier run of the container do not end".into());
            }
        }
        drop(_cgroup_phase);
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
        let started = tracing::debug_span!(target: "phase", "clone").in_scope(|| s.spawn())?;
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

    fn run(&mut self) -> Result<(), String> {
        while !self.finished {
            self.poll_once()?;
        }
        let _phase = tracing::debug_span!(target: "phase", "supervisor teardown").entered();
        self.shutdown();
        Ok(())
    }
}
