//! Starting a container process: `clone(2)` into new namespaces, then, in the child, set up the
//! root filesystem ([`super::rootfs`], ending with `pivot_root(2)`), drop privileges and
//! `execve(2)`.
//!
//! The child waits on a "go" pipe before doing anything, so its parent can first place it in its
//! cgroup (and the daemon can attach clients). Errors before `execve` travel back through a
//! close-on-exec pipe: EOF on it means the exec happened.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{self, Pid};

use super::cgroups::Cgroup;
use super::spec::{NetworkNamespace, ProcessSpec, RuntimeSpec};
use super::syscall::Linux;
use super::{caps, console, rootfs, seccomp, user};

/// Exit codes used when the container's command cannot run, as Docker reports them.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;
/// Failures of the runtime itself before the command (bad mount, unknown user...).
pub const EXIT_RUNTIME: i32 = 125;

/// The standard streams the container gets.
pub struct Stdio {
    pub stdin: RawFd,
    pub stdout: RawFd,
    pub stderr: RawFd,
    /// With a TTY: the socket on which the child, once in its root, sends the master of the
    /// terminal it made in its own devpts; the slave then replaces the three streams above.
    pub console: Option<RawFd>,
}

/// A cloned container process waiting for `go`.
pub struct Started {
    pub pid: Pid,
    go: Option<OwnedFd>,
    errors: OwnedFd,
}

/// Why a container's command did not start.
#[derive(Debug, Clone)]
pub struct StartError {
    pub exit_code: i32,
    pub message: String,
}

impl Started {
    /// Let the process continue; wait until it has exec'd or failed.
    pub fn go(mut self) -> Result<Pid, StartError> {
        if let Some(go) = self.go.take() {
            let mut f = std::fs::File::from(go);
            let _ = f.write_all(b"g");
        }
        let mut buf = String::new();
        let mut f = std::fs::File::from(self.errors);
        let _ = f.read_to_string(&mut buf);
        if buf.is_empty() {
            return Ok(self.pid);
        }
        let (code, msg) = buf.split_once('\n').unwrap_or(("125", &buf));
        Err(StartError {
            exit_code: code.parse().unwrap_or(EXIT_RUNTIME),
            message: msg.to_string(),
        })
    }
}

/// Clone the container's first process. Must be called from a single-threaded process.
pub fn spawn(
    spec: &RuntimeSpec,
    stdio: &Stdio,
    cgroup: Option<&Cgroup>,
) -> Result<Started, String> {
    let (go_r, go_w) =
        unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) =
        unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // Everything the child needs is read before clone: after pivot_root the host is gone.
    let seccomp_program = match &spec.process.seccomp_bpf {
        Some(p) => {
            Some(seccomp::read_program(p).map_err(|e| format!("reading {}: {e}", p.display()))?)
        }
        None => None,
    };
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    if spec.join_pid_ns_of.is_none() {
        flags |= CloneFlags::CLONE_NEWPID;
    }
    if spec.network == NetworkNamespace::New {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let go_r_fd = go_r.as_raw_fd();
    let err_w_fd = err_w.as_raw_fd();
    let (stdin, stdout, stderr) = (stdio.stdin, stdio.stdout, stdio.stderr);
    let console = stdio.console;
    let child_main_fn = || -> isize {
        crate::util::trace::set_process(crate::util::trace::Process::Init);
        let mut err = unsafe { std::fs::File::from_raw_fd(err_w_fd) };
        let mut go = unsafe { std::fs::File::from_raw_fd(go_r_fd) };
        let mut b = [0u8; 1];
        if go.read(&mut b).unwrap_or(0) != 1 {
            // The supervisor went away before releasing us.
            unsafe { libc::_exit(EXIT_RUNTIME) };
        }
        drop(go);
        tracing::debug!(target: "phase", "released");
        let code = match child_main(
            spec,
            (stdin, stdout, stderr),
            console,
            seccomp_program.as_ref(),
            &mut err,
        ) {
            Ok(never) => match never {},
            Err((code, msg)) => {
                let _ = err.write_all(format!("{code}\n{msg}").as_bytes());
                code
            }
        };
        unsafe { libc::_exit(code) }
    };
    // Born in its cgroup when possible: no migration (and its RCU wait) afterwards.
    let target = cgroup.and_then(|c| c.clone_target());
    let (pid, cloned_into) = match target.as_ref().map(|fd| clone3_into(flags, fd.as_raw_fd())) {
        Some(Ok(0)) => {
            child_main_fn();
            unreachable!("the child exits");
        }
        Some(Ok(pid)) => (Pid::from_raw(pid), true),
        // Old kernels: plain clone, then migrate.
        Some(Err(_)) | None => {
            let mut stack = vec![0u8; 256 * 1024];
            // SAFETY: the caller is single-threaded; the child only runs our setup code then execs.
            let pid = unsafe {
                nix::sched::clone(
                    Box::new(child_main_fn),
                    &mut stack,
                    flags,
                    Some(libc::SIGCHLD),
                )
            }
            .map_err(|e| format!("clone: {e}"))?;
            (pid, false)
        }
    };
    drop(go_r);
    drop(err_w);
    if let Some(cg) = cgroup {
        if let Err(e) = cg.add(pid.as_raw(), cloned_into) {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            return Err(format!("adding the container to its cgroup: {e}"));
        }
    }
    Ok(Started {
        pid,
        go: Some(go_w),
        errors: err_r,
    })
}

