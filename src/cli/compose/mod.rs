//! `wharf compose ...` (and the top-level `up`, `down`, `config`): map flags onto the compose
//! library ([`crate::compose::service`]) and print what it returns.

pub mod args;
mod cmds;
mod containers;
mod convert;
mod printer;
mod progress;
mod run;
mod up;
mod views;

use std::collections::BTreeMap;
use std::sync::Arc;

use self::args::{ComposeCmd, ComposeOpts};
use crate::api::client::Client;
use crate::cli::{CliResult, Exit};
use crate::compose::error::ComposeError;
use crate::compose::load::env::Environment;
use crate::compose::model::{Project, PullPolicy};
use crate::compose::service::{self, Compose, Interrupt, Interrupts};
use crate::compose::{load_project, LoadOptions, Loaded};

/// Run a compose command.
pub async fn main(client: &Client, opts: &ComposeOpts, cmd: ComposeCmd) -> CliResult {
    match cmd {
        ComposeCmd::Up(a) => up::up(client, opts, a).await,
        ComposeCmd::Down(a) => cmds::down(client, opts, a).await,
        ComposeCmd::Config(a) => views::config(opts, a),
        ComposeCmd::Ps(a) => views::ps(client, opts, a).await,
        ComposeCmd::Logs(a) => cmds::logs(client, opts, a).await,
        ComposeCmd::Exec(a) => run::exec(client, opts, a).await,
        ComposeCmd::Run(a) => run::run(client, opts, a).await,
        ComposeCmd::Create(a) => up::create(client, opts, a).await,
        ComposeCmd::Start(a) => cmds::start(client, opts, a).await,
        ComposeCmd::Stop(a) => cmds::stop(client, opts, a).await,
        ComposeCmd::Restart(a) => cmds::restart(client, opts, a).await,
        ComposeCmd::Kill(a) => cmds::kill(client, opts, a).await,
        ComposeCmd::Rm(a) => cmds::rm(client, opts, a).await,
        ComposeCmd::Pause(a) => cmds::pause(client, opts, a, true).await,
        ComposeCmd::Unpause(a) => cmds::pause(client, opts, a, false).await,
        ComposeCmd::Pull(a) => cmds::pull(client, opts, a).await,
        ComposeCmd::Push(a) => cmds::push(client, opts, a).await,
        ComposeCmd::Build(a) => cmds::build(client, opts, a).await,
        ComposeCmd::Images(a) => views::images(client, opts, a).await,
        ComposeCmd::Port(a) => views::port(client, opts, a).await,
        ComposeCmd::Top(a) => views::top(client, opts, a).await,
        ComposeCmd::Ls(a) => views::ls(client, a).await,
        ComposeCmd::Cp(a) => run::cp(client, opts, a).await,
        ComposeCmd::Events(a) => cmds::events(client, opts, a).await,
        ComposeCmd::Wait(a) => cmds::wait(client, opts, a).await,
        ComposeCmd::Watch(a) => up::watch(client, opts, a).await,
        ComposeCmd::Attach(a) => containers::attach(client, opts, a).await,
        ComposeCmd::Stats(a) => containers::stats(client, opts, a).await,
        ComposeCmd::Scale(a) => up::scale(client, opts, a).await,
        ComposeCmd::Volumes(a) => views::volumes(client, opts, a).await,
        ComposeCmd::Commit(a) => containers::commit(client, opts, a).await,
        ComposeCmd::Export(a) => containers::export(client, opts, a).await,
        ComposeCmd::Version(a) => views::version(&a),
    }
}

/// `version` needs no engine either.
pub fn run_version(a: &args::VersionArgs) -> i32 {
    exit_code(views::version(a))
}

/// `config` needs no engine: run it without starting a daemon.
pub fn run_config(opts: &ComposeOpts, a: args::ConfigArgs) -> i32 {
    exit_code(views::config(opts, a))
}

/// The exit code of a command run without the async runtime, its message printed.
fn exit_code(r: CliResult) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            if let Some(m) = e.message {
                eprintln!("{m}");
            }
            e.code
        }
    }
}

pub(crate) fn compose_err(e: ComposeError) -> Exit {
    Exit::msg(1, e.to_string())
}

/// A compose library error as the CLI reports it.
impl From<service::Error> for Exit {
    fn from(e: service::Error) -> Self {
        match e {
            service::Error::Interrupted(status) => Exit::code(status.0),
            e => Exit::msg(1, e.to_string()),
        }
    }
}

