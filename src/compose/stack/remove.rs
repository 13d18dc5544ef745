//! `wharf stack rm`: remove everything labelled with the stack's namespace, in docker's order
//! (services, secrets, configs, networks). A swarm refuses to remove a network while tasks
//! still use it, so the networks go once the services' tasks have stopped; every failure is
//! reported and the rest is still removed.

use std::time::Duration;

use super::{api, Namespace, Progress, Sink, StackError};
use crate::api::client::Client;

/// How long `rm` waits for the tasks of removed services before removing networks anyway.
const TASKS_STOP_LIMIT: Duration = Duration::from_secs(60);

/// What was removed, and what could not be (`kind name: error`).
#[derive(Debug, Default)]
pub struct Removed {
    pub count: usize,
    pub errors: Vec<String>,
}

pub async fn remove(client: &Client, ns: &Namespace, out: Sink<'_>) -> Result<Removed, StackError> {
    let filter = ns.filter();
    let services = client
        .list_services(&filter)
        .await
        .map_err(api("listing the stack's services"))?;
    let secrets = client
        .list_secrets(&filter)
        .await
        .map_err(api("listing the stack's secrets"))?;
    let configs = client
        .list_configs(&filter)
        .await
        .map_err(api("listing the stack's configs"))?;
    let networks = client
        .list_networks(&filter)
        .await
        .map_err(api("listing the stack's networks"))?;
    let mut removed = Removed::default();
    let mut note = |kind: &'static str,
                    name: String,
                    r: Result<(), crate::api::client::ClientError>,
                    out: Sink<'_>| {
        match r {
            Ok(()) => {
                removed.count += 1;
                out(Progress::Removing { kind, name });
            }
            Err(e) => removed
                .errors
                .push(format!("failed to remove {kind} {name}: {e}")),
        }
    };
    let mut services: Vec<_> = services
        .into_iter()
        .map(|s| {
            (
                s.spec.and_then(|s| s.name).unwrap_or_default(),
                s.id.unwrap_or_default(),
            )
        })
        .collect();
    services.sort();
    for (name, id) in &services {
        note(
            "service",
            name.clone(),
            client.remove_service(id).await,
            out,
        );
    }
    for s in secrets {
        let name = s.spec.and_then(|s| s.name).unwrap_or_default();
        let r = client.remove_secret(&s.id.unwrap_or_default()).await;
        note("secret", name, r, out);
    }
    for c in configs {
        let name = c.spec.and_then(|s| s.name).unwrap_or_default();
        let r = client.remove_config(&c.id.unwrap_or_default()).await;
        note("config", name, r, out);
    }
    if !networks.is_empty() && !services.is_empty() {
        super::wait::gone(client, ns, Some(TASKS_STOP_LIMIT)).await?;
    }
    for n in networks {
        let name = n.name.clone().unwrap_or_default();
        let r = client.remove_network(&n.id.unwrap_or_default()).await;
        note("network", name, r, out);
    }
    Ok(removed)
}
