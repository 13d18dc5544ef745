//! `wharf compose ...` (and the top-level `up`, `down`, `config`): load the project, observe,
//! plan, execute through [`crate::compose::exec`], print.

pub mod args;
mod cmds;
mod logs;
mod progress;
mod run;
mod up;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use self::args::{ComposeCmd, ComposeOpts};
use crate::api::client::Client;
use crate::api::models::ContainerSummary;
use crate::cli::{CliResult, Exit};
use crate::compose::error::ComposeError;
use crate::compose::load::env::Environment;
use crate::compose::model::{Project, PullPolicy};
use crate::compose::plan::labels;
use crate::compose::{load_project, LoadOptions, Loaded};

/// Run a compose command.
pub async fn main(client: &Client, opts: &ComposeOpts, cmd: ComposeCmd) -> CliResult {
    match cmd {
        ComposeCmd::Up(a) => up::up(client, opts, a).await,
        ComposeCmd::Down(a) => cmds::down(client, opts, a).await,
        ComposeCmd::Config(a) => cmds::config(opts, a),
        ComposeCmd::Ps(a) => cmds::ps(client, opts, a).await,
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
        ComposeCmd::Images(a) => cmds::images(client, opts, a).await,
        ComposeCmd::Port(a) => cmds::port(client, opts, a).await,
        ComposeCmd::Top(a) => cmds::top(client, opts, a).await,
        ComposeCmd::Ls(a) => cmds::ls(client, a).await,
        ComposeCmd::Cp(a) => run::cp(client, opts, a).await,
        ComposeCmd::Events(a) => cmds::events(client, opts, a).await,
        ComposeCmd::Wait(a) => cmds::wait(client, opts, a).await,
    }
}

/// `config` needs no engine: run it without starting a daemon.
pub fn run_config(opts: &ComposeOpts, a: args::ConfigArgs) -> i32 {
    match cmds::config(opts, a) {
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

/// The project, or, when there is no compose file but a project name (`-p` or
/// `COMPOSE_PROJECT_NAME`), an empty project of that name (`down -p x`, `ps -p x`...).
pub(crate) fn load_or_name(
    opts: &ComposeOpts,
) -> CliResult<(Arc<Project>, Option<Environment>, bool)> {
    match load_project(&load_options(opts, &[], false)) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("WARN[0000] {w}");
            }
            Ok((Arc::new(l.project), Some(l.environment), true))
        }
        Err(ComposeError::NoConfigFile { .. }) => {
            let name = opts
                .project_name
                .clone()
                .or_else(|| std::env::var("COMPOSE_PROJECT_NAME").ok())
                .filter(|n| !n.is_empty());
            match name {
                Some(name) => Ok((
                    Arc::new(Project {
                        name,
                        ..Default::default()
                    }),
                    None,
                    false,
                )),
                None => Err(Exit::msg(
                    1,
                    "no configuration file provided: not found (and no project name given with -p)",
                )),
            }
        }
        Err(e) => Err(compose_err(e)),
    }
}

pub(crate) fn parallel(opts: &ComposeOpts) -> usize {
    if opts.parallel <= 0 {
        0
    } else {
        opts.parallel as usize
    }
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

/// Check that named services exist (enabled or disabled by profiles).
pub(crate) fn check_services(
    project: &Project,
    services: &[String],
    loaded_from_file: bool,
) -> CliResult {
    if !loaded_from_file {
        return Ok(());
    }
    for s in services {
        if !project.services.contains_key(s) && !project.disabled_services.contains_key(s) {
            return Err(Exit::msg(1, format!("no such service: {s}")));
        }
    }
    Ok(())
}

/// The project's containers (`all`: stopped ones too), service containers only unless
/// `oneoff`, restricted to `services` when not empty; sorted by name.
pub(crate) async fn containers(
    client: &Client,
    project: &str,
    services: &[String],
    all: bool,
    oneoff: bool,
) -> CliResult<Vec<ContainerSummary>> {
    let mut f: HashMap<String, Vec<String>> = HashMap::new();
    f.insert(
        "label".into(),
        vec![format!("{}={project}", labels::PROJECT)],
    );
    let mut list = client.list_containers(all, &f).await?;
    list.retain(|c| {
        let l = c.labels.clone().unwrap_or_default();
        let is_oneoff = l
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        (oneoff || !is_oneoff)
            && (services.is_empty() || l.get(labels::SERVICE).is_some_and(|s| services.contains(s)))
    });
    list.sort_by_key(name_of);
    Ok(list)
}

pub(crate) fn name_of(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

pub(crate) fn label_of(c: &ContainerSummary, key: &str) -> String {
    c.labels
        .as_ref()
        .and_then(|l| l.get(key).cloned())
        .unwrap_or_default()
}

/// The container of `service` with number `index`.
pub(crate) async fn service_container(
    client: &Client,
    project: &str,
    service: &str,
    index: u32,
) -> CliResult<ContainerSummary> {
    let list = containers(client, project, &[service.to_string()], true, false).await?;
    list.into_iter()
        .find(|c| label_of(c, labels::NUMBER) == index.to_string())
        .ok_or_else(|| {
            Exit::msg(
                1,
                format!("service {service:?} is not running: no container #{index}"),
            )
        })
}

/// Log prefix of a container: the service name, or `service-N` when it has several.
pub(crate) fn log_label(c: &ContainerSummary, multi: &BTreeSet<String>) -> String {
    let svc = label_of(c, labels::SERVICE);
    if label_of(c, labels::ONEOFF).eq_ignore_ascii_case("true") {
        return name_of(c);
    }
    if multi.contains(&svc) {
        format!("{svc}-{}", label_of(c, labels::NUMBER))
    } else {
        svc
    }
}

/// The services with more than one replica.
pub(crate) fn multi_replica(project: &Project, scale: &BTreeMap<String, u32>) -> BTreeSet<String> {
    project
        .services
        .iter()
        .filter(|(n, s)| scale.get(*n).copied().unwrap_or_else(|| s.replicas()) > 1)
        .map(|(n, _)| n.clone())
        .collect()
}
