//! Waiting for a stack: until every service runs its replicas (healthy: a swarm reports a task
//! with a healthcheck as running only once it is healthy) or its jobs completed, failing at
//! the first task of this deploy that failed or was rejected, with the swarm's error; and,
//! for `stack rm`, until the stack's tasks are gone.
//!
//! Re-evaluation is driven by the engine's events (its containers starting, turning healthy,
//! dying; service updates). A swarm publishes no event for a task's state on another node,
//! and a node reports its tasks to the manager a moment after the container event, so a
//! backstop re-evaluates after [`BACKSTOP`] without an event (100 ms: the manager learns of a
//! healthy task that long after the container's event, and a check is two local requests).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{api, FailedTask, Namespace, Progress, Sink, StackError};
use crate::api::client::swarm::Filters;
use crate::api::client::{Client, EventStream};
use crate::api::models::{Service, Task, TaskState};

/// How long a wait goes without re-evaluating when no event came.
pub const BACKSTOP: Duration = Duration::from_millis(100);

/// How long a task without a healthcheck must have been seen running to count: a swarm
/// reports a task running before a process that fails at once has exited (docker's CLI
/// waits out the update monitor, 5 s by default, for the same reason). A task with a
/// healthcheck counts once healthy.
pub const STABLE: Duration = Duration::from_secs(1);

/// The task ids a stack has now (a later wait ignores their failures: they are history).
pub async fn task_ids(client: &Client, ns: &Namespace) -> Result<HashSet<String>, StackError> {
    Ok(client
        .list_tasks(&ns.filter())
        .await
        .map_err(api("listing the stack's tasks"))?
        .into_iter()
        .filter_map(|t| t.id)
        .collect())
}

/// Where one service stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub running: u64,
    pub desired: u64,
    pub converged: bool,
}

/// Wait until every service of `deployed` (compose name, id) converged.
pub async fn converge(
    client: &Client,
    deployed: &[(String, String)],
    before: &HashSet<String>,
    timeout: Option<Duration>,
    out: Sink<'_>,
) -> Result<(), StackError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut events = subscribe(client).await?;
    let ids: Vec<String> = deployed.iter().map(|(_, id)| id.clone()).collect();
    let mut last: HashMap<String, ServiceState> = HashMap::new();
    let mut seen_running: HashMap<String, Instant> = HashMap::new();
    loop {
        let services: HashMap<String, Service> = client
            .list_services(&Filters::from([("id".to_string(), ids.clone())]))
            .await
            .map_err(api("listing services"))?
            .into_iter()
            .filter_map(|s| Some((s.id.clone()?, s)))
            .collect();
        let tasks = client
            .list_tasks(&Filters::from([("service".to_string(), ids.clone())]))
            .await
            .map_err(api("listing tasks"))?;
        let now = Instant::now();
        seen_running.retain(|id, _| {
            tasks
                .iter()
                .any(|t| t.id.as_ref() == Some(id) && is_running(t))
        });
        for t in tasks.iter().filter(|t| is_running(t)) {
            if let Some(id) = &t.id {
                seen_running.entry(id.clone()).or_insert(now);
            }
        }
        let stable = |t: &Task| {
            has_healthcheck(t)
                || t.id
                    .as_ref()
                    .and_then(|id| seen_running.get(id))
                    .is_some_and(|since| now.duration_since(*since) >= STABLE)
        };
        let failed = failures(&tasks, before, &services);
        if !failed.is_empty() {
            return Err(StackError::TasksFailed(failed));
        }
        let mut all = true;
        for (name, id) in deployed {
            let service = services.get(id).ok_or_else(|| {
                StackError::Invalid(format!("service {name} ({id}) was removed while deploying"))
            })?;
            update_failure(name, service)?;
            let mine: Vec<&Task> = tasks
                .iter()
                .filter(|t| t.service_id.as_deref() == Some(id))
                .collect();
            let state = service_state(service, &mine, &stable);
            all &= state.converged;
            if last.get(name) != Some(&state) {
                let scoped = spec_name(service);
                out(if state.converged {
                    Progress::Converged(scoped)
                } else {
                    Progress::Tasks {
                        service: scoped,
                        running: state.running,
                        desired: state.desired,
                    }
                });
                last.insert(name.clone(), state);
            }
        }
        if all {
            return Ok(());
        }
        next_change(&mut events, deadline, "the stack to converge").await?;
    }
}

/// Wait until no task of the stack is left (after its services were removed).
pub async fn gone(
    client: &Client,
    ns: &Namespace,
    timeout: Option<Duration>,
) -> Result<(), StackError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut events = subscribe(client).await?;
    loop {
        let left = client
            .list_tasks(&ns.filter())
            .await
            .map_err(api("listing the stack's tasks"))?;
        let running = left.iter().any(|t| {
            !matches!(
                t.status.as_ref().and_then(|s| s.state),
                Some(
                    TaskState::SHUTDOWN
                        | TaskState::COMPLETE
                        | TaskState::FAILED
                        | TaskState::REJECTED
                        | TaskState::ORPHANED
                )
            )
        });
        if left.is_empty() || !running {
            return Ok(());
        }
        next_change(&mut events, deadline, "the stack's tasks to stop").await?;
    }
}

