//! The convergence planner (pure): desired [`Project`] + [`ObservedState`] + [`PlanOptions`] →
//! a [`Plan`], a DAG of actions (create network/volume, pull/build image, create, start, wait,
//! stop, remove) with the dependencies between them. Executing it is the engine side's job:
//! each step can run as soon as the steps it comes after are done. A plan renders as stable
//! text ([`Plan::render`]) and is tested as text.

pub mod hash;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::compose::error::{ComposeError, Result};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::{
    DependsCondition, MountType, NetworkMode, Project, PullPolicy, Service,
};

/// The compose labels.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    pub const IMAGE: &str = "com.docker.compose.image";
    pub const VERSION: &str = "com.docker.compose.version";
    pub const NETWORK: &str = "com.docker.compose.network";
    pub const VOLUME: &str = "com.docker.compose.volume";
}

/// The compose version wharf writes in its labels.
pub const COMPOSE_VERSION: &str = "2.29.0";

// ---- naming -------------------------------------------------------------------------------

/// `<project>-<service>-<n>`, or the service's `container_name`.
pub fn container_name(project: &Project, service: &str, number: u32) -> String {
    match project
        .services
        .get(service)
        .and_then(|s| s.container_name.clone())
    {
        Some(n) => n,
        None => format!("{}-{}-{}", project.name, service, number),
    }
}

/// The engine-side name of a project network (`<project>_<key>` unless set).
pub fn network_name(project: &Project, key: &str) -> String {
    project
        .networks
        .get(key)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// The engine-side name of a project volume (`<project>_<key>` unless set).
pub fn volume_name(project: &Project, key: &str) -> String {
    project
        .volumes
        .get(key)
        .map(|v| v.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// The image a service runs (`image`, or `<project>-<service>` for a build-only service).
pub fn service_image(project: &Project, service: &str, svc: &Service) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("{}-{}", project.name, service))
}

/// The labels of a service container (the service's own labels plus compose's).
pub fn container_labels(
    project: &Project,
    service: &str,
    number: u32,
    config_hash: &str,
    oneoff: bool,
    image_id: Option<&str>,
) -> BTreeMap<String, String> {
    let svc = project.services.get(service);
    let mut l: BTreeMap<String, String> = svc.map(|s| s.labels.clone()).unwrap_or_default();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::SERVICE.into(), service.into());
    l.insert(labels::NUMBER.into(), number.to_string());
    l.insert(labels::CONFIG_HASH.into(), config_hash.into());
    l.insert(
        labels::ONEOFF.into(),
        if oneoff { "True" } else { "False" }.into(),
    );
    l.insert(
        labels::WORKING_DIR.into(),
        project.working_dir.display().to_string(),
    );
    l.insert(
        labels::CONFIG_FILES.into(),
        project
            .config_files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(s) = svc {
        let deps: Vec<String> = s
            .depends_on
            .iter()
            .map(|(k, d)| {
                let cond = match d.condition {
                    DependsCondition::ServiceStarted => "service_started",
                    DependsCondition::ServiceHealthy => "service_healthy",
                    DependsCondition::ServiceCompletedSuccessfully => {
                        "service_completed_successfully"
                    }
                };
                format!("{k}:{cond}:{}", d.restart)
            })
            .collect();
        l.insert(labels::DEPENDS_ON.into(), deps.join(","));
        l.insert(
            labels::IMAGE.into(),
            image_id
                .map(str::to_string)
                .unwrap_or_else(|| service_image(project, service, s)),
        );
    }
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    l
}

/// The labels of a project network.
pub fn network_labels(project: &Project, key: &str) -> BTreeMap<String, String> {
    let mut l = project
        .networks
        .get(key)
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::NETWORK.into(), key.into());
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    l
}

/// The labels of a project volume.
pub fn volume_labels(project: &Project, key: &str) -> BTreeMap<String, String> {
    let mut l = project
        .volumes
        .get(key)
        .map(|v| v.labels.clone())
        .unwrap_or_default();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::VOLUME.into(), key.into());
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    l
}

// ---- observed state -----------------------------------------------------------------------

/// The state of an existing container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ContainerState {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Exited(i64),
    Dead,
}

impl ContainerState {
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    }
}

