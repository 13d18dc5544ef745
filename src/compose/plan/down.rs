//! Planning `down`: stop in reverse dependency order, remove, then networks and volumes.

use std::collections::BTreeMap;

use super::{Action, ObservedContainer, ObservedState, Plan};
use crate::compose::error::Result;
use crate::compose::graph::ServiceGraph;
use crate::compose::model::Project;

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
