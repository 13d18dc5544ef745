//! start, stop, restart, kill, rm, pause and unpause of a project's existing containers. `start`
//! and `stop` are plans (dependency order, conditions honoured); the others act on every
//! container at once through one fan-out ([`Compose::each_container`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

use super::{
    failures, id_of, is_running, label_of, name_of, one_shot_services, Compose, Error, Interrupt,
};
use super::{Interrupts, Result};
use crate::api::client::ClientError;
use crate::api::models::ContainerSummary;
use crate::compose::exec::progress::{Event, Kind, State};
use crate::compose::exec::{sub_plan, ExecOptions};
use crate::compose::graph::ServiceGraph;
use crate::compose::load::env::Environment;
use crate::compose::model::{DependsCondition, Project};
use crate::compose::plan::{
    labels, plan_down, Action, ContainerState, DownOptions, Plan, Step, WaitCondition,
};

/// What a per-container operation is called in progress lines and errors.
pub struct Verb {
    /// `Killing`
    pub working: &'static str,
    /// `Killed`
    pub done: &'static str,
    /// `kill` (in "cannot kill web-1: ...")
    pub name: &'static str,
}

pub const KILL: Verb = Verb {
    working: "Killing",
    done: "Killed",
    name: "kill",
};
pub const REMOVE: Verb = Verb {
    working: "Removing",
    done: "Removed",
    name: "remove",
};
pub const RESTART: Verb = Verb {
    working: "Restarting",
    done: "Started",
    name: "restart",
};
pub const PAUSE: Verb = Verb {
    working: "Pausing",
    done: "Paused",
    name: "pause",
};
pub const UNPAUSE: Verb = Verb {
    working: "Unpausing",
    done: "Unpaused",
    name: "unpause",
};

/// Keep only a plan's stop steps for the given services (for `stop` and Ctrl-C).
pub fn stops_only(plan: Plan, services: Option<&BTreeSet<String>>) -> Plan {
    sub_plan(&plan, |a| match a {
        Action::StopContainer { service, .. } => services.is_none_or(|x| x.contains(service)),
        _ => false,
    })
}

impl Compose {
    /// Run `op` on every container of `list` at once, one progress line each; every failure
    /// is reported, none stops the others.
    pub async fn each_container<F, Fut>(
        &self,
        list: &[ContainerSummary],
        verb: &Verb,
        op: F,
    ) -> Result<()>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<(), ClientError>>,
    {
        let jobs = list.iter().map(|c| {
            let name = name_of(c);
            let run = op(id_of(c).to_string());
            async move {
                let event = |state, status| Event::new(Kind::Container, &name, state, status);
                self.progress.event(event(State::Working, verb.working));
                match run.await {
                    Ok(()) => {
                        self.progress.event(event(State::Done, verb.done));
                        Ok(())
                    }
                    Err(e) => Err(format!("cannot {} {name}: {e}", verb.name)),
                }
            }
        });
        let results = futures_util::future::join_all(jobs).await;
        failures(results.into_iter().filter_map(Result::err).collect())
    }

    /// The plan that starts existing containers of `services` (all when empty) in dependency
    /// order, waiting for the dependencies' conditions.
    pub async fn plan_start(&self, project: &Project, services: &[String]) -> Result<Plan> {
        let graph = ServiceGraph::build(project)?;
        let selection = graph.select(services, false)?;
        let observed = self.observe(project).await?;
        let mut plan = Plan::default();
        let mut started: HashMap<String, Vec<(String, Option<usize>)>> = HashMap::new();
        let one_shot = one_shot_services(project);
        for s in graph.start_order_of(&selection) {
            let svc = &project.services[&s];
            let cs: Vec<_> = observed
                .state
                .containers
                .iter()
                .filter(|c| !c.oneoff() && c.service() == Some(s.as_str()))
                .collect();
            if cs.is_empty() {
                return Err(Error::Usage(format!(
                    "service {s:?} has no container to start"
                )));
            }
            let mut after = Vec::new();
            for (dep, d) in &svc.depends_on {
                for (name, step) in started.get(dep).cloned().unwrap_or_default() {
                    let condition = match d.condition {
                        DependsCondition::ServiceStarted => {
                            after.extend(step);
                            continue;
                        }
                        DependsCondition::ServiceHealthy => WaitCondition::Healthy,
                        DependsCondition::ServiceCompletedSuccessfully => {
                            WaitCondition::CompletedSuccessfully
                        }
                    };
                    plan.steps.push(Step {
                        action: Action::WaitContainer {
                            service: dep.clone(),
                            name,
                            condition,
                        },
                        after: step.into_iter().collect(),
                    });
                    after.push(plan.steps.len() - 1);
                }
            }
            let mut mine = Vec::new();
            for c in cs {
                let done = c.state.is_running()
                    || (one_shot.contains(&s) && c.state == ContainerState::Exited(0));
                if done {
                    mine.push((c.name.clone(), None));
                } else {
                    plan.steps.push(Step {
                        action: Action::StartContainer {
                            service: s.clone(),
                            name: c.name.clone(),
                        },
                        after: after.clone(),
                    });
                    mine.push((c.name.clone(), Some(plan.steps.len() - 1)));
                }
            }
            started.insert(s.clone(), mine);
        }
        Ok(plan)
    }