/// An existing container, as the engine reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub image_id: String,
    pub state: ContainerState,
    /// The engine's network mode (`container:<id>` for `network_mode: service:x`).
    pub network_mode: Option<String>,
}

impl ObservedContainer {
    pub fn project(&self) -> Option<&str> {
        self.labels.get(labels::PROJECT).map(String::as_str)
    }
    pub fn service(&self) -> Option<&str> {
        self.labels.get(labels::SERVICE).map(String::as_str)
    }
    pub fn number(&self) -> u32 {
        self.labels
            .get(labels::NUMBER)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
    pub fn config_hash(&self) -> Option<&str> {
        self.labels.get(labels::CONFIG_HASH).map(String::as_str)
    }
    pub fn oneoff(&self) -> bool {
        self.labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// An existing network or volume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedResource {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// What exists on the engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedState {
    pub containers: Vec<ObservedContainer>,
    pub networks: Vec<ObservedResource>,
    pub volumes: Vec<ObservedResource>,
    /// Image reference (as written in the compose file) → image id, for images present.
    pub images: BTreeMap<String, String>,
}

// ---- options and actions ------------------------------------------------------------------

/// The options of `up` (and `create`) that shape a plan.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Selected services (empty: all enabled services).
    pub services: Vec<String>,
    pub no_deps: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub always_recreate_deps: bool,
    /// `-V`: new anonymous volumes instead of the previous containers'.
    pub renew_anon_volumes: bool,
    pub remove_orphans: bool,
    /// `--scale svc=N`.
    pub scale: BTreeMap<String, u32>,
    pub no_start: bool,
    /// `--pull`: overrides every service's pull_policy.
    pub pull: Option<PullPolicy>,
    /// `--build`: build images of services with a build section even when present.
    pub build: bool,
    /// `--no-build`.
    pub no_build: bool,
}

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WaitCondition {
    Healthy,
    CompletedSuccessfully,
}

/// One action of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateNetwork {
        key: String,
        name: String,
    },
    CreateVolume {
        key: String,
        name: String,
    },
    PullImage {
        image: String,
    },
    BuildImage {
        service: String,
        image: String,
    },
    CreateContainer {
        service: String,
        number: u32,
        name: String,
        config_hash: String,
        /// Recreating: take the anonymous volumes of this (old) container.
        inherit_volumes_from: Option<String>,
    },
    StartContainer {
        service: String,
        name: String,
    },
    WaitContainer {
        service: String,
        name: String,
        condition: WaitCondition,
    },
    StopContainer {
        service: String,
        name: String,
        id: String,
        reason: String,
    },
    RemoveContainer {
        service: String,
        name: String,
        id: String,
    },
    RemoveNetwork {
        name: String,
    },
    RemoveVolume {
        name: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateNetwork { name, .. } => write!(f, "create network {name}"),
            Action::CreateVolume { name, .. } => write!(f, "create volume {name}"),
            Action::PullImage { image } => write!(f, "pull image {image}"),
            Action::BuildImage { service, image } => {
                write!(f, "build image {image} (service {service})")
            }
            Action::CreateContainer {
                name,
                inherit_volumes_from,
                ..
            } => {
                write!(f, "create container {name}")?;
                if inherit_volumes_from.is_some() {
                    write!(f, " (keeping anonymous volumes)")?;
                }
                Ok(())
            }
            Action::StartContainer { name, .. } => write!(f, "start container {name}"),
            Action::WaitContainer {
                name, condition, ..
            } => match condition {
                WaitCondition::Healthy => write!(f, "wait for container {name} to be healthy"),
                WaitCondition::CompletedSuccessfully => {
                    write!(f, "wait for container {name} to complete successfully")
                }
            },
            Action::StopContainer { name, reason, .. } => {
                write!(f, "stop container {name} ({reason})")
            }
            Action::RemoveContainer { name, .. } => write!(f, "remove container {name}"),
            Action::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Action::RemoveVolume { name } => write!(f, "remove volume {name}"),
        }
    }
}

/// A step: an action and the steps it must come after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub after: Vec<usize>,
}