/// `clone3(2)` with `CLONE_INTO_CGROUP`, fork-like (no new stack): returns 0 in the child.
fn clone3_into(flags: CloneFlags, cgroup_fd: RawFd) -> std::io::Result<i32> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup_fd as u64,
    };
    // SAFETY: a fork-like clone3 in a single-threaded process; the child returns 0 here and
    // only runs the container setup before exec or _exit.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(rc as i32)
}

pub type ChildResult = Result<std::convert::Infallible, (i32, String)>;

fn fail<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> (i32, String) {
    let what = what.into();
    move |e| (EXIT_RUNTIME, format!("{what}: {e}"))
}

fn child_main(
    spec: &RuntimeSpec,
    stdio: (RawFd, RawFd, RawFd),
    console: Option<RawFd>,
    seccomp_program: Option<&seccompiler::BpfProgram>,
    err: &mut std::fs::File,
) -> ChildResult {
    let namespaces = tracing::debug_span!(target: "phase", "namespaces").entered();
    reset_signals();
    // Standard streams first so that anything printed lands in the container's log.
    for (src, dst) in [(stdio.0, 0), (stdio.1, 1), (stdio.2, 2)] {
        if src != dst {
            unistd::dup2(src, dst).map_err(fail("setting up stdio"))?;
        }
    }
    if let NetworkNamespace::Path { path } = &spec.network {
        let f = std::fs::File::open(path).map_err(fail(format!("opening {}", path.display())))?;
        nix::sched::setns(f, CloneFlags::CLONE_NEWNET)
            .map_err(fail("joining the network namespace"))?;
    }
    if spec.network == NetworkNamespace::New {
        loopback_up().map_err(fail("bringing up the loopback interface"))?;
    }
    unistd::sethostname(&spec.hostname).map_err(fail("setting the hostname"))?;
    if !spec.domainname.is_empty() {
        let d = CString::new(spec.domainname.clone()).unwrap_or_default();
        // SAFETY: valid pointer and length.
        unsafe { libc::setdomainname(d.as_ptr(), spec.domainname.len()) };
    }
    write_sysctls(&spec.sysctls)?;
    drop(namespaces);
    tracing::debug_span!(target: "phase", "rootfs")
        .in_scope(|| rootfs::setup_rootfs(&Linux, spec))?;
    if let Some(socket) = console {
        make_console(socket)?;
    }
    exec_process(
        &spec.process,
        spec.privileged,
        spec.init,
        seccomp_program,
        err,
    )
}

/// The container's terminal, in its own devpts: bound on `/dev/console`, its master sent to the
/// supervisor, its slave our stdio (`exec_process` makes it the controlling terminal).
fn make_console(socket: RawFd) -> Result<(), (i32, String)> {
    let c = console::open().map_err(fail("creating the container's terminal"))?;
    rootfs::bind_console(&Linux, &c.slave_path)?;
    console::send_fd(socket, c.master.as_raw_fd())
        .map_err(fail("handing the terminal to the supervisor"))?;
    for dst in 0..3 {
        unistd::dup2(c.slave.as_raw_fd(), dst).map_err(fail("setting up stdio"))?;
    }
    Ok(())
}

/// `--sysctl` values, through the host's /proc still mounted here: the kernel resolves
/// /proc/sys/net and the IPC keys in the writer's namespaces, which are the container's now.
/// The error names the key and the kernel's reason, like runc's.
fn write_sysctls(sysctls: &[(String, String)]) -> Result<(), (i32, String)> {
    for (key, value) in sysctls {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value)
            .map_err(fail(format!("write sysctl key {key}: write {path}")))?;
    }
    Ok(())
}

