//! Executing plans against an engine, through [`ComposeEngine`](crate::compose::engine) only: [`observe`] what exists,
//! plan with [`crate::compose::plan`], then [`Executor::execute`] runs the plan's DAG in
//! parallel along the graph (each step starts as soon as the steps it comes after are done,
//! bounded by `--parallel`), reporting one status per resource to a [`progress::Progress`].
//! Waiting for health or completion listens to the engine's events ([`events::EventHub`]).

pub mod build;
pub mod container;
pub mod events;
pub mod hooks;
pub mod observe;
pub mod progress;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Semaphore};

use crate::api::client::ClientError;
use crate::api::models::{Mount, MountPointTypeEnum, MountTypeEnum};
use crate::compose::engine::Engine;
use crate::compose::load::env::Environment;
use crate::compose::model::{NetworkMode, Project};
use crate::compose::plan::{
    container_name, network_labels, service_image, volume_labels, Action, ObservedState, Plan,
    WaitCondition,
};

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

/// A failed execution: one line per failure, each naming the service (or resource) and cause.
#[derive(Debug, Clone)]
pub struct ExecError {
    pub failures: Vec<String>,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.failures.join("\n"))
    }
}

impl std::error::Error for ExecError {}

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
        let n = plan.steps.len();
        if n == 0 {
            return Ok(());
        }
        {
            let mut iw = inner.inherit_wanted.lock().unwrap();
            let mut rc = inner.recreating.lock().unwrap();
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
        let mut remaining: Vec<usize> = plan.steps.iter().map(|s| s.after.len()).collect();
        let mut dependants: Vec<Vec<usize>> = vec![vec![]; n];
        for (i, s) in plan.steps.iter().enumerate() {
            for &a in &s.after {
                dependants[a].push(i);
            }
        }
        let permits = if inner.opts.parallel == 0 {
            Semaphore::MAX_PERMITS
        } else {
            inner.opts.parallel
        };
        let sem = Arc::new(Semaphore::new(permits));
        let mut set: tokio::task::JoinSet<(usize, Result<(), String>)> =
            tokio::task::JoinSet::new();
        let mut failures: Vec<String> = Vec::new();
        let mut stopping = false;
        let spawn = |set: &mut tokio::task::JoinSet<(usize, Result<(), String>)>, i: usize| {
            let inner = self.inner.clone();
            let action = plan.steps[i].action.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let is_wait = matches!(action, Action::WaitContainer { .. });
                let _permit = if is_wait {
                    None
                } else {
                    Some(sem.acquire_owned().await.expect("semaphore"))
                };
                if *inner.cancel_rx.borrow() && !inner.opts.keep_going {
                    return (i, Err(String::new()));
                }
                (i, inner.clone().run(action).await)
            });
        };
        for (i, r) in remaining.iter().enumerate() {
            if *r == 0 {
                spawn(&mut set, i);
            }
        }
        while let Some(joined) = set.join_next().await {
            let (i, r) = match joined {
                Ok(x) => x,
                Err(e) => {
                    failures.push(format!("internal error: {e}"));
                    stopping = true;
                    continue;
                }
            };
            if let Err(e) = r {
                if !e.is_empty() && !failures.contains(&e) {
                    failures.push(e);
                }
                if !inner.opts.keep_going {
                    stopping = true;
                    let _ = inner.cancel_tx.send(true);
                    continue;
                }
            }
            if *inner.cancel_rx.borrow() && !inner.opts.keep_going {
                stopping = true;
            }
            for &d in &dependants[i] {
                remaining[d] -= 1;
                if remaining[d] == 0 && !stopping {
                    spawn(&mut set, d);
                }
            }
        }
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
    fn report(&self, kind: Kind, name: &str, state: State, status: &str) {
        self.progress.event(Event::new(kind, name, state, status));
    }

    fn fail(&self, kind: Kind, name: &str, msg: String) -> String {
        self.progress
            .event(Event::new(kind, name, State::Error, "Error").with_detail(msg.clone()));
        msg
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

    async fn run(self: Arc<Self>, action: Action) -> Result<(), String> {
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

    async fn create_network(&self, key: &str, name: &str) -> Result<(), String> {
        if !self.networking.load(Ordering::Relaxed) {
            self.warn_no_networking();
            return Ok(());
        }
        let net = self.project.networks.get(key).cloned().unwrap_or_default();
        self.report(Kind::Network, name, State::Working, "Creating");
        let ipam = net.ipam.as_ref().map(|i| {
            serde_json::json!({
                "Driver": i.driver.clone().unwrap_or_else(|| "default".into()),
                "Options": i.options,
                "Config": i.config.iter().map(|c| serde_json::json!({
                    "Subnet": c.subnet, "IPRange": c.ip_range, "Gateway": c.gateway,
                    "AuxiliaryAddresses": c.aux_addresses,
                })).collect::<Vec<_>>(),
            })
        });
        let body = serde_json::json!({
            "Name": name,
            "CheckDuplicate": true,
            "Driver": net.driver.clone().unwrap_or_else(|| "bridge".into()),
            "Internal": net.internal,
            "Attachable": net.attachable,
            "EnableIPv6": net.enable_ipv6,
            "Options": net.driver_opts,
            "Labels": network_labels(&self.project, key),
            "IPAM": ipam,
        });
        match self.engine.create_network(&body).await {
            Ok(r) => {
                if !r.warning.is_empty() {
                    self.progress
                        .warning(&format!("network {name}: {}", r.warning));
                }
                self.report(Kind::Network, name, State::Done, "Created");
                Ok(())
            }
            Err(ClientError::Api {
                status: 404,
                message,
            }) if message.contains("page not found") => {
                self.networking.store(false, Ordering::Relaxed);
                self.warn_no_networking();
                self.report(Kind::Network, name, State::Warning, "Skipped");
                Ok(())
            }
            Err(e) if e.status() == Some(409) => {
                self.report(Kind::Network, name, State::Done, "Exists");
                Ok(())
            }
            Err(e) => Err(self.fail(Kind::Network, name, format!("network {name}: {e}"))),
        }
    }

    async fn create_volume(&self, key: &str, name: &str) -> Result<(), String> {
        let vol = self.project.volumes.get(key).cloned().unwrap_or_default();
        self.report(Kind::Volume, name, State::Working, "Creating");
        let body = serde_json::json!({
            "Name": name,
            "Driver": vol.driver.clone().unwrap_or_else(|| "local".into()),
            "DriverOpts": vol.driver_opts,
            "Labels": volume_labels(&self.project, key),
        });
        match self.engine.create_volume(&body).await {
            Ok(_) => {
                self.report(Kind::Volume, name, State::Done, "Created");
                Ok(())
            }
            Err(e) => Err(self.fail(Kind::Volume, name, format!("volume {name}: {e}"))),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), String> {
        self.report(Kind::Image, image, State::Working, "Pulling");
        match self.engine.pull_image(image).await {
            Ok(()) => {
                self.report(Kind::Image, image, State::Done, "Pulled");
                Ok(())
            }
            Err(e) => {
                let services = self.services_using_image(image).join(", ");
                let present = match self.engine.inspect_image(image).await {
                    Ok(_) => true,
                    Err(e2) if e2.is_not_found() => false,
                    Err(_) => self.images.contains_key(image),
                };
                if present {
                    self.progress.event(
                        Event::new(Kind::Image, image, State::Warning, "Pull failed")
                            .with_detail(format!("{e}; using the local image")),
                    );
                    self.progress.warning(&format!(
                        "service {services}: cannot pull {image} ({e}); using the image present locally"
                    ));
                    Ok(())
                } else {
                    Err(self.fail(
                        Kind::Image,
                        image,
                        format!("service {services}: image {image} is not present and cannot be pulled: {e}"),
                    ))
                }
            }
        }
    }

    /// The mounts of `volumes_from` entries, from the source containers.
    async fn volumes_from_mounts(&self, service: &str) -> Result<Vec<Mount>, String> {
        let svc = &self.project.services[service];
        let mut out = Vec::new();
        for v in &svc.volumes_from {
            let (source, mode) = if let Some(c) = v.strip_prefix("container:") {
                let (c, m) = c.split_once(':').unwrap_or((c, "rw"));
                (c.to_string(), m.to_string())
            } else {
                let s = v.strip_prefix("service:").unwrap_or(v);
                let (s, m) = s.split_once(':').unwrap_or((s, "rw"));
                (
                    self.id_of(&container_name(&self.project, s, 1)),
                    m.to_string(),
                )
            };
            let info = self
                .engine
                .inspect_container(&source)
                .await
                .map_err(|e| format!("service {service:?}: volumes_from {v:?}: {e}"))?;
            for m in info.mounts.unwrap_or_default() {
                let ro = mode == "ro" || m.rw == Some(false);
                let (typ, src) = match m.typ {
                    Some(MountPointTypeEnum::VOLUME) => (MountTypeEnum::VOLUME, m.name.clone()),
                    Some(MountPointTypeEnum::BIND) => (MountTypeEnum::BIND, m.source.clone()),
                    _ => continue,
                };
                out.push(Mount {
                    typ: Some(typ),
                    source: src,
                    target: m.destination.clone(),
                    read_only: ro.then_some(true),
                    ..Default::default()
                });
            }
        }
        Ok(out)
    }

    async fn create_container(
        &self,
        service: &str,
        number: u32,
        name: &str,
        hash: &str,
        inherit: Option<&str>,
    ) -> Result<(), String> {
        let recreate = self.recreating.lock().unwrap().contains(name);
        self.report(
            Kind::Container,
            name,
            State::Working,
            if recreate { "Recreate" } else { "Creating" },
        );
        let inherited = inherit
            .and_then(|old| self.state.lock().unwrap().inherited.get(old).cloned())
            .unwrap_or_default();
        let volumes_from = match self.volumes_from_mounts(service).await {
            Ok(v) => v,
            Err(e) => return Err(self.fail(Kind::Container, name, e)),
        };
        let svc = &self.project.services[service];
        let network_container = match &svc.network_mode {
            Some(NetworkMode::Service(x)) => Some(self.id_of(&container_name(&self.project, x, 1))),
            _ => None,
        };
        let networking = self.networking.load(Ordering::Relaxed);
        if !networking && !svc.networks.is_empty() && svc.network_mode.is_none() {
            self.warn_no_networking();
        }
        let image = service_image(&self.project, service, svc);
        let image_id = self.images.get(&image).cloned();
        let inputs = container::BuildInputs {
            service,
            number,
            name,
            config_hash: hash,
            oneoff: false,
            image_id: image_id.as_deref(),
            networking,
            inherited: inherited.clone(),
            volumes_from,
            network_container,
            environment: self.environment.as_ref(),
        };
        let mut built = match container::build(&self.project, &inputs) {
            Ok(b) => b,
            Err(e) => return Err(self.fail(Kind::Container, name, e)),
        };
        // image volumes of the old container, not declared in the service: keep them too
        if !inherited.is_empty() {
            let host = built.body.host_config.get_or_insert_with(Default::default);
            let mounts = host.mounts.get_or_insert_with(Vec::new);
            let named: HashSet<String> = self
                .project
                .volumes
                .values()
                .map(|v| v.name.clone())
                .collect();
            for (dest, vol) in &inherited {
                if !mounts
                    .iter()
                    .any(|m| m.target.as_deref() == Some(dest.as_str()))
                    && !named.contains(vol)
                    && !svc
                        .tmpfs
                        .iter()
                        .any(|t| t.split(':').next() == Some(dest.as_str()))
                {
                    mounts.push(Mount {
                        typ: Some(MountTypeEnum::VOLUME),
                        source: Some(vol.clone()),
                        target: Some(dest.clone()),
                        ..Default::default()
                    });
                }
            }
        }
        for w in &built.warnings {
            self.progress.warning(w);
        }
        let created = match self.engine.create_container(Some(name), &built.body).await {
            Ok(c) => c,
            Err(e) => {
                return Err(self.fail(
                    Kind::Container,
                    name,
                    format!("service {service:?}: cannot create container {name}: {e}"),
                ))
            }
        };
        for w in &created.warnings {
            self.progress.warning(&format!("container {name}: {w}"));
        }
        self.state
            .lock()
            .unwrap()
            .ids
            .insert(name.to_string(), created.id.clone());
        if !built.files.is_empty() {
            let tar = container::files_tar(&built.files).map_err(|e| e.to_string());
            let r = match tar {
                Ok(t) => self
                    .engine
                    .put_archive(&created.id, "/", t)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                return Err(self.fail(
                    Kind::Container,
                    name,
                    format!(
                        "service {service:?}: cannot copy secrets and configs into {name}: {e}"
                    ),
                ));
            }
        }
        self.report(
            Kind::Container,
            name,
            State::Done,
            if recreate { "Recreated" } else { "Created" },
        );
        Ok(())
    }

    async fn start(&self, service: &str, name: &str) -> Result<(), String> {
        let id = self.id_of(name);
        self.report(Kind::Container, name, State::Working, "Starting");
        match self.engine.start_container(&id).await {
            Ok(()) => {
                self.report(Kind::Container, name, State::Done, "Started");
                let post_start = self.project.services.get(service).map(|s| &s.post_start);
                match post_start.filter(|h| !h.is_empty()) {
                    Some(h) => hooks::run_all(&*self.engine, &id, "post_start", h)
                        .await
                        .map_err(|e| {
                            self.fail(Kind::Container, name, format!("service {service:?}: {e}"))
                        }),
                    None => Ok(()),
                }
            }
            Err(e) => Err(self.fail(
                Kind::Container,
                name,
                format!("service {service:?}: cannot start container {name}: {e}"),
            )),
        }
    }

    async fn wait(&self, service: &str, name: &str, cond: WaitCondition) -> Result<(), String> {
        let id = self.id_of(name);
        self.report(Kind::Container, name, State::Working, "Waiting");
        let hub = match self.hub().await {
            Ok(h) => h,
            Err(e) => return Err(self.fail(Kind::Container, name, e.to_string())),
        };
        let want = match cond {
            WaitCondition::Healthy => WaitFor::Healthy,
            WaitCondition::CompletedSuccessfully => WaitFor::CompletedSuccessfully,
        };
        match hub
            .wait(&*self.engine, &id, want, self.cancel_rx.clone())
            .await
        {
            Ok(_) => {
                self.report(
                    Kind::Container,
                    name,
                    State::Done,
                    match cond {
                        WaitCondition::Healthy => "Healthy",
                        WaitCondition::CompletedSuccessfully => "Exited",
                    },
                );
                Ok(())
            }
            Err(WaitError::Cancelled) => Err(String::new()),
            Err(e) => Err(self.fail(
                Kind::Container,
                name,
                format!("dependency failed to start: container {name} (service {service:?}) {e}"),
            )),
        }
    }

    async fn stop(&self, service: &str, name: &str, id: &str) -> Result<(), String> {
        let quiet = self.recreating.lock().unwrap().contains(name);
        if !quiet {
            self.report(Kind::Container, name, State::Working, "Stopping");
        }
        self.pre_stop(service, name, id).await?;
        match self.engine.stop_container(id, self.opts.stop_timeout).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(self.fail(
                    Kind::Container,
                    name,
                    format!("service {service:?}: cannot stop container {name}: {e}"),
                ))
            }
        }
        if !quiet {
            self.report(Kind::Container, name, State::Done, "Stopped");
        }
        Ok(())
    }

    /// The service's `pre_stop` hooks, when the container is running: a failure aborts the
    /// stop.
    async fn pre_stop(&self, service: &str, name: &str, id: &str) -> Result<(), String> {
        let Some(h) = self.project.services.get(service).map(|s| &s.pre_stop) else {
            return Ok(());
        };
        if h.is_empty() {
            return Ok(());
        }
        let running = match self.engine.inspect_container(id).await {
            Ok(i) => i.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        };
        if !running {
            return Ok(());
        }
        hooks::run_all(&*self.engine, id, "pre_stop", h)
            .await
            .map_err(|e| self.fail(Kind::Container, name, format!("service {service:?}: {e}")))
    }

    async fn remove_container(&self, service: &str, name: &str, id: &str) -> Result<(), String> {
        let quiet = self.recreating.lock().unwrap().contains(name);
        let inherit = self.inherit_wanted.lock().unwrap().contains(id);
        if !quiet {
            self.report(Kind::Container, name, State::Working, "Removing");
        }
        if inherit {
            if let Ok(info) = self.engine.inspect_container(id).await {
                let named: HashSet<String> = self
                    .project
                    .volumes
                    .values()
                    .map(|v| v.name.clone())
                    .collect();
                let anon: HashMap<String, String> = info
                    .mounts
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| m.typ == Some(MountPointTypeEnum::VOLUME))
                    .filter_map(|m| Some((m.destination?, m.name?)))
                    .filter(|(_, n)| !named.contains(n))
                    .collect();
                self.state
                    .lock()
                    .unwrap()
                    .inherited
                    .insert(id.to_string(), anon);
            }
        }
        let v = !inherit && self.opts.remove_anonymous_volumes;
        match self.engine.remove_container(id, true, v).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(self.fail(
                    Kind::Container,
                    name,
                    format!("service {service:?}: cannot remove container {name}: {e}"),
                ))
            }
        }
        {
            let mut st = self.state.lock().unwrap();
            if st.ids.get(name).map(String::as_str) == Some(id) {
                st.ids.remove(name);
            }
        }
        if !quiet {
            self.report(Kind::Container, name, State::Done, "Removed");
        }
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<(), String> {
        if !self.networking.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.report(Kind::Network, name, State::Working, "Removing");
        let mut result = self.engine.remove_network(name).await;
        if let Err(e) = &result {
            if e.status() == Some(404) && e.to_string().contains("page not found") {
                self.networking.store(false, Ordering::Relaxed);
                return Ok(());
            }
            if !is_not_found(e) {
                // stray endpoints: disconnect whatever is still attached, then again
                if let Ok(net) = self.engine.inspect_network(name).await {
                    for cid in net.containers.unwrap_or_default().keys() {
                        let _ = self.engine.disconnect_network(name, cid, true).await;
                    }
                }
                result = self.engine.remove_network(name).await;
            }
        }
        match result {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.fail(Kind::Network, name, format!("network {name}: {e}"))),
        }
        self.report(Kind::Network, name, State::Done, "Removed");
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), String> {
        self.report(Kind::Volume, name, State::Working, "Removing");
        match self.engine.remove_volume(name, false).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.fail(Kind::Volume, name, format!("volume {name}: {e}"))),
        }
        self.report(Kind::Volume, name, State::Done, "Removed");
        Ok(())
    }
}