/// The compose service for these options, reporting progress as `--progress` says.
pub(crate) fn compose(client: &Client, opts: &ComposeOpts) -> Compose {
    compose_quiet_if(client, opts, false)
}

/// The compose service, silent when `quiet` (`pull -q`, `build -q`, `ls`).
pub(crate) fn compose_quiet_if(client: &Client, opts: &ComposeOpts, quiet: bool) -> Compose {
    let progress: Arc<dyn crate::compose::exec::progress::Progress> = if quiet {
        Arc::new(crate::compose::exec::progress::Quiet)
    } else {
        progress::renderer(opts.progress)
    };
    Compose::new(
        Arc::new(client.clone()),
        progress,
        opts.parallel.max(0) as usize,
    )
}

/// The compose service with default options (the progress renderer the terminal calls for),
/// for commands outside `wharf compose` that build or push (`stack deploy --build`).
pub(crate) fn compose_for(client: &Client, quiet: bool) -> Compose {
    compose_quiet_if(client, &ComposeOpts::default(), quiet)
}

/// SIGINT and SIGTERM as [`Interrupt`]s, from now until the process ends.
pub(crate) fn interrupts() -> CliResult<Interrupts> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let i = tokio::select! {
                Some(()) = sigint.recv() => Interrupt::Interrupt,
                Some(()) = sigterm.recv() => Interrupt::Terminate,
                else => return,
            };
            if tx.send(i).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

pub(crate) fn load_options(
    opts: &ComposeOpts,
    services: &[String],
    no_interpolate: bool,
) -> LoadOptions {
    LoadOptions {
        files: opts.file.clone(),
        project_name: opts.project_name.clone(),
        project_directory: opts.project_directory.clone(),
        env_files: opts.env_file.clone(),
        profiles: opts.profile.clone(),
        no_interpolate,
        services: services.to_vec(),
        ..Default::default()
    }
}

/// Load the project (warnings to stderr).
pub(crate) fn load(opts: &ComposeOpts, services: &[String]) -> CliResult<Loaded> {
    let loaded = load_project(&load_options(opts, services, false)).map_err(compose_err)?;
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(loaded)
}

/// A project to act on: loaded from its compose file, or known only by name.
pub(crate) struct Target {
    pub project: Arc<Project>,
    pub environment: Option<Environment>,
    /// Whether it came from a compose file (else it knows no services).
    pub from_file: bool,
}

/// The project, or, when there is no compose file but a project name (`-p` or
/// `COMPOSE_PROJECT_NAME`), an empty project of that name (`down -p x`, `ps -p x`...); the
/// services named on the command line must exist.
pub(crate) fn target(opts: &ComposeOpts, services: &[String]) -> CliResult<Target> {
    let target = match load_project(&load_options(opts, &[], false)) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("WARN[0000] {w}");
            }
            Target {
                project: Arc::new(l.project),
                environment: Some(l.environment),
                from_file: true,
            }
        }
        Err(ComposeError::NoConfigFile { .. }) => {
            let name = opts
                .project_name
                .clone()
                .or_else(|| std::env::var("COMPOSE_PROJECT_NAME").ok())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    Exit::msg(
                        1,
                        "no configuration file provided: not found (and no project name given with -p)",
                    )
                })?;
            Target {
                project: Arc::new(Project {
                    name,
                    ..Default::default()
                }),
                environment: None,
                from_file: false,
            }
        }
        Err(e) => return Err(compose_err(e)),
    };
    service::check_services(&target.project, services, target.from_file)?;
    Ok(target)
}

pub(crate) fn parse_scale(flags: &[String]) -> CliResult<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    for f in flags {
        let (s, n) = f
            .split_once('=')
            .ok_or_else(|| Exit::msg(1, format!("invalid --scale {f:?}: expected SERVICE=NUM")))?;
        let n: u32 = n
            .parse()
            .map_err(|_| Exit::msg(1, format!("invalid --scale {f:?}: {n:?} is not a number")))?;
        out.insert(s.to_string(), n);
    }
    Ok(out)
}

pub(crate) fn parse_pull(p: &Option<String>) -> CliResult<Option<PullPolicy>> {
    Ok(match p.as_deref() {
        None => None,
        Some("always") => Some(PullPolicy::Always),
        Some("missing") | Some("if_not_present") => Some(PullPolicy::Missing),
        Some("never") => Some(PullPolicy::Never),
        Some("build") => Some(PullPolicy::Build),
        Some(o) => {
            return Err(Exit::msg(
                1,
                format!("invalid --pull value {o:?}: expected always, missing or never"),
            ))
        }
    })
}
