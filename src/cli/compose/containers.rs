//! The compose commands that are a container command on a service's container: `attach`,
//! `stats`, `commit`, `export`. The service (and `--index`) is resolved to the container
//! through the compose library, then the container command does the work, so they print
//! and behave exactly like `wharf attach|stats|commit|export`.

use super::args::{AttachArgs, CommitArgs, ComposeOpts, ExportArgs, StatsArgs};
use super::{compose, target};
use crate::api::client::Client;
use crate::cli::commands::{container, image, resources};
use crate::cli::CliResult;
use crate::compose::service::id_of;

/// The id of container `index` of `service`.
async fn container_of(
    client: &Client,
    opts: &ComposeOpts,
    service: &str,
    index: u32,
) -> CliResult<String> {
    let t = target(opts, &[service.to_string()])?;
    let c = compose(client, opts)
        .service_container(&t.project.name, service, index)
        .await?;
    Ok(id_of(&c).to_string())
}

pub async fn attach(client: &Client, opts: &ComposeOpts, a: AttachArgs) -> CliResult {
    let id = container_of(client, opts, &a.service, a.index).await?;
    let args = crate::cli::args::AttachArgs {
        no_stdin: a.no_stdin,
        container: id,
    };
    container::attach(client, args).await
}

pub async fn commit(client: &Client, opts: &ComposeOpts, a: CommitArgs) -> CliResult {
    let id = container_of(client, opts, &a.service, a.index).await?;
    let args = crate::cli::args::CommitArgs {
        author: a.author,
        message: a.message,
        change: a.change,
        pause: a.pause,
        container: id,
        reference: a.reference,
    };
    image::commit(client, args).await
}

pub async fn export(client: &Client, opts: &ComposeOpts, a: ExportArgs) -> CliResult {
    let id = container_of(client, opts, &a.service, a.index).await?;
    let args = crate::cli::args::ExportArgs {
        output: a.output,
        container: id,
    };
    container::export(client, args).await
}

/// The project's containers (or one service's), as `wharf stats` shows them.
pub async fn stats(client: &Client, opts: &ComposeOpts, a: StatsArgs) -> CliResult {
    let services: Vec<String> = a.service.iter().cloned().collect();
    let t = target(opts, &services)?;
    let list = compose(client, opts)
        .containers(&t.project.name, &services, a.all, false)
        .await?;
    if list.is_empty() {
        return Ok(());
    }
    let args = resources::StatsArgs {
        all: a.all,
        no_stream: a.no_stream,
        no_trunc: a.no_trunc,
        format: a.format,
        containers: list.iter().map(|c| id_of(c).to_string()).collect(),
    };
    resources::stats(client, args).await
}
