//! Running a further process inside a running container (`exec`, healthcheck probes): join the
//! namespaces and cgroup of the container's first process, fork into its PID namespace, then
//! the same privilege dropping and exec as a container start.
//!
//! Runs as the hidden `wharf __nsexec` command (a fresh single-threaded process); the parent half
//! stays outside as the child's waiter and exits with its status.

use std::os::fd::AsRawFd;

use nix::sched::CloneFlags;
use nix::unistd;
use serde::{Deserialize, Serialize};

use super::cgroups::Cgroup;
use super::console;
use super::init::{exec_process, EXIT_RUNTIME};
use super::spec::ProcessSpec;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NsExecSpec {
    /// PID (in the host's namespace) of the container's first process.
    pub pid: i32,
    pub process: ProcessSpec,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub cgroup: Option<String>,
    /// With a TTY: the descriptor of the socket on which to send the master of the terminal
    /// made in the container's devpts.
    #[serde(default)]
    pub console_socket: Option<i32>,
}

/// Enter the container and run the process; returns the exit code for our own exit.
pub fn run(spec: &NsExecSpec) -> i32 {
    match enter_and_run(spec) {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("{msg}");
            code
        }
    }
}

fn enter_and_run(spec: &NsExecSpec) -> Result<i32, (i32, String)> {
    let seccomp_program = match &spec.process.seccomp_bpf {
        Some(p) => Some(
            super::seccomp::read_program(p)
                .map_err(|e| (EXIT_RUNTIME, format!("reading {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let proc_dir = format!("/proc/{}", spec.pid);
    let open = |name: &str| {
        std::fs::File::open(format!("{proc_dir}/{name}")).map_err(|e| {
            (
                EXIT_RUNTIME,
                format!("container process {} is gone: {e}", spec.pid),
            )
        })
    };
    let root = open("root")?;
    let namespaces = [
        ("ns/ipc", CloneFlags::CLONE_NEWIPC),
        ("ns/uts", CloneFlags::CLONE_NEWUTS),
        ("ns/net", CloneFlags::CLONE_NEWNET),
        ("ns/pid", CloneFlags::CLONE_NEWPID),
        ("ns/mnt", CloneFlags::CLONE_NEWNS),
    ];
    let fds: Vec<(std::fs::File, CloneFlags)> = namespaces
        .iter()
        .map(|(n, f)| open(n).map(|fd| (fd, *f)))
        .collect::<Result<_, _>>()?;
    if let Some(cg) = spec.cgroup.as_deref().and_then(Cgroup::detect) {
        let _ = cg.add(std::process::id() as i32, false);
    }
    for (fd, flag) in fds {
        // Joining a namespace we already share fails harmlessly (e.g. host network).
        let _ = nix::sched::setns(fd, flag);
    }
    unistd::fchdir(root.as_raw_fd()).map_err(|e| (EXIT_RUNTIME, format!("fchdir: {e}")))?;
    unistd::chroot(".").map_err(|e| (EXIT_RUNTIME, format!("chroot: {e}")))?;
    let slave = match spec.console_socket.filter(|_| spec.process.tty) {
        Some(socket) => Some(make_console(socket)?),
        None => None,
    };
    let (err_r, err_w) = unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| (EXIT_RUNTIME, format!("pipe: {e}")))?;
    // SAFETY: this process is single-threaded.
    match unsafe { unistd::fork() }.map_err(|e| (EXIT_RUNTIME, format!("fork: {e}")))? {
        unistd::ForkResult::Child => {
            drop(err_r);
            super::init::reset_signals();
            let mut err = std::fs::File::from(err_w);
            let (code, msg) = match slave
                .as_ref()
                .map(adopt_terminal)
                .transpose()
                .and_then(|_| {
                    exec_process(
                        &spec.process,
                        spec.privileged,
                        false,
                        seccomp_program.as_ref(),
                        &mut err,
                    )
                }) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            eprintln!("{msg}");
            unsafe { libc::_exit(code) }
        }
        unistd::ForkResult::Parent { child } => {
            // The process holds the terminal now: its exit is the master's end of file.
            drop(slave);
            drop(err_w);
            drop(err_r);
            forward_signals(child);
            loop {
                match nix::sys::wait::waitpid(child, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => return Ok(c),
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
                    Ok(_) => continue,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err((EXIT_RUNTIME, format!("waitpid: {e}"))),
                }
            }
        }
    }
}

/// A terminal in the container's devpts (we are in its root now): the master goes to the
/// daemon and closes here; the slave is returned for the process's stdio.
fn make_console(socket: i32) -> Result<std::os::fd::OwnedFd, (i32, String)> {
    let c = console::open()
        .map_err(|e| (EXIT_RUNTIME, format!("creating the exec's terminal: {e}")))?;
    console::send_fd(socket, c.master.as_raw_fd()).map_err(|e| {
        (
            EXIT_RUNTIME,
            format!("handing the terminal to the daemon: {e}"),
        )
    })?;
    let _ = unistd::close(socket);
    Ok(c.slave)
}

/// The terminal's slave as the process's stdio.
fn adopt_terminal(slave: &std::os::fd::OwnedFd) -> Result<(), (i32, String)> {
    for dst in 0..3 {
        unistd::dup2(slave.as_raw_fd(), dst)
            .map_err(|e| (EXIT_RUNTIME, format!("setting up stdio: {e}")))?;
    }
    Ok(())
}

static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn relay(sig: libc::c_int) {
    let pid = CHILD.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Signals sent to the waiter (by the daemon, for `kill` of an exec) reach the process.
fn forward_signals(child: unistd::Pid) {
    CHILD.store(child.as_raw(), std::sync::atomic::Ordering::Relaxed);
    for sig in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: installing a handler that only calls kill.
        unsafe { libc::signal(sig, relay as *const () as libc::sighandler_t) };
    }
}
