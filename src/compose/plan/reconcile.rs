//! Planning `up`: a [`Reconciler`] compares the desired project with what exists, one method per
//! resource kind (as docker compose's `reconcile.go`): networks, volumes, images, then each
//! service's containers in start order (keep, recreate, scale, start after the dependencies'
//! conditions), then orphans.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    container_name, hash, service_image, Action, ContainerState, ObservedContainer, ObservedState,
    Plan, PlanOptions, WaitCondition,
};
use crate::compose::error::{ComposeError, Result};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::{
    DependsCondition, MountType, NetworkMode, Project, PullPolicy, Service,
};

/// The config hashes of every enabled service (reading env_files, secrets and configs).
pub fn project_hashes(project: &Project) -> Result<BTreeMap<String, String>> {
    project
        .services
        .keys()
        .map(|s| Ok((s.clone(), hash::service_hash(project, s)?)))
        .collect()
}

/// Plan `up`, computing the config hashes from disk.
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
    check_scale(project, opts)?;
    let mut r = Reconciler::new(project, hashes, observed, opts);
    r.networks(&selection)?;
    r.volumes(&selection)?;
    let order = graph.start_order_of(&selection);
    for s in &order {
        r.image(s)?;
    }
    for s in &order {
        r.service(s);
    }
    r.orphans();
    Ok(r.plan)
}

fn check_scale(project: &Project, opts: &PlanOptions) -> Result<()> {
    for (svc, n) in &opts.scale {
        let Some(s) = project.services.get(svc) else {
            return Err(ComposeError::NoSuchService {
                service: svc.clone(),
            });
        };
        if *n > 1 && s.container_name.is_some() {
            return Err(ComposeError::Plan(format!(
                "service {svc:?} sets container_name, so it cannot be scaled to {n}: a container name must be unique"
            )));
        }
    }
    Ok(())
}

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

/// The steps planned for one service's containers.
#[derive(Default)]
struct ServiceSteps {
    /// The step that makes each kept/new container exist (create), by container name.
    created: Vec<(String, Option<usize>)>,
    /// Start steps, by container name (None: already running, untouched).
    started: Vec<(String, Option<usize>)>,
}

impl ServiceSteps {
    fn steps(&self) -> impl Iterator<Item = usize> + '_ {
        self.created
            .iter()
            .chain(self.started.iter())
            .filter_map(|(_, i)| *i)
    }
}

/// One service being planned: what its creations and starts come after.
struct ServicePlan<'p> {
    name: &'p str,
    svc: &'p Service,
    hash: String,
    /// What a creation comes after (networks, volumes, image, shared namespaces).
    create_after: Vec<usize>,
    /// Services whose network namespace or volumes this one shares.
    shared: Vec<String>,
    /// A recreated dependency that forces recreation (`--always-recreate-deps`).
    dep_recreated: Option<String>,
    /// A recreated dependency with `restart: true`.
    restart_for: Option<String>,
    steps: ServiceSteps,
    /// Containers to start, with the step a start comes after.
    needs_start: Vec<(String, Option<usize>)>,
    any_recreated: bool,
}

pub struct Reconciler<'p> {
    project: &'p Project,
    hashes: &'p BTreeMap<String, String>,
    observed: &'p ObservedState,
    opts: &'p PlanOptions,
    plan: Plan,
    /// Our containers by service, by number.
    ours: BTreeMap<String, Vec<&'p ObservedContainer>>,
    /// Containers of services the project no longer has.
    orphans: Vec<&'p ObservedContainer>,
    networks: BTreeMap<String, usize>,
    volumes: BTreeMap<String, usize>,
    images: BTreeMap<String, usize>,
    /// Services planned so far (in start order).
    done: BTreeMap<String, ServiceSteps>,
    /// One-shot services (something waits for them to complete): exited 0 means done.
    one_shot: BTreeSet<&'p String>,
    recreated: BTreeSet<String>,
}

