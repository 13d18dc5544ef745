//! Executing plans against an engine, through [`ComposeEngine`](crate::compose::engine) only: [`observe`] what exists,
//! plan with [`crate::compose::plan`], then [`Executor::execute`] runs the plan's DAG in
//! parallel along the graph (each step starts as soon as the steps it comes after are done,
//! bounded by `--parallel`), reporting one status per resource to a [`progress::Progress`].
//! Waiting for health or completion listens to the engine's events ([`events::EventHub`]).
//!
//! This module holds the executor and its state; `schedule` runs the DAG, and the steps are
//! grouped by what they act on (`resources` for networks and volumes, `pull`, `build`,
//! `create`, `lifecycle`), each returning a typed [`StepError`].

pub mod build;
pub mod container;
mod create;
mod error;
pub mod events;
pub mod hooks;
mod lifecycle;
pub mod observe;
pub mod progress;
mod pull;
mod resources;
mod schedule;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::api::client::ClientError;
use crate::compose::engine::Engine;
use crate::compose::load::env::Environment;
use crate::compose::model::Project;
use crate::compose::plan::{service_image, Action, ObservedState, Plan};

pub use error::{ExecError, StepError};
pub use events::{ContainerEvent, EventHub, EventKind, WaitError, WaitFor};
pub use observe::{observe, Observed};
use progress::{Event, Kind, Progress, State};

/// The warning printed once when the engine has no `/networks` endpoints.
pub const NO_NETWORKING: &str =
    "networking not available in this engine: services share no network";

/// The steps of `plan` whose action `keep` accepts, with their order among themselves.
pub fn sub_plan(plan: &Plan, keep: impl Fn(&Action) -> bool) -> Plan {
    let mut map = HashMap::new();
    let mut out = Plan {
        steps: Vec::new(),
        warnings: plan.warnings.clone(),
    };
    for (i, s) in plan.steps.iter().enumerate() {
        if keep(&s.action) {
            map.insert(i, out.steps.len());
            out.steps.push(s.clone());
        }
    }
    for s in &mut out.steps {
        s.after = s.after.iter().filter_map(|a| map.get(a).copied()).collect();
    }
    out
}

/// Whether an action obtains an image (done before anything is created, so that a missing
/// image leaves nothing behind).
pub fn is_image_step(a: &Action) -> bool {
    matches!(a, Action::PullImage { .. } | Action::BuildImage { .. })
}

/// How to execute.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// At most this many API steps at once (0: unbounded).
    pub parallel: usize,
    /// Run every step even when some fail (`down` always finishes).
    pub keep_going: bool,
    /// `-t`: seconds to wait for a stop before killing (default: the container's own).
    pub stop_timeout: Option<i64>,
    /// Remove containers' anonymous volumes with them (`up` recreates, `down -v`).
    pub remove_anonymous_volumes: bool,
    /// Whether the engine has bridge networks (from [`observe`]).
    pub networking: bool,
    /// How images are built.
    pub build: build::BuildOptions,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            parallel: 0,
            keep_going: false,
            stop_timeout: None,
            remove_anonymous_volumes: true,
            networking: true,
            build: Default::default(),
        }
    }
}

#[derive(Default)]
struct RunState {
    /// container name → id (observed, then created)
    ids: HashMap<String, String>,
    /// old container id → its anonymous volumes (destination → volume name)
    inherited: HashMap<String, HashMap<String, String>>,
}

struct Inner {
    engine: Engine,
    project: Arc<Project>,
    environment: Option<Environment>,
    progress: Arc<dyn Progress>,
    opts: ExecOptions,
    images: std::collections::BTreeMap<String, String>,
    networking: AtomicBool,
    warned_networking: AtomicBool,
    state: Mutex<RunState>,
    hub: tokio::sync::Mutex<Option<Arc<EventHub>>>,
    cancel_tx: Arc<watch::Sender<bool>>,
    cancel_rx: watch::Receiver<bool>,
    /// containers whose anonymous volumes a new container takes over
    inherit_wanted: Mutex<HashSet<String>>,
    /// names of containers this plan replaces (progress says Recreate)
    recreating: Mutex<HashSet<String>>,
}

/// Runs plans for one project.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl Executor {
    pub fn new(
        engine: Engine,
        project: Arc<Project>,
        environment: Option<Environment>,
        observed: &ObservedState,
        progress: Arc<dyn Progress>,
        opts: ExecOptions,
    ) -> Executor {
        let (tx, rx) = watch::channel(false);
        let mut st = RunState::default();
        for c in &observed.containers {
            st.ids.insert(c.name.clone(), c.id.clone());
        }
        Executor {
            inner: Arc::new(Inner {
                engine,
                project,
                environment,
                progress,
                networking: AtomicBool::new(opts.networking),
                opts,
                images: observed.images.clone(),
                warned_networking: AtomicBool::new(false),
                state: Mutex::new(st),
                hub: tokio::sync::Mutex::new(None),
                cancel_tx: Arc::new(tx),
                cancel_rx: rx,
                inherit_wanted: Mutex::new(HashSet::new()),
                recreating: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Use this event subscription for waits (else one is made when a plan needs it).
    pub async fn set_hub(&self, hub: Arc<EventHub>) {
        *self.inner.hub.lock().await = Some(hub);
    }

    /// The subscription used for waits, made now if there is none.
    pub async fn hub(&self) -> Result<Arc<EventHub>, ClientError> {
        self.inner.hub().await
    }

    /// Cancel what runs (Ctrl-C): no new step starts, waits end.
    pub fn cancel(&self) {
        let _ = self.inner.cancel_tx.send(true);
    }

    pub fn cancelled(&self) -> bool {
        *self.inner.cancel_rx.borrow()
    }

    /// A receiver that turns true on [`Executor::cancel`].
    pub fn cancel_receiver(&self) -> watch::Receiver<bool> {
        self.inner.cancel_rx.clone()
    }

    /// The id of a container by name (observed or created by this executor).
    pub fn container_id(&self, name: &str) -> Option<String> {
        self.inner.state.lock().unwrap().ids.get(name).cloned()
    }

    pub fn networking(&self) -> bool {
        self.inner.networking.load(Ordering::Relaxed)
    }

    /// Print the "no networking" warning once.
    pub fn warn_no_networking(&self) {
        self.inner.warn_no_networking();
    }

    /// Run a plan's DAG: each step as soon as the steps it comes after are done.
    pub async fn execute(&self, plan: &Plan) -> Result<(), ExecError> {
        let inner = &self.inner;
        if plan.steps.is_empty() {
            return Ok(());
        }
        inner.note_replacements(plan);
        if plan
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::WaitContainer { .. }))
        {
            if let Err(e) = inner.hub().await {
                return Err(ExecError {
                    failures: vec![format!("cannot subscribe to the engine's events: {e}")],
                });
            }
        }
        let mut failures = schedule::run(inner, plan).await;
        if failures.is_empty() && self.cancelled() && !inner.opts.keep_going {
            failures.push("cancelled".into());
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ExecError { failures })
        }
    }
}