/// A plan: steps (indices are step ids) and warnings (orphans left behind...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn add(&mut self, action: Action, mut after: Vec<usize>) -> usize {
        after.sort_unstable();
        after.dedup();
        if let Some(i) = self.steps.iter().position(|s| s.action == action) {
            let s = &mut self.steps[i];
            s.after.extend(after);
            s.after.sort_unstable();
            s.after.dedup();
            return i;
        }
        self.steps.push(Step { action, after });
        self.steps.len() - 1
    }

    /// Step ids in a stable topological order (ready steps by their rendered text).
    pub fn order(&self) -> Vec<usize> {
        let n = self.steps.len();
        let mut indeg: Vec<usize> = self.steps.iter().map(|s| s.after.len()).collect();
        let mut dependants: Vec<Vec<usize>> = vec![vec![]; n];
        for (i, s) in self.steps.iter().enumerate() {
            for &a in &s.after {
                dependants[a].push(i);
            }
        }
        let mut ready: BTreeSet<(String, usize)> = (0..n)
            .filter(|&i| indeg[i] == 0)
            .map(|i| (self.steps[i].action.to_string(), i))
            .collect();
        let mut out = Vec::with_capacity(n);
        while let Some((_, i)) = ready.pop_first() {
            out.push(i);
            for &d in &dependants[i] {
                indeg[d] -= 1;
                if indeg[d] == 0 {
                    ready.insert((self.steps[d].action.to_string(), d));
                }
            }
        }
        out
    }

    /// The plan as text: one line per step in a stable topological order, with what it comes
    /// after (`<- ...`), then the warnings. An empty plan is `nothing to do`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("nothing to do\n");
        }
        for i in self.order() {
            let s = &self.steps[i];
            out.push_str(&s.action.to_string());
            if !s.after.is_empty() {
                let mut deps: Vec<String> = s
                    .after
                    .iter()
                    .map(|&a| self.steps[a].action.to_string())
                    .collect();
                deps.sort();
                out.push_str("  <- ");
                out.push_str(&deps.join("; "));
            }
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str("warning: ");
            out.push_str(w);
            out.push('\n');
        }
        out
    }
}

// ---- planning -----------------------------------------------------------------------------

/// The config hashes of every enabled service (reading env_files, secrets and configs).
pub fn project_hashes(project: &Project) -> Result<BTreeMap<String, String>> {
    project
        .services
        .keys()
        .map(|s| Ok((s.clone(), hash::service_hash(project, s)?)))
        .collect()
}

/// Plan `up`, computing the config hashes from disk.
/// For a container joined to service `x`'s network namespace (`network_mode: service:x`): `x`
/// when the container it joined is no longer `x`'s first container.
fn lost_namespace<'a>(
    svc: &'a Service,
    c: &ObservedContainer,
    ours: &BTreeMap<String, Vec<&ObservedContainer>>,
) -> Option<&'a str> {
    let Some(NetworkMode::Service(x)) = &svc.network_mode else {
        return None;
    };
    let joined = c
        .network_mode
        .as_deref()?
        .strip_prefix("container:")
        .filter(|j| !j.is_empty())?;
    let owner = ours.get(x)?.iter().find(|o| o.number() == 1)?;
    let same = owner.id == joined || owner.name == joined || owner.id.starts_with(joined);
    (!same).then_some(x.as_str())
}

pub fn plan_up(project: &Project, observed: &ObservedState, opts: &PlanOptions) -> Result<Plan> {
    let hashes = project_hashes(project)?;
    plan_up_with_hashes(project, &hashes, observed, opts)
}