impl<'p> Reconciler<'p> {
    fn new(
        project: &'p Project,
        hashes: &'p BTreeMap<String, String>,
        observed: &'p ObservedState,
        opts: &'p PlanOptions,
    ) -> Self {
        let mut ours: BTreeMap<String, Vec<&ObservedContainer>> = BTreeMap::new();
        let mut orphans = Vec::new();
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
        let one_shot = project
            .services
            .values()
            .flat_map(|svc| svc.depends_on.iter())
            .filter(|(_, d)| d.condition == DependsCondition::ServiceCompletedSuccessfully)
            .map(|(k, _)| k)
            .collect();
        Reconciler {
            project,
            hashes,
            observed,
            opts,
            plan: Plan::default(),
            ours,
            orphans,
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            images: BTreeMap::new(),
            done: BTreeMap::new(),
            one_shot,
            recreated: BTreeSet::new(),
        }
    }

    /// Networks the selected services use and that do not exist yet.
    fn networks(&mut self, selection: &BTreeSet<String>) -> Result<()> {
        let used: BTreeSet<&String> = selection
            .iter()
            .flat_map(|s| self.project.services[s].networks.keys())
            .collect();
        for key in used {
            let net = &self.project.networks[key];
            let exists = self.observed.networks.iter().any(|n| n.name == net.name);
            if net.external && !exists {
                return Err(ComposeError::Plan(format!(
                    "network {} declared as external, but could not be found: create it first",
                    net.name
                )));
            }
            if !exists {
                let action = Action::CreateNetwork {
                    key: key.clone(),
                    name: net.name.clone(),
                };
                let id = self.plan.add(action, vec![]);
                self.networks.insert(key.clone(), id);
            }
        }
        Ok(())
    }

    /// Named volumes the selected services mount and that do not exist yet.
    fn volumes(&mut self, selection: &BTreeSet<String>) -> Result<()> {
        let used: BTreeSet<&String> = selection
            .iter()
            .flat_map(|s| self.project.services[s].volumes.iter())
            .filter(|m| m.kind == MountType::Volume)
            .filter_map(|m| m.source.as_ref())
            .collect();
        for key in used {
            let Some(vol) = self.project.volumes.get(key) else {
                continue;
            };
            let exists = self.observed.volumes.iter().any(|v| v.name == vol.name);
            if vol.external && !exists {
                return Err(ComposeError::Plan(format!(
                    "volume {} declared as external, but could not be found: create it first",
                    vol.name
                )));
            }
            if !exists {
                let action = Action::CreateVolume {
                    key: key.clone(),
                    name: vol.name.clone(),
                };
                let id = self.plan.add(action, vec![]);
                self.volumes.insert(key.clone(), id);
            }
        }
        Ok(())
    }

    /// Pull or build the image of service `s` when its pull policy or `--build` says so.
    fn image(&mut self, s: &str) -> Result<()> {
        let (project, opts) = (self.project, self.opts);
        let svc = &project.services[s];
        let image = service_image(project, s, svc);
        let present = self.observed.images.contains_key(&image);
        let policy = opts.pull.or(svc.pull_policy).unwrap_or(PullPolicy::Missing);
        let buildable = svc.build.is_some() && !opts.no_build;
        let build = || Action::BuildImage {
            service: s.to_string(),
            image: image.clone(),
        };
        let pull = || Action::PullImage {
            image: image.clone(),
        };
        let step = if buildable
            && (opts.build || policy == PullPolicy::Build || (!present && svc.image.is_none()))
        {
            Some(build())
        } else {
            match policy {
                PullPolicy::Always => Some(pull()),
                PullPolicy::Missing if !present && buildable => Some(build()),
                PullPolicy::Missing if !present => Some(pull()),
                PullPolicy::Never | PullPolicy::Build if !present => {
                    return Err(ComposeError::Plan(format!(
                        "service {s:?}: image {image} is not present and its pull policy forbids pulling it"
                    )))
                }
                _ => None,
            }
        };
        if let Some(a) = step {
            let id = self.plan.add(a, vec![]);
            self.images.insert(s.to_string(), id);
        }
        Ok(())
    }

    /// Plan one service's containers; its dependencies are planned already.
    fn service(&mut self, s: &'p str) {
        let mut sp = self.service_plan(s);
        let want = self
            .opts
            .scale
            .get(s)
            .copied()
            .unwrap_or_else(|| sp.svc.replicas()) as usize;
        let existing: Vec<&ObservedContainer> = self.ours.get(s).cloned().unwrap_or_default();
        let (keep, extra) = existing.split_at(existing.len().min(want));
        for c in keep {
            self.converge(&mut sp, c);
        }
        self.scale_up(&mut sp, keep, extra, want);
        for c in extra.iter().rev() {
            self.remove(s, c, format!("scale down to {want}"));
        }
        if sp.any_recreated {
            self.recreated.insert(s.to_string());
        }
        if !self.opts.no_start && !sp.needs_start.is_empty() {
            self.starts(&mut sp);
        }
        self.done.insert(s.to_string(), sp.steps);
    }

