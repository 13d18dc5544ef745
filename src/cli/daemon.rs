//! `wharf daemon` (flags → [`crate::daemon`]) and the CLI side of auto-start: start a daemon
//! on demand and wait for it through a readiness pipe (no polling).
//!
//! A daemon that was told to stop no longer answers but holds its lock until its last
//! requests have finished; a command run at that moment waits (bounded) for the lock to be let
//! go before it starts the new daemon, instead of failing with "another daemon is running".

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use super::args::{DaemonAction, DaemonArgs, GlobalOpts};
use super::{client_for, Exit};
use crate::api::client::Client;
use crate::daemon::{lock_file, DaemonOptions, READY_FD_ENV};

pub fn main(global: &GlobalOpts, args: DaemonArgs) -> i32 {
    match args.action {
        Some(DaemonAction::Stop) => crate::daemon::stop(&global.run_root),
        None => match daemon_options(global).and_then(|o| crate::daemon::run(&o)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("wharf daemon: {e:#}");
                1
            }
        },
    }
}

fn daemon_options(global: &GlobalOpts) -> anyhow::Result<DaemonOptions> {
    let tcp = match global.tcp_listen() {
        Some(addr) => {
            let tls = match global.tls_files() {
                Some(files) => Some(files.server_config().map_err(anyhow::Error::msg)?),
                None => None,
            };
            Some((addr, tls))
        }
        None => None,
    };
    Ok(DaemonOptions {
        root: global.root.clone(),
        run_root: global.run_root.clone(),
        socket: global.socket(),
        tcp,
    })
}

/// Connect to the daemon, starting one (detached, same options) if none answers.
pub async fn ensure_daemon(global: &GlobalOpts) -> Result<Client, Exit> {
    let client = client_for(global)?;
    match client.ping().await {
        Ok(()) => return Ok(client),
        // only a local daemon is started on demand
        Err(e) if client.endpoint().local_socket().is_none() => {
            return Err(Exit::msg(125, format!("wharf: {e}")))
        }
        Err(_) => {}
    }
    // A daemon whose socket this user may not open is running: say so, as the docker CLI
    // does, instead of trying to start a second one.
    if let Some(path) = client.endpoint().local_socket() {
        if let Err(e) = std::os::unix::net::UnixStream::connect(path) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(Exit::msg(
                    125,
                    format!(
                        "wharf: permission denied while trying to connect to the wharf daemon socket at unix://{}: connect: permission denied",
                        path.display()
                    ),
                ));
            }
        }
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
    let as_root = nix::unistd::geteuid().is_root();
    let fail = |m: String| {
        let hint = if as_root {
            ""
        } else {
            " (the wharf daemon runs as root)"
        };
        Exit::msg(125, format!("wharf: starting the daemon: {m}{hint}"))
    };
    std::fs::create_dir_all(&global.run_root)
        .map_err(|e| fail(format!("creating {}: {e}", global.run_root.display())))?;
    // One starter at a time; the others find the daemon up once they get the lock.
    let _lock = lock_file(&global.run_root.join("autostart.lock"), true)
        .map_err(|e| fail(e.to_string()))?;
    if std::os::unix::net::UnixStream::connect(global.socket()).is_ok() {
        return Ok(());
    }
    wait_for_old_daemon(&global.run_root).map_err(fail)?;
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

/// How long a starter waits for a daemon that is shutting down to let go of its lock.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Wait until no daemon holds `<run-root>/wharf.lock`. A thread blocks in `flock` (no polling);
/// on a timeout it is left blocked and ends with the command.
fn wait_for_old_daemon(run_root: &Path) -> Result<(), String> {
    let path = run_root.join("wharf.lock");
    if let Some(_free) = lock_file(&path, false).map_err(|e| e.to_string())? {
        return Ok(());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let waited = path.clone();
    std::thread::spawn(move || {
        // Released as soon as it is taken: the new daemon takes it for good.
        let _ = tx.send(lock_file(&waited, true).map(drop));
    });
    match rx.recv_timeout(SHUTDOWN_WAIT) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "another wharf daemon holds {} but does not answer on its socket (still shutting down after {} s?)",
            path.display(),
            SHUTDOWN_WAIT.as_secs()
        )),
    }
}