/// Plan `up` with the given config hashes (pure).
pub fn plan_up_with_hashes(
    project: &Project,
    hashes: &BTreeMap<String, String>,
    observed: &ObservedState,
    opts: &PlanOptions,
) -> Result<Plan> {
    let graph = ServiceGraph::build(project)?;
    let selection = graph.select(&opts.services, opts.no_deps)?;
    let order = graph.start_order_of(&selection);
    let mut plan = Plan::default();

    for (svc, n) in &opts.scale {
        if !project.services.contains_key(svc) {
            return Err(ComposeError::NoSuchService {
                service: svc.clone(),
            });
        }
        if *n > 1 && project.services[svc].container_name.is_some() {
            return Err(ComposeError::Plan(format!(
                "service {svc:?} sets container_name, so it cannot be scaled to {n}: a container name must be unique"
            )));
        }
    }

    // our containers, by service
    let mut ours: BTreeMap<String, Vec<&ObservedContainer>> = BTreeMap::new();
    let mut orphans: Vec<&ObservedContainer> = Vec::new();
    for c in &observed.containers {
        if c.project() != Some(project.name.as_str()) || c.oneoff() {
            continue;
        }
        let s = c.service().unwrap_or_default();
        if project.services.contains_key(s) {
            ours.entry(s.to_string()).or_default().push(c);
        } else if !project.disabled_services.contains_key(s) {
            orphans.push(c);
        }
    }
    for v in ours.values_mut() {
        v.sort_by_key(|c| (c.number(), c.name.clone()));
    }

    // networks and volumes
    let mut net_steps: BTreeMap<String, usize> = BTreeMap::new();
    let mut vol_steps: BTreeMap<String, usize> = BTreeMap::new();
    let used_networks: BTreeSet<String> = selection
        .iter()
        .flat_map(|s| project.services[s].networks.keys().cloned())
        .collect();
    for key in &used_networks {
        let net = &project.networks[key];
        let exists = observed.networks.iter().any(|n| n.name == net.name);
        if net.external {
            if !exists {
                return Err(ComposeError::Plan(format!(
                    "network {} declared as external, but could not be found: create it first",
                    net.name
                )));
            }
        } else if !exists {
            let id = plan.add(
                Action::CreateNetwork {
                    key: key.clone(),
                    name: net.name.clone(),
                },
                vec![],
            );
            net_steps.insert(key.clone(), id);
        }
    }
    let used_volumes: BTreeSet<String> = selection
        .iter()
        .flat_map(|s| project.services[s].volumes.iter())
        .filter(|m| m.kind == MountType::Volume)
        .filter_map(|m| m.source.clone())
        .collect();
    for key in &used_volumes {
        let Some(vol) = project.volumes.get(key) else {
            continue;
        };
        let exists = observed.volumes.iter().any(|v| v.name == vol.name);
        if vol.external {
            if !exists {
                return Err(ComposeError::Plan(format!(
                    "volume {} declared as external, but could not be found: create it first",
                    vol.name
                )));
            }
        } else if !exists {
            let id = plan.add(
                Action::CreateVolume {
                    key: key.clone(),
                    name: vol.name.clone(),
                },
                vec![],
            );
            vol_steps.insert(key.clone(), id);
        }
    }

    // images
    let mut image_steps: BTreeMap<String, usize> = BTreeMap::new();
    for s in &order {
        let svc = &project.services[s];
        let image = service_image(project, s, svc);
        let present = observed.images.contains_key(&image);
        let policy = opts.pull.or(svc.pull_policy).unwrap_or(PullPolicy::Missing);
        let buildable = svc.build.is_some() && !opts.no_build;
        let step = if buildable
            && (opts.build || policy == PullPolicy::Build || (!present && svc.image.is_none()))
        {
            Some(Action::BuildImage {
                service: s.clone(),
                image: image.clone(),
            })
        } else {
            match policy {
                PullPolicy::Always => Some(Action::PullImage { image: image.clone() }),
                PullPolicy::Missing if !present => {
                    if buildable {
                        Some(Action::BuildImage { service: s.clone(), image: image.clone() })
                    } else {
                        Some(Action::PullImage { image: image.clone() })
                    }
                }
                PullPolicy::Never | PullPolicy::Build if !present => {
                    return Err(ComposeError::Plan(format!(
                        "service {s:?}: image {image} is not present and its pull policy forbids pulling it"
                    )))
                }
                _ => None,
            }
        };
        if let Some(a) = step {
            let id = plan.add(a, vec![]);
            image_steps.insert(s.clone(), id);
        }
    }

    // containers, in start order
    struct SvcSteps {
        /// step that makes each kept/new container exist (create), by container name
        created: Vec<(String, Option<usize>)>,
        /// start steps, by container name (None: already running, untouched)
        started: Vec<(String, Option<usize>)>,
    }
    let mut done: BTreeMap<String, SvcSteps> = BTreeMap::new();
    // one-shot services (something waits for them to complete): exited 0 means done
    let one_shot: BTreeSet<&String> = project
        .services
        .values()
        .flat_map(|svc| svc.depends_on.iter())
        .filter(|(_, d)| d.condition == DependsCondition::ServiceCompletedSuccessfully)
        .map(|(k, _)| k)
        .collect();
    let mut recreated: BTreeSet<String> = BTreeSet::new();

    for s in &order {
        let svc = &project.services[s];
        let want = opts.scale.get(s).copied().unwrap_or_else(|| svc.replicas());
        let hash = hashes.get(s).cloned().unwrap_or_default();
        let image = service_image(project, s, svc);
        let desired_image_id = observed.images.get(&image);
        let existing: Vec<&ObservedContainer> = ours.get(s).cloned().unwrap_or_default();
        let (keep, extra) = existing.split_at(existing.len().min(want as usize));

        // what a container creation of this service comes after
        let mut create_after: Vec<usize> = Vec::new();
        for k in svc.networks.keys() {
            if let Some(&i) = net_steps.get(k) {
                create_after.push(i);
            }
        }
        for m in &svc.volumes {
            if let (MountType::Volume, Some(src)) = (m.kind, &m.source) {
                if let Some(&i) = vol_steps.get(src) {
                    create_after.push(i);
                }
            }
        }
        if let Some(&i) = image_steps.get(s) {
            create_after.push(i);
        }
        let mut shared_ns: Vec<String> = svc
            .volumes_from
            .iter()
            .filter_map(|v| crate::compose::model::volumes_from_service(v))
            .collect();
        if let Some(NetworkMode::Service(x)) = &svc.network_mode {
            shared_ns.push(x.clone());
        }
        for x in &shared_ns {
            if let Some(d) = done.get(x) {
                for (_, st) in &d.started {
                    if let Some(i) = st {
                        create_after.push(*i);
                    }
                }
                for (_, cr) in &d.created {
                    if let Some(i) = cr {
                        create_after.push(*i);
                    }
                }
            }
        }

        // dependency conditions a start must wait for; and whether a dependency was recreated
        let mut start_after: Vec<usize> = Vec::new();
        let mut dep_recreated: Option<String> = None;
        let mut restart_for: Option<String> = None;
        for (dep, d) in &svc.depends_on {
            if recreated.contains(dep) {
                if opts.always_recreate_deps {
                    dep_recreated.get_or_insert(dep.clone());
                }
                if d.restart {
                    restart_for.get_or_insert(dep.clone());
                }
            }
        }
        let mut svc_steps = SvcSteps {
            created: vec![],
            started: vec![],
        };
        let mut any_recreated = false;

        let mut needs_start: Vec<(String, Option<usize>)> = Vec::new();
        for c in keep {
            let reason = if opts.no_recreate {
                None
            } else if opts.force_recreate {
                Some("forced recreate".to_string())
            } else if c.config_hash() != Some(hash.as_str()) {
                Some("config changed".to_string())
            } else if desired_image_id.is_some_and(|id| *id != c.image_id) {
                Some("image changed".to_string())
            } else if let Some(x) = shared_ns.iter().find(|x| recreated.contains(*x)) {
                // its network namespace or volumes come from a container that is replaced
                Some(format!("shares namespaces or volumes with recreated {x}"))
            } else if let Some(x) = lost_namespace(svc, c, &ours) {
                // replaced earlier without it (`up --no-deps x`): it holds a dead namespace
                Some(format!("network namespace of {x} was replaced"))
            } else {
                dep_recreated
                    .as_ref()
                    .map(|d| format!("dependency {d} recreated"))
            };
            let name = container_name(project, s, c.number());
            if let Some(reason) = reason {
                any_recreated = true;
                let mut rm_after = Vec::new();
                if c.state.is_running() {
                    rm_after.push(plan.add(
                        Action::StopContainer {
                            service: s.clone(),
                            name: c.name.clone(),
                            id: c.id.clone(),
                            reason,
                        },
                        vec![],
                    ));
                }
                let rm = plan.add(
                    Action::RemoveContainer {
                        service: s.clone(),
                        name: c.name.clone(),
                        id: c.id.clone(),
                    },
                    rm_after,
                );
                let mut after = create_after.clone();
                after.push(rm);
                let cr = plan.add(
                    Action::CreateContainer {
                        service: s.clone(),
                        number: c.number(),
                        name: name.clone(),
                        config_hash: hash.clone(),
                        inherit_volumes_from: (!opts.renew_anon_volumes).then(|| c.id.clone()),
                    },
                    after,
                );
                svc_steps.created.push((name.clone(), Some(cr)));
                needs_start.push((name, Some(cr)));
            } else if let (Some(dep), true) = (&restart_for, c.state.is_running()) {
                let stop = plan.add(
                    Action::StopContainer {
                        service: s.clone(),
                        name: c.name.clone(),
                        id: c.id.clone(),
                        reason: format!("restart: dependency {dep} recreated"),
                    },
                    vec![],
                );
                svc_steps.created.push((c.name.clone(), None));
                needs_start.push((c.name.clone(), Some(stop)));
            } else if c.state == ContainerState::Exited(0) && one_shot.contains(s) {
                // a one-shot service that completed: nothing to do
                svc_steps.created.push((c.name.clone(), None));
                svc_steps.started.push((c.name.clone(), None));
            } else if !c.state.is_running() {
                svc_steps.created.push((c.name.clone(), None));
                needs_start.push((c.name.clone(), None));
            } else {
                svc_steps.created.push((c.name.clone(), None));
                svc_steps.started.push((c.name.clone(), None));
            }
        }
        // scale up: the lowest free numbers
        let used: BTreeSet<u32> = keep.iter().map(|c| c.number()).collect();
        let mut next = 1u32;
        for _ in keep.len()..want as usize {
            while used.contains(&next) || extra.iter().any(|c| c.number() == next) {
                next += 1;
            }
            let name = container_name(project, s, next);
            let cr = plan.add(
                Action::CreateContainer {
                    service: s.clone(),
                    number: next,
                    name: name.clone(),
                    config_hash: hash.clone(),
                    inherit_volumes_from: None,
                },
                create_after.clone(),
            );
            svc_steps.created.push((name.clone(), Some(cr)));
            needs_start.push((name, Some(cr)));
            next += 1;
        }
        // scale down: highest numbers go
        for c in extra.iter().rev() {
            let mut after = Vec::new();
            if c.state.is_running() {
                after.push(plan.add(
                    Action::StopContainer {
                        service: s.clone(),
                        name: c.name.clone(),
                        id: c.id.clone(),
                        reason: format!("scale down to {want}"),
                    },
                    vec![],
                ));
            }
            plan.add(
                Action::RemoveContainer {
                    service: s.clone(),
                    name: c.name.clone(),
                    id: c.id.clone(),
                },
                after,
            );
        }
        if any_recreated {
            recreated.insert(s.clone());
        }

        // starts wait for the dependencies' conditions
        if !opts.no_start && !needs_start.is_empty() {
            for (dep, d) in &svc.depends_on {
                let Some(dd) = done.get(dep) else { continue };
                for (cname, st) in &dd.started {
                    match d.condition {
                        DependsCondition::ServiceStarted => {
                            if let Some(i) = st {
                                start_after.push(*i);
                            }
                        }
                        DependsCondition::ServiceHealthy
                        | DependsCondition::ServiceCompletedSuccessfully => {
                            let condition = if d.condition == DependsCondition::ServiceHealthy {
                                WaitCondition::Healthy
                            } else {
                                WaitCondition::CompletedSuccessfully
                            };
                            let w = plan.add(
                                Action::WaitContainer {
                                    service: dep.clone(),
                                    name: cname.clone(),
                                    condition,
                                },
                                st.iter().copied().collect(),
                            );
                            start_after.push(w);
                        }
                    }
                }
            }
            for (name, pre) in needs_start {
                let mut after = start_after.clone();
                after.extend(pre);
                for x in &shared_ns {
                    if let Some(d) = done.get(x) {
                        after.extend(d.started.iter().filter_map(|(_, i)| *i));
                    }
                }
                let st = plan.add(
                    Action::StartContainer {
                        service: s.clone(),
                        name: name.clone(),
                    },
                    after,
                );
                svc_steps.started.push((name, Some(st)));
            }
        }
        done.insert(s.clone(), svc_steps);
    }

    // orphans
    if !orphans.is_empty() {
        if opts.remove_orphans {
            for c in &orphans {
                let mut after = Vec::new();
                let svc = c.service().unwrap_or_default().to_string();
                if c.state.is_running() {
                    after.push(plan.add(
                        Action::StopContainer {
                            service: svc.clone(),
                            name: c.name.clone(),
                            id: c.id.clone(),
                            reason: "orphan".into(),
                        },
                        vec![],
                    ));
                }
                plan.add(
                    Action::RemoveContainer {
                        service: svc,
                        name: c.name.clone(),
                        id: c.id.clone(),
                    },
                    after,
                );
            }
        } else {
            let mut names: Vec<&str> = orphans.iter().map(|c| c.name.as_str()).collect();
            names.sort();
            plan.warnings.push(format!(
                "found orphan containers ({}) for this project; if you removed or renamed this service in your compose file, run this command with --remove-orphans to clean it up",
                names.join(", ")
            ));
        }
    }
    Ok(plan)
}

