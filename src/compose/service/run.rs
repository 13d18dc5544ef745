//! `run`: a one-off container of a service, created after the service's own networks, volumes
//! and image and its dependencies (their conditions honoured). Attaching a terminal to it is
//! the caller's part: this returns the created container.

use std::collections::HashMap;
use std::sync::Arc;

use super::{id_of, Compose, Error, Result};
use crate::api::models::ContainerCreateBody;
use crate::compose::exec::container::{self, BuildInputs};
use crate::compose::exec::{sub_plan, ExecOptions, Executor, Observed, WaitFor};
use crate::compose::graph::ServiceGraph;
use crate::compose::load::env::Environment;
use crate::compose::model::{DependsCondition, NetworkMode, Project};
use crate::compose::plan::{self, Action, PlanOptions};

/// How the one-off container differs from the service's own.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    pub service: String,
    pub name: Option<String>,
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    /// `KEY=VALUE`, or `KEY` to take the caller's value.
    pub env: Vec<String>,
    pub labels: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub publish: Vec<String>,
    pub volumes: Vec<String>,
    pub service_ports: bool,
    pub use_aliases: bool,
    pub no_deps: bool,
    pub remove_orphans: bool,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
}

/// The one-off container, created and not yet started.
pub struct OneOff {
    pub id: String,
    pub name: String,
}

fn random_slug() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..12)
        .map(|_| format!("{:x}", r.gen_range(0..16u8)))
        .collect()
}

impl RunRequest {
    /// Apply the overrides to the service's create body.
    fn customise(
        &self,
        project: &Project,
        name: &str,
        body: &mut ContainerCreateBody,
    ) -> Result<()> {
        if !self.command.is_empty() {
            body.cmd = Some(self.command.clone());
        }
        if let Some(e) = &self.entrypoint {
            let words = shell_words::split(e)
                .map_err(|err| Error::Usage(format!("invalid --entrypoint {e:?}: {err}")))?;
            body.entrypoint = Some(words);
            if self.command.is_empty() {
                body.cmd = None;
            }
        }
        let env = body.env.get_or_insert_with(Vec::new);
        for e in &self.env {
            if e.contains('=') {
                env.push(e.clone());
            } else if let Ok(v) = std::env::var(e) {
                env.push(format!("{e}={v}"));
            }
        }
        if let Some(u) = &self.user {
            body.user = Some(u.clone());
        }
        if let Some(w) = &self.workdir {
            body.working_dir = Some(w.clone());
        }
        let labels_map = body.labels.get_or_insert_with(HashMap::new);
        labels_map.insert("com.docker.compose.slug".to_string(), name.to_string());
        for l in &self.labels {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            labels_map.insert(k.to_string(), v.to_string());
        }
        let attached = !self.detach;
        body.tty = Some(self.tty);
        body.open_stdin = Some(self.interactive && attached);
        body.attach_stdin = Some(self.interactive && attached);
        body.stdin_once = Some(self.interactive && attached);
        body.attach_stdout = Some(attached);
        body.attach_stderr = Some(attached);
        let host = body.host_config.get_or_insert_with(Default::default);
        host.restart_policy = None;
        if !self.service_ports {
            host.port_bindings = None;
        }
        if !self.publish.is_empty() {
            let mut bindings = host.port_bindings.take().unwrap_or_default();
            let exposed = body.exposed_ports.get_or_insert_with(HashMap::new);
            for p in &self.publish {
                let keys = crate::docker::port::add_bindings(p, &mut bindings)
                    .map_err(|e| Error::Usage(format!("invalid --publish: {e}")))?;
                exposed.extend(keys.into_iter().map(|k| (k, HashMap::new())));
            }
            host.port_bindings = Some(bindings);
        }
        if !self.volumes.is_empty() {
            host.binds = Some(self.volumes.iter().map(|v| bind_of(project, v)).collect());
        }
        if !self.use_aliases {
            if let Some(nc) = body.networking_config.as_mut() {
                for ep in nc.endpoints_config.iter_mut().flat_map(|m| m.values_mut()) {
                    ep.aliases = None;
                }
            }
        }
        Ok(())
    }
}

/// A `-v` of `run`: relative host paths are relative to the project directory, named volumes
/// of the project get their engine-side names.
fn bind_of(project: &Project, v: &str) -> String {
    let (src, rest) = v.split_once(':').unwrap_or(("", v));
    if src.is_empty() {
        return v.to_string();
    }
    let src = if src.starts_with('.') || (!src.starts_with('/') && src.contains('/')) {
        project.working_dir.join(src).display().to_string()
    } else if let Some(home) = src.strip_prefix("~/") {
        format!("{}/{home}", std::env::var("HOME").unwrap_or_default())
    } else if !src.starts_with('/') && project.volumes.contains_key(src) {
        plan::volume_name(project, src)
    } else {
        src.to_string()
    };
    format!("{src}:{rest}")
}

