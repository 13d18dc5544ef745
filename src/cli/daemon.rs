//! `wharf daemon`: run the engine and serve the API; and the CLI side: start a daemon on
//! demand and wait for it through a readiness pipe (no polling).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use super::args::{DaemonAction, DaemonArgs, GlobalOpts};
use super::{client_for, Exit};
use crate::api::client::Client;
use crate::engine::paths::Paths;
use crate::engine::Engine;

const READY_FD_ENV: &str = "WHARF_READY_FD";

pub fn main(global: &GlobalOpts, args: DaemonArgs) -> i32 {
    match args.action {
        Some(DaemonAction::Stop) => stop(global),
        None => match run(global) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("wharf daemon: {e:#}");
                1
            }
        },
    }
}

fn lock_file(path: &Path, blocking: bool) -> std::io::Result<Option<std::fs::File>> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    let flags = if blocking {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(f.as_raw_fd(), flags) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        return Err(e);
    }
    Ok(Some(f))
}

fn run(global: &GlobalOpts) -> anyhow::Result<()> {
    use anyhow::Context;
    // One malloc arena per worker thread is what keeps an idle daemon's RSS up; two suffice.
    // SAFETY: mallopt before any other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    let paths = Paths::new(&global.root, &global.run_root);
    paths.ensure().with_context(|| {
        format!(
            "creating {} and {}",
            paths.root.display(),
            paths.run_root.display()
        )
    })?;
    let _lock = lock_file(&paths.run_root.join("wharf.lock"), false)?.with_context(|| {
        format!(
            "another wharf daemon is running with run root {}",
            paths.run_root.display()
        )
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let engine = Engine::open(paths.clone()).context("opening the engine state")?;
    let socket = global.socket();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let _ = std::fs::remove_file(&socket);
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let listener = tokio::net::UnixListener::bind(&socket).with_context(|| format!("listening on {}", socket.display()))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))?;
        engine.init_networking().await.context("starting networking")?;
        engine.recover().await;
        std::fs::write(paths.run_root.join("wharf.pid"), std::process::id().to_string())?;
        tracing::info!(socket = %socket.display(), root = %paths.root.display(), "wharf daemon ready");
        signal_ready();
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).expect("signal handler");
            let mut int = signal(SignalKind::interrupt()).expect("signal handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("shutting down; containers keep running");
        };
        crate::api::server::serve(engine.clone(), listener, shutdown).await?;
        engine.release_idle_networking().await;
        if let Ok(net) = engine.net() {
            net.shutdown().await;
        }
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(paths.run_root.join("wharf.pid"));
        Ok(())
    })
}

/// Tell the CLI that started us that the socket answers.
fn signal_ready() {
    if let Some(fd) = std::env::var(READY_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        // SAFETY: the fd was handed to us for exactly this write.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        let _ = f.write_all(b"1");
    }
}

fn stop(global: &GlobalOpts) -> i32 {
    let pid_path = global.run_root.join("wharf.pid");
    let Some(pid) = std::fs::read_to_string(&pid_path)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        eprintln!("wharf: no daemon is running (no {})", pid_path.display());
        return 1;
    };
    // A pidfd tells us when the daemon is gone, without polling.
    // SAFETY: plain syscalls on a pid and our own fd.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        eprintln!("wharf: no daemon is running (pid {pid} is gone)");
        let _ = std::fs::remove_file(&pid_path);
        return 1;
    }
    if pidfd >= 0 {
        let mut fds = [libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        }];
        unsafe {
            libc::poll(fds.as_mut_ptr(), 1, 30_000);
            libc::close(pidfd);
        }
    }
    0
}

/// Connect to the daemon, starting one (detached, same options) if none answers.
pub async fn ensure_daemon(global: &GlobalOpts) -> Result<Client, Exit> {
    let client = client_for(global);
    if client.ping().await.is_ok() {
        return Ok(client);
    }
    let global = global.clone();
    tokio::task::spawn_blocking(move || start_daemon(&global))
        .await
        .map_err(|e| Exit::msg(125, e.to_string()))??;
    client
        .ping()
        .await
        .map_err(|e| Exit::msg(125, format!("wharf: the daemon did not come up: {e}")))?;
    Ok(client)
}

fn start_daemon(global: &GlobalOpts) -> Result<(), Exit> {
    let fail = |m: String| Exit::msg(125, format!("wharf: starting the daemon: {m}"));
    std::fs::create_dir_all(&global.run_root)
        .map_err(|e| fail(format!("creating {}: {e}", global.run_root.display())))?;
    // One starter at a time; the others find the daemon up once they get the lock.
    let _lock = lock_file(&global.run_root.join("autostart.lock"), true)
        .map_err(|e| fail(e.to_string()))?;
    if std::os::unix::net::UnixStream::connect(global.socket()).is_ok() {
        return Ok(());
    }
    let log_path = global.run_root.join("wharf-daemon.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| fail(format!("opening {}: {e}", log_path.display())))?;
    let (mut ready_r, ready_w) = std::io::pipe().map_err(|e| fail(e.to_string()))?;
    let exe = std::env::current_exe().map_err(|e| fail(e.to_string()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(&global.root)
        .arg("--run-root")
        .arg(&global.run_root)
        .arg("-H")
        .arg(format!("unix://{}", global.socket().display()))
        .arg("daemon")
        .env(READY_FD_ENV, ready_w.as_raw_fd().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| fail(e.to_string()))?)
        .stderr(log);
    let ready_fd = ready_w.as_raw_fd();
    // SAFETY: setsid and fcntl are async-signal-safe; the readiness fd must survive exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            let flags = libc::fcntl(ready_fd, libc::F_GETFD);
            libc::fcntl(ready_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    drop(ready_w);
    let mut buf = [0u8; 1];
    let n = ready_r.read(&mut buf).unwrap_or(0);
    drop(child);
    if n != 1 {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("it exited")
            .to_string();
        return Err(fail(format!("{last} (log: {})", log_path.display())));
    }
    Ok(())
}