/// Options of `down`.
#[derive(Clone, Debug, Default)]
pub struct DownOptions {
    /// `-v`: remove named volumes declared in the project (never external ones).
    pub volumes: bool,
    pub remove_orphans: bool,
}

/// Plan `down`: stop containers in reverse dependency order, remove them, then the project's
/// networks (and volumes with `-v`). External networks and volumes are never removed.
pub fn plan_down(project: &Project, observed: &ObservedState, opts: &DownOptions) -> Result<Plan> {
    let graph = ServiceGraph::build(project)?;
    let mut plan = Plan::default();
    let mut by_service: BTreeMap<String, Vec<&ObservedContainer>> = BTreeMap::new();
    for c in &observed.containers {
        if c.project() != Some(project.name.as_str()) {
            continue;
        }
        let s = c.service().unwrap_or_default().to_string();
        let known = project.services.contains_key(&s) || project.disabled_services.contains_key(&s);
        if !known && !opts.remove_orphans && !c.oneoff() {
            continue;
        }
        by_service.entry(s).or_default().push(c);
    }
    // stops: a service stops after the services that depend on it
    let mut stop_steps: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut removes: Vec<usize> = Vec::new();
    let mut order = graph.stop_order();
    for s in by_service.keys() {
        if !order.contains(s) {
            order.insert(0, s.clone());
        }
    }
    for s in &order {
        let Some(cs) = by_service.get(s) else {
            continue;
        };
        let after: Vec<usize> = graph
            .dependants(s)
            .iter()
            .flat_map(|d| stop_steps.get(d).cloned().unwrap_or_default())
            .collect();
        let mut mine = Vec::new();
        for c in cs {
            let mut rm_after = Vec::new();
            if c.state.is_running() {
                let st = plan.add(
                    Action::StopContainer {
                        service: s.clone(),
                        name: c.name.clone(),
                        id: c.id.clone(),
                        reason: "down".into(),
                    },
                    after.clone(),
                );
                mine.push(st);
                rm_after.push(st);
            }
            removes.push(plan.add(
                Action::RemoveContainer {
                    service: s.clone(),
                    name: c.name.clone(),
                    id: c.id.clone(),
                },
                rm_after,
            ));
        }
        // A service with nothing to stop (its one-shot container exited) still passes the
        // ordering on: what depends on it stops before what it depends on.
        if mine.is_empty() {
            mine = after;
        }
        stop_steps.insert(s.clone(), mine);
    }
    for net in project.networks.values() {
        if !net.external && observed.networks.iter().any(|n| n.name == net.name) {
            plan.add(
                Action::RemoveNetwork {
                    name: net.name.clone(),
                },
                removes.clone(),
            );
        }
    }
    if opts.volumes {
        for vol in project.volumes.values() {
            if !vol.external && observed.volumes.iter().any(|v| v.name == vol.name) {
                plan.add(
                    Action::RemoveVolume {
                        name: vol.name.clone(),
                    },
                    removes.clone(),
                );
            }
        }
    }
    Ok(plan)
}
