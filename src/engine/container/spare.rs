//! A supervisor started before it is needed. Starting the wharf binary (exec, dynamic
//! loading, `main`) was the longest phase of a container start in the phase trace, and none of
//! it depends on the container: the daemon keeps one supervisor waiting, which learns its
//! container from the path of its `supervisor.json` on its stdin (`wharf __supervise -`), and
//! starts the next one in the background. A spare whose daemon goes away sees its stdin close
//! and exits; one that died meanwhile is replaced by a fresh start.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::engine::error::{IoContext, Result};
use crate::engine::Engine;

/// The supervisor in waiting (none before the first start or while one is being started).
#[derive(Default)]
pub struct Spare {
    slot: Mutex<Option<Child>>,
    /// A refill is under way: a burst of starts takes at most one spare's start-up on top.
    refilling: AtomicBool,
}

impl Spare {
    /// The waiting supervisor, if it is still alive.
    fn take_live(&self) -> Option<Child> {
        let mut child = self.slot.lock().unwrap().take()?;
        matches!(child.try_wait(), Ok(None)).then_some(child)
    }
}

impl Engine {
    /// A supervisor told to run the container whose config is at `cfg_path`: the spare when
    /// one waits, else one started now. Another spare is started behind it.
    pub(super) async fn supervisor_for(self: &Arc<Self>, cfg_path: &Path) -> Result<Child> {
        let mut line = cfg_path.as_os_str().as_bytes().to_vec();
        line.push(b'\n');
        let spare = self.spare.take_live();
        self.refill_spare();
        if let Some(mut child) = spare {
            if let Some(stdin) = child.stdin.as_mut() {
                if stdin.write_all(&line).await.is_ok() {
                    return Ok(child);
                }
            }
        }
        let mut child = self.spawn_supervisor()?;
        if let Some(stdin) = child.stdin.as_mut() {
            stdin
                .write_all(&line)
                .await
                .ctx(|| "handing the supervisor its config".into())?;
        }
        Ok(child)
    }

    /// Start a spare in the background unless one waits already.
    pub fn refill_spare(self: &Arc<Self>) {
        if self.spare.slot.lock().unwrap().is_some()
            || self.spare.refilling.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            match engine.spawn_supervisor() {
                Ok(child) => {
                    let previous = engine.spare.slot.lock().unwrap().replace(child);
                    if let Some(mut extra) = previous {
                        let _ = extra.start_kill();
                    }
                }
                Err(e) => tracing::warn!("starting a spare supervisor: {e}"),
            }
            engine.spare.refilling.store(false, Ordering::Release);
        });
    }

    /// `wharf __supervise -` in a session of its own (it outlives the daemon), waiting on
    /// its stdin for its config's path. Its stdin then stays open until its first start is
    /// released: if the daemon dies before that, the supervisor sees the hang-up and gives up.
    fn spawn_supervisor(&self) -> Result<Child> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("__supervise")
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            );
        if let Some(trace) = std::env::var_os(crate::util::trace::ENV) {
            cmd.env(crate::util::trace::ENV, trace);
        }
        // SAFETY: setsid is async-signal-safe; the supervisor must outlive the daemon.
        unsafe {
            cmd.as_std_mut().pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        cmd.spawn().ctx(|| "starting the supervisor".into())
    }
}
