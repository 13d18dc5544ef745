//! Observed state: what the engine has for a project (containers, networks and volumes with
//! its `com.docker.compose.project` label, and the images its services use).

use std::collections::{BTreeMap, HashMap};

use crate::api::client::ClientError;
use crate::api::models::ContainerSummaryStateEnum;
use crate::compose::engine::ComposeEngine;
use crate::compose::model::Project;
use crate::compose::plan::{
    labels, service_image, ContainerState, ObservedContainer, ObservedResource, ObservedState,
};

/// The observed state plus what the planner does not model.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub state: ObservedState,
    /// Whether the engine has Docker's `/networks` endpoints (bridge networking).
    pub networking: bool,
}

fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    let mut f = HashMap::new();
    f.insert(
        "label".into(),
        vec![format!("{}={project}", labels::PROJECT)],
    );
    f
}

/// Map a container summary's state.
pub fn summary_state(state: Option<ContainerSummaryStateEnum>, status: &str) -> ContainerState {
    match state {
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        Some(ContainerSummaryStateEnum::EXITED) => {
            // "Exited (3) 2 seconds ago"
            let code = status
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .and_then(|(c, _)| c.trim().parse().ok())
                .unwrap_or(0);
            ContainerState::Exited(code)
        }
        _ => ContainerState::Created,
    }
}

/// The project's containers (one-off ones included).
pub async fn containers(
    engine: &dyn ComposeEngine,
    project: &str,
) -> Result<Vec<ObservedContainer>, ClientError> {
    let list = engine
        .list_containers(true, &project_filter(project))
        .await?;
    let mut out: Vec<ObservedContainer> = list
        .into_iter()
        .map(|c| {
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default();
            ObservedContainer {
                id: c.id.clone().unwrap_or_default(),
                name,
                labels: c.labels.clone().unwrap_or_default().into_iter().collect(),
                image_id: c.image_id.clone().unwrap_or_default(),
                state: summary_state(c.state, c.status.as_deref().unwrap_or_default()),
                network_mode: c.host_config.as_ref().and_then(|h| h.network_mode.clone()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Observe everything the planner needs.
pub async fn observe(
    engine: &dyn ComposeEngine,
    project: &Project,
) -> Result<Observed, ClientError> {
    let filter = project_filter(&project.name);
    let images_wanted: Vec<String> = {
        let mut v: Vec<String> = project
            .services
            .iter()
            .map(|(n, s)| service_image(project, n, s))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let (containers, networks, volumes, images) = tokio::join!(
        containers(engine, &project.name),
        engine.list_networks(&filter),
        engine.list_volumes(&filter),
        futures_util::future::join_all(images_wanted.iter().map(|i| engine.inspect_image(i))),
    );
    let containers = containers?;
    let (networks, networking) = match networks {
        Ok(n) => (n, true),
        Err(e) if e.is_not_found() => (Vec::new(), false),
        Err(e) => return Err(e),
    };
    // also the declared networks and volumes that exist without our labels (external, or
    // made by another tool): the planner must not create them again
    let mut nets: Vec<ObservedResource> = networks
        .into_iter()
        .map(|n| ObservedResource {
            name: n.name.unwrap_or_default(),
            labels: n.labels.unwrap_or_default().into_iter().collect(),
        })
        .collect();
    if networking {
        for n in project.networks.values() {
            if !nets.iter().any(|x| x.name == n.name) {
                if let Ok(found) = engine.inspect_network(&n.name).await {
                    if found.name.as_deref() == Some(n.name.as_str()) {
                        nets.push(ObservedResource {
                            name: n.name.clone(),
                            labels: found.labels.unwrap_or_default().into_iter().collect(),
                        });
                    }
                }
            }
        }
    }
    if !networking {
        // No `/networks` on this engine: containers get the default network. Treat the
        // project's networks as present so that nothing plans to create (or requires) them.
        for n in project.networks.values() {
            nets.push(ObservedResource {
                name: n.name.clone(),
                labels: BTreeMap::new(),
            });
        }
    }
    let mut vols: Vec<ObservedResource> = volumes?
        .into_iter()
        .map(|v| ObservedResource {
            name: v.name,
            labels: v.labels.into_iter().collect(),
        })
        .collect();
    for v in project.volumes.values() {
        if !vols.iter().any(|x| x.name == v.name) {
            if let Ok(found) = engine.inspect_volume(&v.name).await {
                vols.push(ObservedResource {
                    name: v.name.clone(),
                    labels: found.labels.into_iter().collect(),
                });
            }
        }
    }
    let mut imgs = BTreeMap::new();
    for (name, r) in images_wanted.iter().zip(images) {
        match r {
            Ok(i) => {
                if let Some(id) = i.id {
                    imgs.insert(name.clone(), id);
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Observed {
        state: ObservedState {
            containers,
            networks: nets,
            volumes: vols,
            images: imgs,
        },
        networking,
    })
}