/// From a prepared root onwards: session and terminal, limits, user, capabilities, working
/// directory, no_new_privs, seccomp, exec. Shared by container starts and `exec`.
pub fn exec_process(
    process: &ProcessSpec,
    privileged: bool,
    init: bool,
    seccomp_program: Option<&seccompiler::BpfProgram>,
    err: &mut std::fs::File,
) -> ChildResult {
    // Nothing the supervisor, the daemon or their caller held open reaches the command: every
    // descriptor past stdio closes at exec (the error pipe included, which is how the exec is
    // seen), as runc does.
    // SAFETY: plain syscall on our own descriptor table.
    unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        )
    };
    let setup = tracing::debug_span!(target: "phase", "process setup").entered();
    if let Some(nice) = process.nice {
        // Back from the engine's priority to the containers' (lowering is always allowed).
        let _ = super::priority::set(nice);
    }
    let _ = unistd::setsid();
    if process.tty {
        // SAFETY: fd 0 is the pty slave; make it our controlling terminal.
        unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    }
    for r in &process.rlimits {
        set_rlimit(&r.name, r.soft, r.hard)?;
    }
    let resolved = tracing::debug_span!(target: "phase", "user")
        .in_scope(|| user::resolve(Path::new("/"), &process.user, &process.additional_groups))
        .map_err(|e| (EXIT_RUNTIME, e))?;
    let cwd = if process.cwd.is_empty() {
        "/".to_string()
    } else {
        process.cwd.clone()
    };
    let _ = std::fs::create_dir_all(&cwd);
    let mut env = process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", resolved.home));
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    // Without no_new_privs the kernel takes a seccomp filter only from a process holding
    // CAP_SYS_ADMIN: load it now, before the user and the capabilities change (as runc does).
    // Setuid binaries then work, as with Docker's default.
    let seccomp_late = match seccomp_program {
        Some(p) if !process.no_new_privileges => {
            tracing::debug_span!(target: "phase", "seccomp")
                .in_scope(|| seccomp::load(p))
                .map_err(|e| (EXIT_RUNTIME, e))?;
            None
        }
        other => other,
    };
    if !privileged {
        caps::limit_bounding(&process.capabilities).map_err(|e| (EXIT_RUNTIME, e))?;
    }
    let gids: Vec<unistd::Gid> = resolved
        .additional_gids
        .iter()
        .map(|g| unistd::Gid::from_raw(*g))
        .collect();
    unistd::setgroups(&gids).map_err(fail("setgroups"))?;
    let gid = unistd::Gid::from_raw(resolved.gid);
    unistd::setresgid(gid, gid, gid).map_err(fail("setgid"))?;
    let uid = unistd::Uid::from_raw(resolved.uid);
    unistd::setresuid(uid, uid, uid).map_err(fail("setuid"))?;
    if !privileged {
        tracing::debug_span!(target: "phase", "capabilities")
            .in_scope(|| caps::apply(&process.capabilities, resolved.uid))
            .map_err(|e| (EXIT_RUNTIME, e))?;
    }
    unistd::chdir(Path::new(&cwd)).map_err(|e| {
        (
            EXIT_RUNTIME,
            format!("chdir to cwd (\"{cwd}\") set in config.json failed: {e}"),
        )
    })?;
    if process.no_new_privileges {
        // SAFETY: plain prctl.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    }
    let program = find_program(&process.args, &env)?;
    drop(setup);
    if init {
        run_as_init(&program, &process.args, &env, seccomp_late, err)
    } else {
        exec(&program, &process.args, &env, seccomp_late)
    }
}

/// Undo what the supervisor's process state would leak into the container: its blocked signals
/// and Rust's ignored SIGPIPE (ignored dispositions survive exec).
pub fn reset_signals() {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: restoring default dispositions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }
}

