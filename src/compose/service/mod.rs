//! The compose commands as a library, one file per command (as docker compose's `pkg/compose`):
//! each is an `async fn` on [`Compose`] that takes a loaded [`Project`] and an options struct,
//! reports progress to the [`Progress`] sink it was made with, and returns a typed result.
//! Flags, terminals and printing stay in the CLI (`src/cli/compose/`), so `up`, `build` and
//! `watch` can be composed and tested without a command line.

pub mod build;
pub mod down;
pub mod error;
pub mod lifecycle;
pub mod logs;
pub mod ps;
pub mod pull;
pub mod push;
pub mod run;
pub mod up;
pub mod volumes;
pub mod wait;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

pub use build::BuildRequest;
pub use down::{DownPlan, DownRequest, RemoveImages};
pub use error::{failures, Error, ExitStatus, Result};
pub use pull::PullRequest;
pub use push::PushRequest;
pub use run::{OneOff, RunRequest};
pub use up::UpRequest;
pub use watch::WatchRequest;

use crate::api::models::{ContainerSummary, ContainerSummaryStateEnum};
use crate::compose::engine::Engine;
use crate::compose::exec::progress::Progress;
use crate::compose::exec::{observe, ExecOptions, Executor, Observed};
use crate::compose::load::env::Environment;
use crate::compose::model::{DependsCondition, Project};
use crate::compose::plan::labels;

/// A user's request to stop, delivered by the CLI from its signals (or by a test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// Ctrl-C: the first stops gracefully, the second kills.
    Interrupt,
    /// SIGTERM: stop gracefully.
    Terminate,
}

/// Where interrupts arrive from; a closed channel means none ever will.
pub type Interrupts = tokio::sync::mpsc::UnboundedReceiver<Interrupt>;

/// The compose service: an engine to talk to and a sink for progress.
#[derive(Clone)]
pub struct Compose {
    engine: Engine,
    progress: Arc<dyn Progress>,
    /// At most this many engine calls at once (0: unbounded).
    parallel: usize,
}

impl Compose {
    pub fn new(engine: Engine, progress: Arc<dyn Progress>, parallel: usize) -> Compose {
        Compose {
            engine,
            progress,
            parallel,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn progress(&self) -> &Arc<dyn Progress> {
        &self.progress
    }

    /// What exists of `project` in the engine now.
    pub async fn observe(&self, project: &Project) -> Result<Observed> {
        Ok(observe(&*self.engine, project).await?)
    }

    /// An executor for plans of `project` against `observed`.
    fn executor(
        &self,
        project: &Arc<Project>,
        environment: Option<Environment>,
        observed: &Observed,
        opts: ExecOptions,
    ) -> Executor {
        Executor::new(
            self.engine.clone(),
            project.clone(),
            environment,
            &observed.state,
            self.progress.clone(),
            ExecOptions {
                parallel: self.parallel,
                networking: observed.networking,
                ..opts
            },
        )
    }

    /// The project's containers (`all`: stopped ones too), service containers only unless
    /// `oneoff`, restricted to `services` when not empty; sorted by name.
    pub async fn containers(
        &self,
        project: &str,
        services: &[String],
        all: bool,
        oneoff: bool,
    ) -> Result<Vec<ContainerSummary>> {
        let mut f: HashMap<String, Vec<String>> = HashMap::new();
        f.insert(
            "label".into(),
            vec![format!("{}={project}", labels::PROJECT)],
        );
        let mut list = self.engine.list_containers(all, &f).await?;
        list.retain(|c| {
            (oneoff || !is_oneoff(c))
                && (services.is_empty() || services.contains(&label_of(c, labels::SERVICE)))
        });
        list.sort_by_key(name_of);
        Ok(list)
    }

    /// The container of `service` with number `index`.
    pub async fn service_container(
        &self,
        project: &str,
        service: &str,
        index: u32,
    ) -> Result<ContainerSummary> {
        let list = self
            .containers(project, &[service.to_string()], true, false)
            .await?;
        list.into_iter()
            .find(|c| label_of(c, labels::NUMBER) == index.to_string())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "service {service:?} is not running: no container #{index}"
                ))
            })
    }
}

/// Check that named services exist (enabled or disabled by profiles). A project that was not
/// loaded from a file (`down -p x`) knows no services and accepts any name.
pub fn check_services(project: &Project, services: &[String], from_file: bool) -> Result<()> {
    if !from_file {
        return Ok(());
    }
    match services
        .iter()
        .find(|s| !project.services.contains_key(*s) && !project.disabled_services.contains_key(*s))
    {
        Some(s) => Err(Error::Usage(format!("no such service: {s}"))),
        None => Ok(()),
    }
}

/// Services something waits on with `service_completed_successfully` (exit 0 is their goal).
pub fn one_shot_services(project: &Project) -> BTreeSet<String> {
    project
        .services
        .values()
        .flat_map(|s| s.depends_on.iter())
        .filter(|(_, d)| d.condition == DependsCondition::ServiceCompletedSuccessfully)
        .map(|(k, _)| k.clone())
        .collect()
}

/// The services with more than one replica.
pub fn multi_replica(project: &Project, scale: &BTreeMap<String, u32>) -> BTreeSet<String> {
    project
        .services
        .iter()
        .filter(|(n, s)| scale.get(*n).copied().unwrap_or_else(|| s.replicas()) > 1)
        .map(|(n, _)| n.clone())
        .collect()
}

pub fn name_of(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

pub fn id_of(c: &ContainerSummary) -> &str {
    c.id.as_deref().unwrap_or_default()
}

pub fn label_of(c: &ContainerSummary, key: &str) -> String {
    c.labels
        .as_ref()
        .and_then(|l| l.get(key).cloned())
        .unwrap_or_default()
}

fn is_oneoff(c: &ContainerSummary) -> bool {
    label_of(c, labels::ONEOFF).eq_ignore_ascii_case("true")
}

/// Whether a listed container is running (restarting and paused count: they hold their process).
pub fn is_running(c: &ContainerSummary) -> bool {
    matches!(
        c.state,
        Some(ContainerSummaryStateEnum::RUNNING)
            | Some(ContainerSummaryStateEnum::RESTARTING)
            | Some(ContainerSummaryStateEnum::PAUSED)
    )
}

/// Log prefix of a container: the service name, or `service-N` when it has several.
pub fn log_label(c: &ContainerSummary, multi: &BTreeSet<String>) -> String {
    if is_oneoff(c) {
        return name_of(c);
    }
    replica_label(
        &label_of(c, labels::SERVICE),
        &label_of(c, labels::NUMBER),
        multi,
    )
}

/// `service`, or `service-N` for a service with several replicas.
pub fn replica_label(service: &str, number: &str, multi: &BTreeSet<String>) -> String {
    if multi.contains(service) {
        format!("{service}-{number}")
    } else {
        service.to_string()
    }
}

/// The log label of an event's container (its number is the suffix of its name).
fn event_label(service: &str, name: &str, multi: &BTreeSet<String>) -> String {
    match name.rsplit_once('-') {
        Some((_, n)) => replica_label(service, n, multi),
        None if multi.contains(service) => name.to_string(),
        None => service.to_string(),
    }
}

#[cfg(test)]
mod tests;
