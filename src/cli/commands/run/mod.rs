//! `run` and `create`: flags → the Engine API create body; then attach, start and wait like
//! the docker CLI (wait is registered before start so a fast exit is never missed).

mod body;
mod flags;

use crate::api::client::{decode, with_query, Client};
use crate::api::models::ContainerWaitResponse;
use crate::cli::args::RunArgs;
use crate::cli::{attach, CliResult, Exit};

pub use body::build_body;
pub(crate) use flags::{cpus_flag, restart_flag};

/// The exit code the docker CLI uses when a container's command cannot start.
pub fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied")
        || message.contains("is a directory")
        || message.contains("exec format error")
    {
        126
    } else {
        125
    }
}

pub async fn run(client: &Client, a: RunArgs, create_only: bool) -> CliResult {
    let body = build_body(&a)?;
    let daemon_error = |e: crate::api::client::ClientError| {
        Exit::msg(125, format!("wharf: Error response from daemon: {e}"))
    };
    let created = match client
        .create_container(a.name.as_deref(), a.platform.as_deref(), &body)
        .await
    {
        // Only a missing image (a missing network is a 404 too): pulled, for the platform
        // asked for, then created again, as the docker CLI does.
        Err(e) if e.is_not_found() && e.to_string().starts_with("No such image") => {
            eprintln!("Unable to find image '{}' locally", a.image);
            let out = crate::cli::progress_stream::Out::Stderr;
            crate::cli::commands::image::pull_image(
                client,
                crate::cli::commands::image::Pull {
                    image: &a.image,
                    platform: a.platform.as_deref(),
                    all_tags: false,
                    quiet: a.quiet,
                },
                out,
            )
            .await
            .map_err(|e| Exit::msg(125, format!("wharf: {}", e.message.unwrap_or_default())))?;
            client
                .create_container(a.name.as_deref(), a.platform.as_deref(), &body)
                .await
                .map_err(daemon_error)?
        }
        other => other.map_err(daemon_error)?,
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    let id = created.id;
    if create_only {
        println!("{id}");
        return Ok(());
    }
    if a.detach {
        client.start_container(&id).await.map_err(|e| {
            Exit::msg(
                start_failure_code(&e.to_string()),
                format!("wharf: Error response from daemon: {e}"),
            )
        })?;
        println!("{id}");
        return Ok(());
    }
    let condition = if a.rm { "removed" } else { "next-exit" };
    let (conn, wait) = client
        .attach_and_wait(&id, a.interactive, condition)
        .await?;
    if let Err(e) = client.start_container(&id).await {
        return Err(Exit::msg(
            start_failure_code(&e.to_string()),
            format!("wharf: Error response from daemon: {e}"),
        ));
    }
    if a.tty {
        if let Some((h, w)) = attach::terminal_size() {
            let _ = client
                .post(&with_query(
                    &format!("/containers/{id}/resize"),
                    &[("h", h.to_string()), ("w", w.to_string())],
                ))
                .await;
        }
    }
    use tracing::Instrument;
    attach::pump(conn, a.tty, a.interactive)
        .instrument(tracing::debug_span!(target: "phase", "output"))
        .await?;
    let status: ContainerWaitResponse = decode(wait)
        .instrument(tracing::debug_span!(target: "phase", "wait"))
        .await?;
    if let Some(msg) = status
        .error
        .and_then(|e| e.message)
        .filter(|m| !m.is_empty())
    {
        if status.status_code < 0 {
            return Err(Exit::msg(125, format!("wharf: {msg}")));
        }
    }
    if status.status_code != 0 {
        return Err(Exit::code(status.status_code as i32));
    }
    Ok(())
}