/// Resolve the command like `execvp` with the container's PATH, reporting Docker's errors.
fn find_program(args: &[String], env: &[String]) -> Result<PathBuf, (i32, String)> {
    let Some(cmd) = args.first() else {
        return Err((EXIT_RUNTIME, "no command specified".into()));
    };
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Err((
                EXIT_CANNOT_INVOKE,
                format!("exec: \"{cmd}\": is a directory"),
            )),
            Ok(_) => Ok(p),
            Err(_) => Err((
                EXIT_NOT_FOUND,
                format!("exec: \"{cmd}\": stat {cmd}: no such file or directory"),
            )),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(cmd);
        if let Ok(m) = std::fs::metadata(&candidate) {
            use std::os::unix::fs::PermissionsExt;
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err((
        EXIT_NOT_FOUND,
        format!("exec: \"{cmd}\": executable file not found in $PATH"),
    ))
}

fn exec(
    program: &Path,
    args: &[String],
    env: &[String],
    seccomp_program: Option<&seccompiler::BpfProgram>,
) -> ChildResult {
    let c_prog = CString::new(program.as_os_str().as_encoded_bytes()).map_err(fail("command"))?;
    let c_args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_default())
        .collect();
    let c_env: Vec<CString> = env
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_default())
        .collect();
    if let Some(p) = seccomp_program {
        tracing::debug_span!(target: "phase", "seccomp")
            .in_scope(|| seccomp::load(p))
            .map_err(|e| (EXIT_RUNTIME, e))?;
    }
    tracing::debug!(target: "phase", "execve");
    let e = unistd::execve(&c_prog, &c_args, &c_env).unwrap_err();
    let code = if e == nix::errno::Errno::ENOENT {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_INVOKE
    };
    Err((
        code,
        format!("exec: \"{}\": {}", args[0], e.desc().to_lowercase()),
    ))
}

/// `--init`: stay as PID 1, reap every child, forward signals to the command, exit with its status.
fn run_as_init(
    program: &Path,
    args: &[String],
    env: &[String],
    seccomp_program: Option<&seccompiler::BpfProgram>,
    err: &mut std::fs::File,
) -> ChildResult {
    let all = SigSet::all();
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old))
        .map_err(fail("sigprocmask"))?;
    // SAFETY: single-threaded; the child execs right away.
    match unsafe { unistd::fork() }.map_err(fail("fork"))? {
        unistd::ForkResult::Child => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            match exec(program, args, env, seccomp_program) {
                Ok(never) => match never {},
                Err((code, msg)) => {
                    let _ = err.write_all(format!("{code}\n{msg}").as_bytes());
                    unsafe { libc::_exit(code) }
                }
            }
        }
        unistd::ForkResult::Parent { child } => {
            // Our copy of the error pipe must close so the supervisor sees the exec. We never
            // return from here (only `_exit`), so the File is never dropped twice.
            let _ = unistd::close(err.as_raw_fd());
            loop {
                let Ok(sig) = all.wait() else { continue };
                if sig == Signal::SIGCHLD {
                    loop {
                        match nix::sys::wait::waitpid(
                            None,
                            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                        ) {
                            Ok(nix::sys::wait::WaitStatus::Exited(p, code)) if p == child => unsafe {
                                libc::_exit(code)
                            },
                            Ok(nix::sys::wait::WaitStatus::Signaled(p, s, _)) if p == child => unsafe {
                                libc::_exit(128 + s as i32)
                            },
                            Ok(nix::sys::wait::WaitStatus::StillAlive) | Err(_) => break,
                            Ok(_) => continue,
                        }
                    }
                } else {
                    let _ = nix::sys::signal::kill(child, sig);
                }
            }
        }
    }
}

fn set_rlimit(name: &str, soft: u64, hard: u64) -> Result<(), (i32, String)> {
    use nix::sys::resource::{setrlimit, Resource};
    let res = match name
        .trim_start_matches("RLIMIT_")
        .to_ascii_lowercase()
        .as_str()
    {
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "core" => Resource::RLIMIT_CORE,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "stack" => Resource::RLIMIT_STACK,
        "cpu" => Resource::RLIMIT_CPU,
        "fsize" => Resource::RLIMIT_FSIZE,
        "data" => Resource::RLIMIT_DATA,
        "as" => Resource::RLIMIT_AS,
        "locks" => Resource::RLIMIT_LOCKS,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        other => return Err((EXIT_RUNTIME, format!("unknown ulimit {other}"))),
    };
    setrlimit(res, soft, hard).map_err(fail(format!("setrlimit {name}")))
}

/// `ifconfig lo up` through an ioctl: a fresh network namespace starts with loopback down.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket + ioctl with a zeroed, NUL-terminated ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        req.ifr_name[0] = b'l' as libc::c_char;
        req.ifr_name[1] = b'o' as libc::c_char;
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if rc == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc != 0 {
            return Err(err);
        }
    }
    Ok(())
}
