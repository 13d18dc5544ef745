//! `wharf stack deploy|ls|services|ps|rm`: docker's stack commands against a Docker Swarm
//! manager (`-H`). Flags map onto [`crate::compose::stack`]; this module only loads the file,
//! prints docker's lines and tables, and never starts a daemon: a swarm is an engine that
//! already runs.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::args::GlobalOpts;
use super::output::{print_table, Row, Table};
use super::{client_for, CliResult, Exit};
use crate::compose::convert::swarm;
use crate::compose::load::{load_project, LoadOptions, Loaded, Target};
use crate::compose::service::{BuildRequest, PushRequest};
use crate::compose::stack::deploy::{DeployOptions, ResolveImage};
use crate::compose::stack::{self, Namespace, Progress, StackError};

#[derive(Args, Debug)]
pub struct StackCli {
    #[command(subcommand)]
    pub cmd: StackCmd,
}

#[derive(Subcommand, Debug)]
pub enum StackCmd {
    /// Deploy a new stack or update an existing stack
    #[command(visible_alias = "up")]
    Deploy(DeployArgs),
    /// List stacks
    #[command(visible_alias = "list")]
    Ls(FormatArgs),
    /// List the services in the stack
    Services(ServicesArgs),
    /// List the tasks in the stack
    Ps(PsArgs),
    /// Remove one or more stacks
    #[command(visible_aliases = ["remove", "down"])]
    Rm(RmArgs),
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// Path to a Compose file, or "-" to read from stdin
    #[arg(short = 'c', long = "compose-file")]
    pub compose_file: Vec<PathBuf>,
    /// Prune services that are no longer referenced
    #[arg(long)]
    pub prune: bool,
    /// Query the registry to resolve image digest and supported platforms
    #[arg(long, value_enum, default_value = "always")]
    pub resolve_image: ResolveArg,
    /// Send registry authentication details to Swarm agents
    #[arg(long)]
    pub with_registry_auth: bool,
    /// Exit immediately instead of waiting for the stack services to converge
    #[arg(short = 'd', long, default_value_t = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    /// Build the images of services with a `build:` section on the local wharf engine and push
    /// them to their `image:` references before deploying
    #[arg(long)]
    pub build: bool,
    /// Stack name
    pub stack: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ResolveArg {
    Always,
    Changed,
    Never,
}

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Format output using a custom template ("table", "json" or a Go template)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    #[arg(long)]
    pub format: Option<String>,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    pub stack: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[arg(long)]
    pub format: Option<String>,
    /// Only display task IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    pub stack: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not wait for stack removal
    #[arg(short = 'd', long, default_value_t = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub detach: bool,
    #[arg(required = true)]
    pub stacks: Vec<String>,
}

fn stack_err(e: StackError) -> Exit {
    Exit::msg(1, e.to_string())
}

fn namespace(name: &str) -> CliResult<Namespace> {
    Namespace::new(name).map_err(|e| Exit::msg(1, e))
}

pub async fn main(global: &GlobalOpts, cli: StackCli) -> CliResult {
    let client = client_for(global)?;
    let client = stack::manager(&client).await.map_err(stack_err)?;
    match cli.cmd {
        StackCmd::Deploy(a) => deploy(global, &client, a).await,
        StackCmd::Ls(a) => ls(&client, a).await,
        StackCmd::Services(a) => services(&client, a).await,
        StackCmd::Ps(a) => ps(&client, a).await,
        StackCmd::Rm(a) => rm(&client, a).await,
    }
}

