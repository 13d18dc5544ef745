//! The daemon as its own root: open the engine state, start networking, find the supervisors
//! of containers that kept running, serve the Docker Engine API on the socket until SIGTERM or
//! SIGINT, and leave the containers running. `wharf daemon` (the CLI) only maps its flags here.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::engine::paths::Paths;
use crate::engine::Engine;

/// The environment variable naming the fd on which a daemon reports that its socket answers.
pub const READY_FD_ENV: &str = "WHARF_READY_FD";

/// Where the daemon keeps its state and listens.
pub struct DaemonOptions {
    pub root: PathBuf,
    pub run_root: PathBuf,
    pub socket: PathBuf,
    /// Also serve TCP on this address (`-H tcp://…`), with TLS when set.
    pub tcp: Option<(String, Option<std::sync::Arc<rustls::ServerConfig>>)>,
}

pub fn lock_file(path: &Path, blocking: bool) -> std::io::Result<Option<std::fs::File>> {
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

/// Run the daemon in the foreground until SIGTERM or SIGINT.
pub fn run(opts: &DaemonOptions) -> anyhow::Result<()> {
    use anyhow::Context;
    // One malloc arena per worker thread is what keeps an idle daemon's RSS up; two suffice.
    // SAFETY: mallopt before any other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    // Before any thread: they all inherit it.
    crate::engine::runtime::priority::raise_engine();
    let paths = Paths::new(&opts.root, &opts.run_root);
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
    init_logging();
    let engine = Engine::open(paths.clone()).context("opening the engine state")?;
    let socket = opts.socket.clone();
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
        engine.remove_build_leftovers().await;
        engine.refill_spare();
        std::fs::write(paths.run_root.join("wharf.pid"), std::process::id().to_string())?;
        tracing::info!(socket = %socket.display(), root = %paths.root.display(), "wharf daemon ready");
        signal_ready();
        let stop = tokio_util::sync::CancellationToken::new();
        let tcp = match &opts.tcp {
            Some((addr, tls)) => Some(serve_tcp(engine.clone(), addr, tls.clone(), stop.clone()).await?),
            None => None,
        };
        let signalled = stop.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).expect("signal handler");
            let mut int = signal(SignalKind::interrupt()).expect("signal handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("shutting down; containers keep running");
            signalled.cancel();
        });
        let shutdown = stop.clone().cancelled_owned();
        crate::api::server::serve(engine.clone(), listener, shutdown).await?;
        if let Some(t) = tcp {
            let _ = t.await;
        }
        engine.release_idle_networking().await;
        if let Ok(net) = engine.net() {
            net.shutdown().await;
        }
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(paths.run_root.join("wharf.pid"));
        Ok(())
    })
}

/// The log on stderr (filtered by `WHARF_LOG`, default `info`) and, with `WHARF_TRACE`, the
/// phase trace beside it, each with its own filter.
fn init_logging() {
    use crate::util::trace;
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG")
                .unwrap_or_else(|_| "info".into()),
        );
    let phases =
        trace::PhaseLayer::from_env(trace::Process::Daemon).map(|l| l.with_filter(trace::filter()));
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(phases)
        .try_init();
}

/// Serve the API on TCP too (`-H tcp://…`), with TLS when configured; returns the server's
/// task, which ends when `stop` is cancelled.
async fn serve_tcp(
    engine: crate::api::server::State,
    addr: &str,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("listening on tcp://{addr}: {e}"))?;
    tracing::info!(addr = %tcp.local_addr()?, tls = tls.is_some(), "serving the API on TCP");
    if tls.is_none() {
        tracing::warn!(
            "the API on TCP without TLS gives root on this host to anyone who can reach it"
        );
    }
    let shutdown = stop.cancelled_owned();
    Ok(match tls {
        Some(config) => {
            let listener = crate::api::server::tls::TlsListener::new(tcp, config)?;
            tokio::spawn(crate::api::server::serve(engine, listener, shutdown))
        }
        None => tokio::spawn(crate::api::server::serve(engine, tcp, shutdown)),
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

/// Stop the daemon of `run_root` (SIGTERM) and wait until it is gone; containers keep running.
pub fn stop(run_root: &Path) -> i32 {
    let pid_path = run_root.join("wharf.pid");
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
