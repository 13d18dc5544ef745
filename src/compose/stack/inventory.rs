//! What `stack ls`, `stack services` and `stack ps` show, read from the swarm by the stack
//! label: typed rows the CLI prints as docker's tables.

use std::collections::{BTreeMap, HashMap};

use super::wait::{service_state, task_name};
use super::{api, Namespace, StackError, LABEL_NAMESPACE};
use crate::api::client::swarm::Filters;
use crate::api::client::Client;
use crate::api::models::{EndpointPortConfig, Service, Task};

/// A stack and how many services it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    pub name: String,
    pub services: usize,
}

pub async fn stacks(client: &Client) -> Result<Vec<StackRow>, StackError> {
    let services = client
        .list_services(&Filters::from([(
            "label".to_string(),
            vec![LABEL_NAMESPACE.to_string()],
        )]))
        .await
        .map_err(api("listing services"))?;
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for s in &services {
        if let Some(ns) = s
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(LABEL_NAMESPACE))
        {
            *count.entry(ns.clone()).or_default() += 1;
        }
    }
    Ok(count
        .into_iter()
        .map(|(name, services)| StackRow { name, services })
        .collect())
}

/// A service of a stack, as `stack services` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    /// `replicated`, `global`, `replicated job`, `global job`.
    pub mode: String,
    /// `2/2`; for a job `0/1 (1/1 completed)`.
    pub replicas: String,
    pub image: String,
    /// `*:8080->80/tcp`, comma-separated.
    pub ports: String,
}

pub async fn services(client: &Client, ns: &Namespace) -> Result<Vec<ServiceRow>, StackError> {
    let services = client
        .list_services(&ns.filter())
        .await
        .map_err(api("listing the stack's services"))?;
    let tasks = client
        .list_tasks(&ns.filter())
        .await
        .map_err(api("listing the stack's tasks"))?;
    let mut rows: Vec<ServiceRow> = services
        .iter()
        .map(|s| {
            let id = s.id.clone().unwrap_or_default();
            let mine: Vec<&Task> = tasks
                .iter()
                .filter(|t| t.service_id.as_deref() == Some(&id))
                .collect();
            service_row(s, &mine)
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

fn service_row(s: &Service, tasks: &[&Task]) -> ServiceRow {
    let spec = s.spec.clone().unwrap_or_default();
    let mode = spec.mode.clone().unwrap_or_default();
    let state = service_state(s, tasks, &|_| true);
    let (mode_name, replicas) = if mode.replicated_job.is_some() || mode.global_job.is_some() {
        let running = tasks
            .iter()
            .filter(|t| {
                t.status.as_ref().and_then(|s| s.state)
                    == Some(crate::api::models::TaskState::RUNNING)
            })
            .count();
        let kind = if mode.global_job.is_some() {
            "global job"
        } else {
            "replicated job"
        };
        (
            kind,
            format!(
                "{running}/{} ({}/{} completed)",
                state.desired, state.running, state.desired
            ),
        )
    } else if mode.global.is_some() {
        ("global", format!("{}/{}", state.running, state.desired))
    } else {
        ("replicated", format!("{}/{}", state.running, state.desired))
    };
    let image = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let ports = s
        .endpoint
        .as_ref()
        .and_then(|e| e.ports.clone())
        .or_else(|| spec.endpoint_spec.as_ref().and_then(|e| e.ports.clone()))
        .unwrap_or_default();
    ServiceRow {
        id: s.id.clone().unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        mode: mode_name.into(),
        replicas,
        image: strip_digest(&image),
        ports: ports_text(&ports),
    }
}

/// docker shows images without the digest a deploy pinned them to.
pub fn strip_digest(image: &str) -> String {
    image.split('@').next().unwrap_or(image).to_string()
}

fn ports_text(ports: &[EndpointPortConfig]) -> String {
    ports
        .iter()
        .map(|p| {
            let proto = p
                .protocol
                .map(|x| x.to_string())
                .unwrap_or_else(|| "tcp".into());
            let target = p.target_port.unwrap_or_default();
            match p.published_port {
                Some(published) if published > 0 => format!("*:{published}->{target}/{proto}"),
                _ => format!("{target}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A task of a stack, as `stack ps` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub node: String,
    pub desired_state: String,
    pub current_state: String,
    /// When the current state began (RFC 3339), for "Running 5 seconds ago".
    pub since: String,
    pub error: String,
    pub ports: String,
}

pub async fn tasks(client: &Client, ns: &Namespace) -> Result<Vec<TaskRow>, StackError> {
    let tasks = client
        .list_tasks(&ns.filter())
        .await
        .map_err(api("listing the stack's tasks"))?;
    let services: HashMap<String, String> = client
        .list_services(&ns.filter())
        .await
        .map_err(api("listing the stack's services"))?
        .into_iter()
        .filter_map(|s| Some((s.id?, s.spec?.name?)))
        .collect();
    let nodes: HashMap<String, String> = client
        .list_nodes(&Filters::new())
        .await
        .map_err(api("listing nodes"))?
        .into_iter()
        .filter_map(|n| Some((n.id?, n.description?.hostname?)))
        .collect();
    let mut rows: Vec<(String, i64, String, TaskRow)> = tasks
        .iter()
        .map(|t| {
            let service = t
                .service_id
                .as_ref()
                .and_then(|id| services.get(id))
                .cloned()
                .unwrap_or_default();
            let status = t.status.clone().unwrap_or_default();
            let node = t
                .node_id
                .as_ref()
                .map(|n| nodes.get(n).cloned().unwrap_or_else(|| n.clone()))
                .unwrap_or_default();
            let image = t
                .spec
                .as_ref()
                .and_then(|s| s.container_spec.as_ref())
                .and_then(|c| c.image.clone())
                .unwrap_or_default();
            let ports = status
                .port_status
                .as_ref()
                .and_then(|p| p.ports.clone())
                .unwrap_or_default();
            let row = TaskRow {
                id: t.id.clone().unwrap_or_default(),
                name: task_name(&service, t),
                image: strip_digest(&image),
                node,
                desired_state: t
                    .desired_state
                    .map(|s| capitalise(&s.to_string()))
                    .unwrap_or_default(),
                current_state: status
                    .state
                    .map(|s| capitalise(&s.to_string()))
                    .unwrap_or_default(),
                since: status.timestamp.clone().unwrap_or_default(),
                error: status.err.clone().unwrap_or_default(),
                ports: ports_text(&ports),
            };
            (
                service,
                t.slot.unwrap_or_default(),
                t.created_at.clone().unwrap_or_default(),
                row,
            )
        })
        .collect();
    // by service and slot, newest task of a slot first, as docker lists them
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)).then(b.2.cmp(&a.2)));
    Ok(rows.into_iter().map(|r| r.3).collect())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