async fn deploy(
    global: &GlobalOpts,
    client: &crate::api::client::Client,
    a: DeployArgs,
) -> CliResult {
    let ns = namespace(&a.stack)?;
    if a.compose_file.is_empty() {
        return Err(Exit::msg(
            1,
            "Please specify a Compose file (with --compose-file)",
        ));
    }
    let loaded = load_project(&LoadOptions {
        files: a.compose_file.clone(),
        project_name: Some(a.stack.clone()),
        target: Target::Swarm,
        ..Default::default()
    })
    .map_err(super::compose::compose_err)?;
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let mut stack = swarm::convert(&loaded, &ns).map_err(|e| Exit::msg(1, e.to_string()))?;
    if a.build {
        build_and_push(global, &loaded, a.quiet).await?;
        // what `build:` makes now reaches the swarm through the registry
        stack
            .dropped
            .retain(|d| !(d.key.starts_with("services.") && d.key.ends_with(".build")));
    }
    for d in &stack.dropped {
        eprintln!("WARN[0000] {d}");
    }
    let opts = DeployOptions {
        prune: a.prune,
        resolve_image: match a.resolve_image {
            ResolveArg::Always => ResolveImage::Always,
            ResolveArg::Changed => ResolveImage::Changed,
            ResolveArg::Never => ResolveImage::Never,
        },
        with_registry_auth: a.with_registry_auth,
        detach: a.detach,
        timeout: None,
    };
    let quiet = a.quiet;
    let mut sink = move |p: Progress| print_progress(&p, quiet);
    stack::deploy::deploy(client, stack, &opts, &mut sink)
        .await
        .map(|_| ())
        .map_err(stack_err)
}

/// `--build`: the images of the services with a `build:` section, built by the local wharf
/// engine (started if need be, whatever `-H` names: that is the swarm) and pushed to the
/// registries their names say, where the swarm's nodes pull them from.
async fn build_and_push(global: &GlobalOpts, loaded: &Loaded, quiet: bool) -> CliResult {
    let mut local = global.clone();
    local.host = Some(format!(
        "unix://{}",
        global.run_root.join("wharf.sock").display()
    ));
    local.tls = false;
    local.tlsverify = false;
    let engine = super::daemon::ensure_daemon(&local).await?;
    let compose = super::compose::compose_for(&engine, quiet);
    let project = std::sync::Arc::new(loaded.project.clone());
    compose
        .build(
            &project,
            loaded.environment.clone(),
            &BuildRequest::default(),
        )
        .await?;
    compose.push(&project, &PushRequest::default()).await?;
    Ok(())
}

/// docker's lines: "Creating service shop_web"; progress of the wait; warnings to stderr.
fn print_progress(p: &Progress, quiet: bool) {
    let line = match p {
        Progress::CreatingNetwork(n) => format!("Creating network {n}"),
        Progress::CreatingSecret(n) => format!("Creating secret {n}"),
        Progress::CreatingConfig(n) => format!("Creating config {n}"),
        Progress::UpdatingSecret(_) | Progress::UpdatingConfig(_) => return,
        Progress::CreatingService(n) => format!("Creating service {n}"),
        Progress::UpdatingService { name, id } => format!("Updating service {name} (id: {id})"),
        Progress::Removing { kind, name } => format!("Removing {kind} {name}"),
        Progress::Tasks {
            service,
            running,
            desired,
        } => {
            if quiet {
                return;
            }
            format!("{service}: {running}/{desired} running")
        }
        Progress::Converged(s) => {
            if quiet {
                return;
            }
            format!("{s}: converged")
        }
        Progress::Warning(w) => {
            eprintln!("{w}");
            return;
        }
    };
    println!("{line}");
}

async fn ls(client: &crate::api::client::Client, a: FormatArgs) -> CliResult {
    let rows = stack::inventory::stacks(client).await.map_err(stack_err)?;
    let rows = rows
        .into_iter()
        .map(|r| {
            Row::from([
                ("Name".to_string(), r.name),
                ("Services".to_string(), r.services.to_string()),
            ])
        })
        .collect();
    print(
        &[("NAME", "Name"), ("SERVICES", "Services")],
        rows,
        a.format.as_deref(),
    )
}

