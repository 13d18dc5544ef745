//! `exec`: run another process in a running container through the `__nsexec` helper, with its
//! stdio held by the daemon for the hijacked API connection.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use bollard_stubs::models::{EventMessageTypeEnum, ExecConfig, ExecInspectResponse, ProcessConfig};

use super::error::{Error, IoContext, Result};
use super::runtime::console;
use super::runtime::nsexec::NsExecSpec;
use super::runtime::tty::set_winsize;
use super::Engine;

#[derive(Debug, Clone)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: i32,
    pub tty_master: Option<Arc<OwnedFd>>,
}

#[derive(Default)]
pub struct Execs {
    map: Mutex<HashMap<String, ExecRecord>>,
}

/// The streams of a started exec.
pub enum ExecIo {
    Pipes {
        stdin: Option<tokio::process::ChildStdin>,
        stdout: tokio::process::ChildStdout,
        stderr: tokio::process::ChildStderr,
    },
    Tty {
        master: tokio::fs::File,
    },
}

impl Engine {
    pub fn exec_create(&self, container: &str, config: ExecConfig) -> Result<String> {
        let rec = self.containers.resolve(container)?;
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        if rec.state.status == super::supervisor::RunStatus::Paused {
            return Err(Error::conflict(format!(
                "container {} is paused, unpause the container before exec",
                rec.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::invalid("No exec command specified"));
        }
        let id = crate::util::ids::random_id();
        self.execs.map.lock().unwrap().insert(
            id.clone(),
            ExecRecord {
                id: id.clone(),
                container_id: rec.id,
                config,
                running: false,
                exit_code: None,
                pid: 0,
                tty_master: None,
            },
        );
        Ok(id)
    }

    pub fn exec_get(&self, id: &str) -> Result<ExecRecord> {
        self.execs
            .map
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspectResponse> {
        let e = self.exec_get(id)?;
        let cmd = e.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspectResponse {
            can_remove: Some(!e.running),
            id: Some(e.id.clone()),
            running: Some(e.running),
            exit_code: e.exit_code,
            process_config: Some(ProcessConfig {
                privileged: e.config.privileged,
                user: e.config.user.clone(),
                tty: e.config.tty,
                entrypoint: cmd.first().cloned(),
                arguments: Some(cmd.iter().skip(1).cloned().collect()),
            }),
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            container_id: Some(e.container_id.clone()),
            pid: Some(e.pid as i64),
            detach_keys: Some(String::new()),
        })
    }

    /// Start an exec: spawn the helper and hand back its streams. The exit code is recorded
    /// when it ends (and an `exec_die` event published).
    pub async fn exec_start(
        self: &Arc<Self>,
        id: &str,
        tty_override: Option<bool>,
    ) -> Result<ExecIo> {
        let (e, rec) = self.exec_startable(id)?;
        let mut spec = self.exec_spec(&rec, &e.config, tty_override)?;
        let tty = spec.process.tty;
        let mut cmd = tokio::process::Command::new(&self.binary);
        let console = if tty {
            spec.console_socket = Some(CONSOLE_FD);
            Some(hand_console_socket(&mut cmd)?)
        } else {
            cmd.stdin(if e.config.attach_stdin.unwrap_or(false) {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
            None
        };
        cmd.arg("__nsexec")
            .env_clear()
            .env("WHARF_NSEXEC_SPEC", serde_json::to_string(&spec)?);
        let mut child = cmd.spawn().ctx(|| "starting the exec helper".into())?;
        let pid = child.id().unwrap_or(0) as i32;
        let master = match console {
            Some((keep, give)) => {
                drop(give);
                match receive_console(keep, &mut child).await {
                    Ok(m) => Some(Arc::new(m)),
                    Err(e) => {
                        let engine = self.clone();
                        let exec_id = id.to_string();
                        tokio::spawn(async move { engine.exec_ended(child, exec_id, rec).await });
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        {
            let mut map = self.execs.map.lock().unwrap();
            if let Some(r) = map.get_mut(id) {
                r.running = true;
                r.pid = pid;
                r.tty_master = master.clone();
            }
        }
        let io = match master {
            Some(master) => {
                let dup = nix::unistd::dup(master.as_raw_fd())
                    .map_err(|e| Error::internal(e.to_string()))?;
                // SAFETY: dup returned a new fd we own.
                let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(dup) };
                ExecIo::Tty {
                    master: tokio::fs::File::from_std(file),
                }
            }
            None => {
                let missing = || Error::internal("the exec helper's output is not piped");
                ExecIo::Pipes {
                    stdin: child.stdin.take(),
                    stdout: child.stdout.take().ok_or_else(missing)?,
                    stderr: child.stderr.take().ok_or_else(missing)?,
                }
            }
        };
        let engine = self.clone();
        let exec_id = id.to_string();
        tokio::spawn(async move { engine.exec_ended(child, exec_id, rec).await });
        Ok(io)
    }

    /// The exec and its container, when it can start: not started before, the container
    /// running.
    pub fn exec_startable(
        &self,
        id: &str,
    ) -> Result<(ExecRecord, super::container::ContainerRecord)> {
        let e = self.exec_get(id)?;
        if e.running || e.exit_code.is_some() {
            return Err(Error::conflict(format!(
                "exec {id} has already been started"
            )));
        }
        let rec = self.containers.resolve(&e.container_id)?;
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        Ok((e, rec))
    }

    /// What the helper runs: the container's process with the exec's command, environment,
    /// user, working directory and privileges.
    fn exec_spec(
        &self,
        rec: &super::container::ContainerRecord,
        config: &ExecConfig,
        tty_override: Option<bool>,
    ) -> Result<NsExecSpec> {
        let sup = self.supervisor_config(rec)?;
        let mut process = sup.spec.process.clone();
        process.args = config.cmd.clone().unwrap_or_default();
        process.tty = tty_override.unwrap_or(false) || config.tty.unwrap_or(false);
        for env in config.env.iter().flatten() {
            let key = env.split('=').next().unwrap_or_default();
            process.env.retain(|x| x.split('=').next() != Some(key));
            process.env.push(env.clone());
        }
        if let Some(u) = config.user.as_ref().filter(|u| !u.is_empty()) {
            process.user = u.clone();
        }
        if let Some(w) = config.working_dir.as_ref().filter(|w| !w.is_empty()) {
            process.cwd = w.clone();
        }
        let privileged = config.privileged.unwrap_or(false) || sup.spec.privileged;
        if privileged {
            process.capabilities =
                super::runtime::caps::compute(true, &[], &[]).map_err(Error::internal)?;
            process.seccomp_bpf = None;
        }
        Ok(NsExecSpec {
            pid: rec.state.pid,
            process,
            privileged,
            cgroup: Some(sup.spec.cgroup.path.clone()),
            console_socket: None,
        })
    }

    /// Wait for the helper; record its exit code and publish `exec_die`.
    async fn exec_ended(
        &self,
        mut child: tokio::process::Child,
        exec_id: String,
        container: super::container::ContainerRecord,
    ) {
        let code = match child.wait().await {
            Ok(s) => s.code().unwrap_or_else(|| {
                128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)
            }),
            Err(_) => 126,
        };
        {
            let mut map = self.execs.map.lock().unwrap();
            if let Some(r) = map.get_mut(&exec_id) {
                r.running = false;
                r.exit_code = Some(code as i64);
                r.tty_master = None;
            }
        }
        let mut attrs = HashMap::new();
        attrs.insert("name".to_string(), container.name.clone());
        attrs.insert("execID".to_string(), exec_id.clone());
        attrs.insert("exitCode".to_string(), code.to_string());
        self.events.publish(
            EventMessageTypeEnum::CONTAINER,
            "exec_die",
            &container.id,
            attrs,
        );
    }

    pub fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let e = self.exec_get(id)?;
        if let Some(m) = &e.tty_master {
            set_winsize(m.as_raw_fd(), height, width);
        }
        Ok(())
    }
}

/// Where the helper finds the socket for the terminal's master.
const CONSOLE_FD: i32 = 3;

/// A TTY exec: the helper makes the terminal inside the container (so `tty` names a
/// `/dev/pts/N` there) and sends its master back on a socket it finds at [`CONSOLE_FD`]. Its
/// own stderr says why when it fails before that. Returns `(keep, give)`; `give` is the
/// helper's end, to drop once it runs.
fn hand_console_socket(cmd: &mut tokio::process::Command) -> Result<(OwnedFd, OwnedFd)> {
    let (keep, give) =
        console::socket_pair().map_err(|e| Error::internal(format!("socketpair: {e}")))?;
    let give_fd = give.as_raw_fd();
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl).
    unsafe {
        cmd.pre_exec(move || {
            if give_fd == CONSOLE_FD {
                let flags = libc::fcntl(give_fd, libc::F_GETFD);
                libc::fcntl(give_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(give_fd, CONSOLE_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok((keep, give))
}

/// The master the helper sends, or its error output when it ended before sending one.
async fn receive_console(keep: OwnedFd, child: &mut tokio::process::Child) -> Result<OwnedFd> {
    let received = tokio::task::spawn_blocking(move || console::recv_fd(keep.as_raw_fd()))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut stderr = child.stderr.take();
    if let Ok(Some(master)) = received {
        // Its later complaints (none in the normal course) must not block it.
        if let Some(mut err) = stderr {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut err, &mut tokio::io::sink()).await;
            });
        }
        return Ok(master);
    }
    let mut msg = String::new();
    if let Some(err) = stderr.as_mut() {
        use tokio::io::AsyncReadExt;
        let _ = err.take(64 * 1024).read_to_string(&mut msg).await;
    }
    let msg = msg.trim();
    Err(Error::internal(if msg.is_empty() {
        "the exec helper ended before making its terminal".to_string()
    } else {
        msg.to_string()
    }))
}