    /// `start`: execute [`Compose::plan_start`].
    pub async fn start(
        &self,
        project: &Arc<Project>,
        environment: Option<Environment>,
        services: &[String],
    ) -> Result<()> {
        let plan = self.plan_start(project, services).await?;
        let observed = self.observe(project).await?;
        let ex = self.executor(project, environment, &observed, ExecOptions::default());
        Ok(ex.execute(&plan).await?)
    }

    /// The plan that stops the containers of `services` (all when `None`) in reverse
    /// dependency order.
    pub async fn plan_stop(
        &self,
        project: &Project,
        services: Option<&BTreeSet<String>>,
    ) -> Result<Plan> {
        let observed = self.observe(project).await?;
        let down = plan_down(project, &observed.state, &DownOptions::default())?;
        Ok(stops_only(down, services))
    }

    /// Stop the project's containers (of `services`) in reverse dependency order; an
    /// interrupt meanwhile kills them instead and gives [`Error::Interrupted`].
    pub async fn stop(
        &self,
        project: &Arc<Project>,
        services: Option<&BTreeSet<String>>,
        timeout: Option<i64>,
        interrupts: &mut Interrupts,
    ) -> Result<()> {
        let stops = self.plan_stop(project, services).await?;
        let observed = self.observe(project).await?;
        let ex = self.executor(
            project,
            None,
            &observed,
            ExecOptions {
                keep_going: true,
                stop_timeout: timeout,
                ..Default::default()
            },
        );
        tokio::select! {
            r = ex.execute(&stops) => Ok(r?),
            Some(Interrupt::Interrupt) = interrupts.recv() => {
                self.progress.notice("Killing...");
                let list = self.containers(&project.name, &[], false, true).await?;
                let kills = list.iter().map(|c| self.engine.kill_container(id_of(c), None));
                futures_util::future::join_all(kills).await;
                Err(Error::Interrupted(super::ExitStatus::INTERRUPTED))
            }
        }
    }

    /// Restart the containers of `services`, service by service in dependency order.
    pub async fn restart(
        &self,
        project: &Project,
        services: &[String],
        timeout: Option<i64>,
    ) -> Result<()> {
        let order: Vec<String> = ServiceGraph::build(project)
            .map(|g| g.start_order())
            .unwrap_or_default();
        let list = self
            .containers(&project.name, services, true, false)
            .await?;
        let mut by_service: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
        for c in list {
            by_service
                .entry(label_of(&c, labels::SERVICE))
                .or_default()
                .push(c);
        }
        let mut ordered: Vec<String> = order
            .into_iter()
            .filter(|s| by_service.contains_key(s))
            .collect();
        let rest: Vec<String> = by_service
            .keys()
            .filter(|s| !ordered.contains(s))
            .cloned()
            .collect();
        ordered.extend(rest);
        for s in ordered {
            self.each_container(&by_service[&s], &RESTART, |id| async move {
                self.engine.restart_container(&id, timeout).await
            })
            .await
            .map_err(|e| prefix_service(e, &s))?;
        }
        Ok(())
    }

    /// Send `signal` to the running containers of `services`.
    pub async fn kill(&self, project: &Project, services: &[String], signal: &str) -> Result<()> {
        let list = self
            .containers(&project.name, services, false, false)
            .await?;
        self.each_container(&list, &KILL, |id| async move {
            self.engine.kill_container(&id, Some(signal)).await
        })
        .await
    }

    /// The stopped containers of `services` (what `rm` removes).
    pub async fn stopped(
        &self,
        project: &Project,
        services: &[String],
    ) -> Result<Vec<ContainerSummary>> {
        let list = self
            .containers(&project.name, services, true, false)
            .await?;
        Ok(list.into_iter().filter(|c| !is_running(c)).collect())
    }

    /// Remove `list` (from [`Compose::stopped`]), with their anonymous volumes if `volumes`.
    pub async fn rm(&self, list: &[ContainerSummary], volumes: bool) -> Result<()> {
        self.each_container(list, &REMOVE, |id| async move {
            self.engine.remove_container(&id, true, volumes).await
        })
        .await
    }

    /// Pause (or unpause) the running containers of `services`.
    pub async fn pause(&self, project: &Project, services: &[String], pause: bool) -> Result<()> {
        let list = self
            .containers(&project.name, services, false, false)
            .await?;
        let verb = if pause { &PAUSE } else { &UNPAUSE };
        self.each_container(&list, verb, |id| async move {
            if pause {
                self.engine.pause_container(&id).await
            } else {
                self.engine.unpause_container(&id).await
            }
        })
        .await
    }
}

fn prefix_service(e: Error, service: &str) -> Error {
    match e {
        Error::Failed(lines) => Error::Failed(
            lines
                .into_iter()
                .map(|l| format!("service {service:?}: {l}"))
                .collect(),
        ),
        e => e,
    }
}