async fn services(client: &crate::api::client::Client, a: ServicesArgs) -> CliResult {
    let ns = namespace(&a.stack)?;
    let rows = stack::inventory::services(client, &ns)
        .await
        .map_err(stack_err)?;
    if rows.is_empty() {
        eprintln!("Nothing found in stack: {}", a.stack);
        return Ok(());
    }
    if a.quiet {
        for r in rows {
            println!("{}", r.id);
        }
        return Ok(());
    }
    let rows = rows
        .into_iter()
        .map(|r| {
            Row::from([
                ("ID".to_string(), r.id[..r.id.len().min(12)].to_string()),
                ("Name".to_string(), r.name),
                ("Mode".to_string(), r.mode),
                ("Replicas".to_string(), r.replicas),
                ("Image".to_string(), r.image),
                ("Ports".to_string(), r.ports),
            ])
        })
        .collect();
    print(
        &[
            ("ID", "ID"),
            ("NAME", "Name"),
            ("MODE", "Mode"),
            ("REPLICAS", "Replicas"),
            ("IMAGE", "Image"),
            ("PORTS", "Ports"),
        ],
        rows,
        a.format.as_deref(),
    )
}

async fn ps(client: &crate::api::client::Client, a: PsArgs) -> CliResult {
    let ns = namespace(&a.stack)?;
    let rows = stack::inventory::tasks(client, &ns)
        .await
        .map_err(stack_err)?;
    if rows.is_empty() {
        eprintln!("Nothing found in stack: {}", a.stack);
        return Ok(());
    }
    if a.quiet {
        for r in rows {
            println!("{}", r.id);
        }
        return Ok(());
    }
    let trunc = |s: String, n: usize| {
        if a.no_trunc {
            s
        } else {
            s.chars().take(n).collect()
        }
    };
    let rows = rows
        .into_iter()
        .map(|r| {
            let when = chrono::DateTime::parse_from_rfc3339(&r.since)
                .map(|t| super::output::ago(t.timestamp()))
                .unwrap_or_default();
            Row::from([
                ("ID".to_string(), trunc(r.id, 12)),
                ("Name".to_string(), r.name),
                ("Image".to_string(), r.image),
                ("Node".to_string(), r.node),
                ("DesiredState".to_string(), r.desired_state),
                (
                    "CurrentState".to_string(),
                    format!("{} {when}", r.current_state).trim().to_string(),
                ),
                ("Error".to_string(), trunc(r.error, 30)),
                ("Ports".to_string(), r.ports),
            ])
        })
        .collect();
    print(
        &[
            ("ID", "ID"),
            ("NAME", "Name"),
            ("IMAGE", "Image"),
            ("NODE", "Node"),
            ("DESIRED STATE", "DesiredState"),
            ("CURRENT STATE", "CurrentState"),
            ("ERROR", "Error"),
            ("PORTS", "Ports"),
        ],
        rows,
        a.format.as_deref(),
    )
}

async fn rm(client: &crate::api::client::Client, a: RmArgs) -> CliResult {
    let mut failed = false;
    for name in &a.stacks {
        let ns = namespace(name)?;
        let mut sink = |p: Progress| print_progress(&p, false);
        let removed = stack::remove::remove(client, &ns, &mut sink)
            .await
            .map_err(stack_err)?;
        if removed.count == 0 && removed.errors.is_empty() {
            eprintln!("Nothing found in stack: {name}");
        }
        for e in &removed.errors {
            eprintln!("{e}");
            failed = true;
        }
        if !a.detach {
            stack::wait::gone(client, &ns, None)
                .await
                .map_err(stack_err)?;
        }
    }
    if failed {
        return Err(Exit::code(1));
    }
    Ok(())
}

fn print(columns: &[(&str, &str)], rows: Vec<Row>, format: Option<&str>) -> CliResult {
    let format = match format {
        Some("json") => Some("{{json .}}"),
        other => other,
    };
    print_table(&Table { columns, rows }, format).map_err(|e| Exit::msg(1, e.to_string()))
}
