//! Lifecycle hooks and watch's `sync+exec`: a [`ServiceHook`] run as an exec in a running
//! container (no TTY, no stdin), its output kept so a failure can say what went wrong.
//! `post_start` hooks run after the start, `pre_stop` hooks before the stop signal; the
//! first that fails fails the operation with its output, as docker compose does.

use crate::api::models::ExecConfig;
use crate::compose::engine::ComposeEngine;
use crate::compose::model::ServiceHook;

/// The exec request of a hook.
pub fn exec_config(hook: &ServiceHook) -> ExecConfig {
    let env: Vec<String> = hook
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    ExecConfig {
        cmd: Some(hook.command.clone()),
        user: hook.user.clone(),
        privileged: Some(hook.privileged),
        working_dir: hook.working_dir.clone(),
        env: (!env.is_empty()).then_some(env),
        ..Default::default()
    }
}

/// Run one hook in container `id`; an error with the command, its exit code and output.
pub async fn run(engine: &dyn ComposeEngine, id: &str, hook: &ServiceHook) -> Result<(), String> {
    let command = hook.command.join(" ");
    match engine.exec(id, &exec_config(hook)).await {
        Ok((0, _)) => Ok(()),
        Ok((code, out)) => {
            let out = String::from_utf8_lossy(&out);
            let out = out.trim_end();
            Err(match out.is_empty() {
                true => format!("{command:?} exited with code {code}"),
                false => format!("{command:?} exited with code {code}: {out}"),
            })
        }
        Err(e) => Err(format!("{command:?}: {e}")),
    }
}

/// Run `hooks` in order; the first failure, prefixed with `what` (`post_start`, `pre_stop`).
pub async fn run_all(
    engine: &dyn ComposeEngine,
    id: &str,
    what: &str,
    hooks: &[ServiceHook],
) -> Result<(), String> {
    for h in hooks {
        run(engine, id, h)
            .await
            .map_err(|e| format!("{what} hook {e}"))?;
    }
    Ok(())
}