    /// What the creations and starts of service `s` come after.
    fn service_plan(&self, s: &'p str) -> ServicePlan<'p> {
        let svc = &self.project.services[s];
        let mut create_after: Vec<usize> = svc
            .networks
            .keys()
            .filter_map(|k| self.networks.get(k).copied())
            .collect();
        for m in &svc.volumes {
            if let (MountType::Volume, Some(src)) = (m.kind, &m.source) {
                create_after.extend(self.volumes.get(src).copied());
            }
        }
        create_after.extend(self.images.get(s).copied());
        let mut shared: Vec<String> = svc
            .volumes_from
            .iter()
            .filter_map(|v| crate::compose::model::volumes_from_service(v))
            .collect();
        if let Some(NetworkMode::Service(x)) = &svc.network_mode {
            shared.push(x.clone());
        }
        for x in &shared {
            if let Some(d) = self.done.get(x) {
                create_after.extend(d.steps());
            }
        }
        let mut dep_recreated = None;
        let mut restart_for = None;
        for (dep, d) in &svc.depends_on {
            if self.recreated.contains(dep) {
                if self.opts.always_recreate_deps {
                    dep_recreated.get_or_insert(dep.clone());
                }
                if d.restart {
                    restart_for.get_or_insert(dep.clone());
                }
            }
        }
        ServicePlan {
            name: s,
            svc,
            hash: self.hashes.get(s).cloned().unwrap_or_default(),
            create_after,
            shared,
            dep_recreated,
            restart_for,
            steps: ServiceSteps::default(),
            needs_start: Vec::new(),
            any_recreated: false,
        }
    }

    /// Why an existing container must be replaced, if it must.
    fn recreate_reason(&self, sp: &ServicePlan, c: &ObservedContainer) -> Option<String> {
        let image = service_image(self.project, sp.name, sp.svc);
        let desired_image_id = self.observed.images.get(&image);
        if self.opts.no_recreate {
            None
        } else if self.opts.force_recreate {
            Some("forced recreate".to_string())
        } else if c.config_hash() != Some(sp.hash.as_str()) {
            Some("config changed".to_string())
        } else if desired_image_id.is_some_and(|id| *id != c.image_id) {
            Some("image changed".to_string())
        } else if let Some(x) = sp.shared.iter().find(|x| self.recreated.contains(*x)) {
            // its network namespace or volumes come from a container that is replaced
            Some(format!("shares namespaces or volumes with recreated {x}"))
        } else if let Some(x) = lost_namespace(sp.svc, c, &self.ours) {
            // replaced earlier without it (`up --no-deps x`): it holds a dead namespace
            Some(format!("network namespace of {x} was replaced"))
        } else {
            sp.dep_recreated
                .as_ref()
                .map(|d| format!("dependency {d} recreated"))
        }
    }

    /// Keep, restart or recreate one existing container.
    fn converge(&mut self, sp: &mut ServicePlan, c: &ObservedContainer) {
        let name = container_name(self.project, sp.name, c.number());
        let s = sp.name.to_string();
        if let Some(reason) = self.recreate_reason(sp, c) {
            sp.any_recreated = true;
            let rm = self.remove(&s, c, reason);
            let mut after = sp.create_after.clone();
            after.push(rm);
            let create = Action::CreateContainer {
                service: s,
                number: c.number(),
                name: name.clone(),
                config_hash: sp.hash.clone(),
                inherit_volumes_from: (!self.opts.renew_anon_volumes).then(|| c.id.clone()),
            };
            let cr = self.plan.add(create, after);
            sp.steps.created.push((name.clone(), Some(cr)));
            sp.needs_start.push((name, Some(cr)));
            return;
        }
        sp.steps.created.push((c.name.clone(), None));
        if let (Some(dep), true) = (&sp.restart_for, c.state.is_running()) {
            let stop = self.stop(&s, c, format!("restart: dependency {dep} recreated"));
            sp.needs_start.push((c.name.clone(), Some(stop)));
        } else if c.state == ContainerState::Exited(0) && self.one_shot.contains(&s) {
            // a one-shot service that completed: nothing to do
            sp.steps.started.push((c.name.clone(), None));
        } else if !c.state.is_running() {
            sp.needs_start.push((c.name.clone(), None));
        } else {
            sp.steps.started.push((c.name.clone(), None));
        }
    }

    /// New containers up to `want`, with the lowest free numbers.
    fn scale_up(
        &mut self,
        sp: &mut ServicePlan,
        keep: &[&ObservedContainer],
        extra: &[&ObservedContainer],
        want: usize,
    ) {
        let used: BTreeSet<u32> = keep.iter().chain(extra).map(|c| c.number()).collect();
        let mut next = 1u32;
        for _ in keep.len()..want {
            while used.contains(&next) {
                next += 1;
            }
            let name = container_name(self.project, sp.name, next);
            let create = Action::CreateContainer {
                service: sp.name.to_string(),
                number: next,
                name: name.clone(),
                config_hash: sp.hash.clone(),
                inherit_volumes_from: None,
            };
            let cr = self.plan.add(create, sp.create_after.clone());
            sp.steps.created.push((name.clone(), Some(cr)));
            sp.needs_start.push((name, Some(cr)));
            next += 1;
        }
    }

    /// Starts of the service's containers, after the dependencies' conditions and the
    /// services whose namespaces they share.
    fn starts(&mut self, sp: &mut ServicePlan) {
        let mut start_after: Vec<usize> = Vec::new();
        for (dep, d) in &sp.svc.depends_on {
            let Some(dd) = self.done.get(dep) else {
                continue;
            };
            let condition = match d.condition {
                DependsCondition::ServiceStarted => {
                    start_after.extend(dd.started.iter().filter_map(|(_, i)| *i));
                    continue;
                }
                DependsCondition::ServiceHealthy => WaitCondition::Healthy,
                DependsCondition::ServiceCompletedSuccessfully => {
                    WaitCondition::CompletedSuccessfully
                }
            };
            let waits: Vec<(Action, Vec<usize>)> = dd
                .started
                .iter()
                .map(|(cname, st)| {
                    let wait = Action::WaitContainer {
                        service: dep.clone(),
                        name: cname.clone(),
                        condition,
                    };
                    (wait, st.iter().copied().collect())
                })
                .collect();
            for (wait, after) in waits {
                start_after.push(self.plan.add(wait, after));
            }
        }
        for (name, pre) in std::mem::take(&mut sp.needs_start) {
            let mut after = start_after.clone();
            after.extend(pre);
            for x in &sp.shared {
                if let Some(d) = self.done.get(x) {
                    after.extend(d.started.iter().filter_map(|(_, i)| *i));
                }
            }
            let start = Action::StartContainer {
                service: sp.name.to_string(),
                name: name.clone(),
            };
            let st = self.plan.add(start, after);
            sp.steps.started.push((name, Some(st)));
        }
    }

    /// A stop step for a running container.
    fn stop(&mut self, service: &str, c: &ObservedContainer, reason: String) -> usize {
        let stop = Action::StopContainer {
            service: service.to_string(),
            name: c.name.clone(),
            id: c.id.clone(),
            reason,
        };
        self.plan.add(stop, vec![])
    }

    /// Stop (if running) and remove a container; the remove step.
    fn remove(&mut self, service: &str, c: &ObservedContainer, reason: String) -> usize {
        let after = if c.state.is_running() {
            vec![self.stop(service, c, reason)]
        } else {
            vec![]
        };
        let remove = Action::RemoveContainer {
            service: service.to_string(),
            name: c.name.clone(),
            id: c.id.clone(),
        };
        self.plan.add(remove, after)
    }

    /// Containers of removed services: removed with `--remove-orphans`, else a warning.
    fn orphans(&mut self) {
        if self.orphans.is_empty() {
            return;
        }
        if self.opts.remove_orphans {
            for c in std::mem::take(&mut self.orphans) {
                let svc = c.service().unwrap_or_default().to_string();
                self.remove(&svc, c, "orphan".into());
            }
            return;
        }
        let mut names: Vec<&str> = self.orphans.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        self.plan.warnings.push(format!(
            "found orphan containers ({}) for this project; if you removed or renamed this service in your compose file, run this command with --remove-orphans to clean it up",
            names.join(", ")
        ));
    }
}