impl Compose {
    /// The plans `run` executes before its container: the service's own networks, volumes
    /// and image, then (unless `no_deps`) its dependencies.
    pub async fn plan_run(
        &self,
        project: &Project,
        req: &RunRequest,
    ) -> Result<(Observed, RunPlans)> {
        let observed = self.observe(project).await?;
        let own = plan::plan_up(
            project,
            &observed.state,
            &PlanOptions {
                services: vec![req.service.clone()],
                no_deps: true,
                no_start: true,
                ..Default::default()
            },
        )?;
        let own = sub_plan(&own, |x| {
            matches!(
                x,
                Action::CreateNetwork { .. }
                    | Action::CreateVolume { .. }
                    | Action::PullImage { .. }
                    | Action::BuildImage { .. }
            )
        });
        let deps = ServiceGraph::build(project)?.dependencies(&req.service);
        let deps = if req.no_deps || deps.is_empty() {
            None
        } else {
            Some(plan::plan_up(
                project,
                &observed.state,
                &PlanOptions {
                    services: deps,
                    remove_orphans: req.remove_orphans,
                    ..Default::default()
                },
            )?)
        };
        Ok((observed, RunPlans { own, deps }))
    }

    /// Bring up what the one-off container needs, then create it.
    pub async fn run(
        &self,
        project: &Arc<Project>,
        environment: Environment,
        req: &RunRequest,
    ) -> Result<OneOff> {
        let svc = project
            .services
            .get(&req.service)
            .cloned()
            .ok_or_else(|| Error::Usage(format!("no such service: {}", req.service)))?;
        let (observed, plans) = self.plan_run(project, req).await?;
        let executor = self.executor(
            project,
            Some(environment.clone()),
            &observed,
            ExecOptions::default(),
        );
        executor.execute(&plans.own).await?;
        if let Some(deps) = &plans.deps {
            executor.execute(deps).await?;
            self.wait_dependencies(project, &svc.depends_on, &executor)
                .await?;
        }
        let name = req
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}-run-{}", project.name, req.service, random_slug()));
        let hash = plan::hash::service_hash(project, &req.service)?;
        let image = plan::service_image(project, &req.service, &svc);
        let inputs = BuildInputs {
            service: &req.service,
            number: 1,
            name: &name,
            config_hash: &hash,
            oneoff: true,
            image_id: observed.state.images.get(&image).map(String::as_str),
            networking: observed.networking,
            network_container: match &svc.network_mode {
                Some(NetworkMode::Service(x)) => Some(plan::container_name(project, x, 1)),
                _ => None,
            },
            environment: Some(&environment),
            ..Default::default()
        };
        let mut built = container::build(project, &inputs).map_err(Error::Usage)?;
        for w in &built.warnings {
            self.progress.warning(w);
        }
        req.customise(project, &name, &mut built.body)?;
        let created = self
            .engine
            .create_container(Some(&name), &built.body)
            .await
            .map_err(|e| {
                Error::Failed(vec![format!(
                    "service {:?}: cannot create {name}: {e}",
                    req.service
                )])
            })?;
        if !built.files.is_empty() {
            let tar = container::files_tar(&built.files)?;
            self.engine.put_archive(&created.id, "/", tar).await?;
        }
        Ok(OneOff {
            id: created.id,
            name,
        })
    }

    /// Wait for the conditions of the service's dependencies.
    async fn wait_dependencies(
        &self,
        project: &Project,
        depends_on: &std::collections::BTreeMap<String, crate::compose::model::DependsOn>,
        executor: &Executor,
    ) -> Result<()> {
        let hub = executor.hub().await?;
        for (dep, d) in depends_on {
            let want = match d.condition {
                DependsCondition::ServiceStarted => continue,
                DependsCondition::ServiceHealthy => WaitFor::Healthy,
                DependsCondition::ServiceCompletedSuccessfully => WaitFor::CompletedSuccessfully,
            };
            let list = self
                .containers(&project.name, std::slice::from_ref(dep), true, false)
                .await?;
            for c in list {
                let name = super::name_of(&c);
                hub.wait(&*self.engine, id_of(&c), want, executor.cancel_receiver())
                    .await
                    .map_err(|e| {
                        Error::Failed(vec![format!(
                            "dependency failed to start: container {name} (service {dep:?}) {e}"
                        )])
                    })?;
            }
        }
        Ok(())
    }
}

/// The two plans of `run`.
pub struct RunPlans {
    /// The service's own networks, volumes and image.
    pub own: plan::Plan,
    /// Its dependencies, brought up.
    pub deps: Option<plan::Plan>,
}

impl RunPlans {
    /// The plans as text, then the one-off container (`--dry-run`).
    pub fn render(&self, service: &str) -> String {
        let mut s = self.own.render();
        if let Some(d) = &self.deps {
            s.push_str(&d.render());
        }
        s.push_str(&format!(
            "create container (one-off) of service {service}\n"
        ));
        s
    }
}