async fn subscribe(client: &Client) -> Result<Option<EventStream>, StackError> {
    let filters = Filters::from([(
        "type".to_string(),
        vec!["container".to_string(), "service".to_string()],
    )]);
    Ok(Some(
        client
            .events(&filters, None, None)
            .await
            .map_err(api("subscribing to the engine's events"))?,
    ))
}

/// Return at the next event (or the backstop); fail past the deadline.
async fn next_change(
    events: &mut Option<EventStream>,
    deadline: Option<Instant>,
    what: &str,
) -> Result<(), StackError> {
    let mut wait = BACKSTOP;
    if let Some(d) = deadline {
        let left = d.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StackError::Timeout(format!("timed out waiting for {what}")));
        }
        wait = wait.min(left);
    }
    match events {
        Some(stream) => {
            tokio::select! {
                ev = stream.next() => {
                    if !matches!(ev, Ok(Some(_))) {
                        // the stream ended: the backstop alone drives the wait
                        *events = None;
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        None => tokio::time::sleep(wait).await,
    }
    Ok(())
}

fn spec_name(s: &Service) -> String {
    s.spec
        .as_ref()
        .and_then(|s| s.name.clone())
        .unwrap_or_default()
}

/// Tasks of this deploy (not in `before`) that failed or were rejected.
fn failures(
    tasks: &[Task],
    before: &HashSet<String>,
    services: &HashMap<String, Service>,
) -> Vec<FailedTask> {
    let mut out: Vec<FailedTask> = tasks
        .iter()
        .filter(|t| !t.id.as_ref().is_some_and(|id| before.contains(id)))
        .filter_map(|t| {
            let status = t.status.as_ref()?;
            let state = status.state?;
            if !matches!(state, TaskState::FAILED | TaskState::REJECTED) {
                return None;
            }
            let service = t
                .service_id
                .as_ref()
                .and_then(|id| services.get(id))
                .map(spec_name)
                .unwrap_or_default();
            Some(FailedTask {
                name: task_name(&service, t),
                id: t.id.clone().unwrap_or_default(),
                state: state.to_string(),
                error: status
                    .err
                    .clone()
                    .or_else(|| status.message.clone())
                    .unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `shop_web.1` (a replicated task's slot), or `shop_web.<node id>` for a global one.
pub fn task_name(service: &str, t: &Task) -> String {
    match t.slot {
        Some(slot) if slot > 0 => format!("{service}.{slot}"),
        _ => format!("{service}.{}", t.node_id.clone().unwrap_or_default()),
    }
}

/// An update the swarm paused or rolled back is a failed deploy.
fn update_failure(name: &str, s: &Service) -> Result<(), StackError> {
    let Some(u) = &s.update_status else {
        return Ok(());
    };
    let state = u.state.map(|s| s.to_string()).unwrap_or_default();
    if matches!(
        state.as_str(),
        "paused" | "rollback_paused" | "rollback_completed"
    ) {
        return Err(StackError::Invalid(format!(
            "service {name}: update {state}: {}",
            u.message.clone().unwrap_or_default()
        )));
    }
    Ok(())
}

fn is_running(t: &Task) -> bool {
    t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
}

/// Whether the task's container has a healthcheck of its own (its image's is not known here).
fn has_healthcheck(t: &Task) -> bool {
    t.spec
        .as_ref()
        .and_then(|s| s.container_spec.as_ref())
        .and_then(|c| c.health_check.as_ref())
        .and_then(|h| h.test.as_ref())
        .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"))
}

/// How many of a service's tasks run (or completed, for a job) against how many it wants;
/// converged counts only running tasks that are `stable`.
pub fn service_state(s: &Service, tasks: &[&Task], stable: &dyn Fn(&Task) -> bool) -> ServiceState {
    let mode = s
        .spec
        .as_ref()
        .and_then(|s| s.mode.clone())
        .unwrap_or_default();
    let updating = s
        .update_status
        .as_ref()
        .and_then(|u| u.state)
        .is_some_and(|st| matches!(st.to_string().as_str(), "updating" | "rollback_started"));
    let active: Vec<&&Task> = tasks
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .collect();
    let running = active.iter().filter(|t| is_running(t)).count() as u64;
    let settled = active.iter().filter(|t| is_running(t) && stable(t)).count() as u64;
    if let Some(job) = mode.replicated_job {
        let total = job.total_completions.unwrap_or(1).max(0) as u64;
        let done = tasks
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::COMPLETE))
            .count() as u64;
        return ServiceState {
            running: done,
            desired: total,
            converged: done >= total,
        };
    }
    if mode.global_job.is_some() {
        let done = tasks
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::COMPLETE))
            .count() as u64;
        let total = tasks.len() as u64;
        return ServiceState {
            running: done,
            desired: total,
            converged: total > 0 && done == total,
        };
    }
    let desired = match &mode.replicated {
        Some(r) => r.replicas.unwrap_or(1).max(0) as u64,
        None => active.len() as u64,
    };
    let converged = !updating
        && settled == desired
        && active.len() as u64 == desired
        && (desired > 0 || mode.replicated.is_some());
    ServiceState {
        running,
        desired,
        converged,
    }
}