fn is_not_found(e: &ClientError) -> bool {
    e.is_not_found()
}

impl Inner {
    /// Before a run: the old containers whose anonymous volumes a new container takes over,
    /// and the names of containers this plan replaces (their progress says Recreate).
    fn note_replacements(&self, plan: &Plan) {
        let mut iw = self.inherit_wanted.lock().unwrap();
        let mut rc = self.recreating.lock().unwrap();
        let removed: HashSet<&str> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::RemoveContainer { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        for s in &plan.steps {
            if let Action::CreateContainer {
                name,
                inherit_volumes_from,
                ..
            } = &s.action
            {
                if let Some(old) = inherit_volumes_from {
                    iw.insert(old.clone());
                }
                if removed.contains(name.as_str()) {
                    rc.insert(name.clone());
                }
            }
        }
    }

    fn report(&self, kind: Kind, name: &str, state: State, status: &str) {
        self.progress.event(Event::new(kind, name, state, status));
    }

    /// Show a step's failure on its resource's line; the step's error.
    fn fail(&self, kind: Kind, name: &str, msg: String) -> StepError {
        self.progress
            .event(Event::new(kind, name, State::Error, "Error").with_detail(msg.clone()));
        StepError::Failed(msg)
    }

    fn warn_no_networking(&self) {
        if !self.warned_networking.swap(true, Ordering::Relaxed) {
            self.progress.warning(NO_NETWORKING);
        }
    }

    async fn hub(&self) -> Result<Arc<EventHub>, ClientError> {
        let mut h = self.hub.lock().await;
        if let Some(hub) = h.as_ref() {
            return Ok(hub.clone());
        }
        let hub = Arc::new(EventHub::subscribe(&*self.engine, Some(&self.project.name)).await?);
        *h = Some(hub.clone());
        Ok(hub)
    }

    /// The engine names of the project's named volumes (a container's other volumes are
    /// anonymous).
    fn named_volumes(&self) -> HashSet<String> {
        self.project
            .volumes
            .values()
            .map(|v| v.name.clone())
            .collect()
    }

    /// The result of a call on a container that may be gone already: not found is done, any
    /// other error fails the step with `cannot <what> container <name>`.
    fn unless_gone(
        &self,
        r: Result<(), ClientError>,
        service: &str,
        name: &str,
        what: &str,
    ) -> Result<(), StepError> {
        match r {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.fail(
                Kind::Container,
                name,
                format!("service {service:?}: cannot {what} container {name}: {e}"),
            )),
        }
    }

    fn id_of(&self, name: &str) -> String {
        self.state
            .lock()
            .unwrap()
            .ids
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn services_using_image(&self, image: &str) -> Vec<String> {
        self.project
            .services
            .iter()
            .filter(|(n, s)| service_image(&self.project, n, s) == image)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The `platform:` of the first service using `image` that sets one (the image is pulled
    /// once, for that platform).
    fn platform_of_image(&self, image: &str) -> Option<String> {
        self.project
            .services
            .iter()
            .filter(|(n, s)| service_image(&self.project, n, s) == image)
            .find_map(|(_, s)| s.platform.clone())
    }

    async fn run(self: Arc<Self>, action: Action) -> Result<(), StepError> {
        match action {
            Action::CreateNetwork { key, name } => self.create_network(&key, &name).await,
            Action::CreateVolume { key, name } => self.create_volume(&key, &name).await,
            Action::PullImage { image } => self.pull(&image).await,
            Action::BuildImage { service, image } => self.build_image(&service, &image).await,
            Action::CreateContainer {
                service,
                number,
                name,
                config_hash,
                inherit_volumes_from,
            } => {
                self.create_container(
                    &service,
                    number,
                    &name,
                    &config_hash,
                    inherit_volumes_from.as_deref(),
                )
                .await
            }
            Action::StartContainer { service, name } => self.start(&service, &name).await,
            Action::WaitContainer {
                service,
                name,
                condition,
            } => self.wait(&service, &name, condition).await,
            Action::StopContainer {
                service, name, id, ..
            } => self.stop(&service, &name, &id).await,
            Action::RemoveContainer { service, name, id } => {
                self.remove_container(&service, &name, &id).await
            }
            Action::RemoveNetwork { name } => self.remove_network(&name).await,
            Action::RemoveVolume { name } => self.remove_volume(&name).await,
        }
    }
}
