//! `wharf stack deploy`: make the swarm hold what the stack says. In docker's order: services
//! the file no longer has (with `--prune`), networks (created when missing; external ones
//! checked), secrets and configs (created, or updated in place), then each service created or
//! updated, its image pinned to the registry's digest (`--resolve-image`), with the caller's
//! registry credentials when asked (`--with-registry-auth`). Unless detached, it then waits
//! until every service converged ([`super::wait`]).

use std::collections::{HashMap, HashSet};

use super::{api, Progress, Sink, StackError, LABEL_IMAGE};
use crate::api::client::swarm::Filters;
use crate::api::client::{credentials, Client};
use crate::api::models::{Platform, ServiceSpec};
use crate::compose::convert::swarm::{Stack, StackService};
use crate::engine::image::reference::Reference;

/// When to ask the registry for the digest an image tag points to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResolveImage {
    /// On every deploy: a moved tag updates the service.
    #[default]
    Always,
    /// Only for images whose reference changed in the file.
    Changed,
    /// Never: nodes pull the tag themselves.
    Never,
}

#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub prune: bool,
    pub resolve_image: ResolveImage,
    pub with_registry_auth: bool,
    /// Return once the swarm took the specs, without waiting for the tasks.
    pub detach: bool,
    /// Bound on the wait (None: until converged or failed).
    pub timeout: Option<std::time::Duration>,
}

/// The service ids deployed, by compose name.
pub type Deployed = Vec<(String, String)>;

pub async fn deploy(
    client: &Client,
    mut stack: Stack,
    opts: &DeployOptions,
    out: Sink<'_>,
) -> Result<Deployed, StackError> {
    let ns = stack.namespace.clone();
    // what failed before this deploy is history, not its failure
    let before = if opts.detach {
        HashSet::new()
    } else {
        super::wait::task_ids(client, &ns).await?
    };
    let existing = client
        .list_services(&ns.filter())
        .await
        .map_err(api("listing the stack's services"))?;
    if opts.prune {
        let keep: HashSet<String> = stack.services.iter().map(|s| ns.scope(&s.name)).collect();
        for s in &existing {
            let name = spec_name(s.spec.as_ref());
            if !keep.contains(&name) {
                out(Progress::Removing {
                    kind: "service",
                    name: name.clone(),
                });
                client
                    .remove_service(s.id.as_deref().unwrap_or_default())
                    .await
                    .map_err(api(format!("removing service {name}")))?;
            }
        }
    }
    networks(client, &stack, out).await?;
    secrets(client, &stack, out).await?;
    configs(client, &stack, out).await?;
    resolve_references(client, &mut stack).await?;
    let existing: HashMap<String, &crate::api::models::Service> = existing
        .iter()
        .map(|s| (spec_name(s.spec.as_ref()), s))
        .collect();
    let mut deployed = Vec::new();
    for StackService { name, mut spec } in stack.services {
        let scoped = ns.scope(&name);
        let image = container_image(&spec);
        let auth = match Reference::parse(&image) {
            Ok(r) if opts.with_registry_auth => credentials::header_for(&r.registry)
                .await
                .map_err(|e| StackError::Invalid(format!("service {name}: {e}")))?,
            _ => None,
        };
        match existing.get(&scoped) {
            Some(current) => {
                let id = current.id.clone().unwrap_or_default();
                out(Progress::UpdatingService {
                    name: scoped.clone(),
                    id: id.clone(),
                });
                let current_spec = current.spec.clone().unwrap_or_default();
                let was = current_spec
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_IMAGE))
                    .cloned();
                let unchanged = was.as_deref() == Some(image.as_str());
                let query = match opts.resolve_image {
                    ResolveImage::Always => true,
                    ResolveImage::Changed => !unchanged,
                    ResolveImage::Never => false,
                };
                if query {
                    pin_image(client, &mut spec, auth.as_deref(), out).await;
                } else if unchanged {
                    // keep what the last deploy pinned, or the update would replace every task
                    set_image(&mut spec, container_image(&current_spec));
                }
                // no `--force` here: keep the counter so unchanged tasks stay
                if let Some(t) = spec.task_template.as_mut() {
                    t.force_update = current_spec.task_template.and_then(|t| t.force_update);
                }
                let version = current.version.as_ref().and_then(|v| v.index).unwrap_or(0);
                let resp = client
                    .update_service(&id, version, &spec, auth.as_deref())
                    .await
                    .map_err(api(format!("failed to update service {scoped}")))?;
                for w in resp.warnings.unwrap_or_default() {
                    out(Progress::Warning(w));
                }
                deployed.push((name, id));
            }
            None => {
                out(Progress::CreatingService(scoped.clone()));
                if opts.resolve_image != ResolveImage::Never {
                    pin_image(client, &mut spec, auth.as_deref(), out).await;
                }
                let resp = client
                    .create_service(&spec, auth.as_deref())
                    .await
                    .map_err(api(format!("failed to create service {scoped}")))?;
                for w in resp.warnings.unwrap_or_default() {
                    out(Progress::Warning(w));
                }
                deployed.push((name, resp.id.unwrap_or_default()));
            }
        }
    }
    if !opts.detach {
        super::wait::converge(client, &deployed, &before, opts.timeout, out).await?;
    }
    Ok(deployed)
}

fn spec_name(spec: Option<&ServiceSpec>) -> String {
    spec.and_then(|s| s.name.clone()).unwrap_or_default()
}

fn container_image(spec: &ServiceSpec) -> String {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn set_image(spec: &mut ServiceSpec, image: String) {
    if let Some(c) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    {
        c.image = Some(image);
    }
}

/// Pin the image to the digest the registry has for it, and place the tasks on the platforms
/// it was built for, as docker's client does; a registry that cannot be asked leaves the tag
/// (with docker's warning).
async fn pin_image(client: &Client, spec: &mut ServiceSpec, auth: Option<&str>, out: Sink<'_>) {
    let image = container_image(spec);
    let Ok(reference) = Reference::parse(&image) else {
        return;
    };
    if reference.digest.is_some() {
        return;
    }
    match client.distribution_inspect(&image, auth).await {
        Ok(d) if d.descriptor.digest.is_some() => {
            let mut pinned = reference.clone();
            pinned.digest = d.descriptor.digest.clone();
            set_image(spec, pinned.familiar());
            let platforms: Vec<Platform> = d
                .platforms
                .iter()
                .map(|p| Platform {
                    architecture: p.architecture.clone(),
                    os: p.os.clone(),
                })
                .collect();
            if let Some(placement) = spec
                .task_template
                .as_mut()
                .and_then(|t| t.placement.as_mut())
            {
                if placement.platforms.as_ref().is_none_or(Vec::is_empty) && !platforms.is_empty() {
                    placement.platforms = Some(platforms);
                }
            }
        }
        _ => out(Progress::Warning(format!(
            "image {image} could not be accessed on a registry to record\nits digest. Each node will access {image} independently,\npossibly leading to different nodes running different\nversions of the image."
        ))),
    }
}

async fn networks(client: &Client, stack: &Stack, out: Sink<'_>) -> Result<(), StackError> {
    for name in &stack.external_networks {
        if matches!(name.as_str(), "host" | "bridge" | "none" | "ingress") {
            continue;
        }
        match client.inspect_network(name).await {
            Ok(n) if n.scope.as_deref() == Some("swarm") => {}
            Ok(n) => {
                return Err(StackError::Invalid(format!(
                    "network {name:?} is declared as external, but it is not in the right scope: {:?} instead of \"swarm\"",
                    n.scope.unwrap_or_default()
                )))
            }
            Err(e) if e.is_not_found() => {
                return Err(StackError::Invalid(format!(
                    "network {name:?} is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed"
                )))
            }
            Err(e) => return Err(api(format!("inspecting network {name}"))(e)),
        }
    }
    let have: HashSet<String> = client
        .list_networks(&stack.namespace.filter())
        .await
        .map_err(api("listing the stack's networks"))?
        .into_iter()
        .filter_map(|n| n.name)
        .collect();
    for net in &stack.networks {
        if have.contains(&net.name) {
            continue;
        }
        out(Progress::CreatingNetwork(net.name.clone()));
        let body = serde_json::to_value(net).unwrap_or_default();
        client
            .create_network(&body)
            .await
            .map_err(api(format!("failed to create network {}", net.name)))?;
    }
    Ok(())
}

fn by_name(name: &str) -> Filters {
    HashMap::from([("name".to_string(), vec![name.to_string()])])
}

async fn secrets(client: &Client, stack: &Stack, out: Sink<'_>) -> Result<(), StackError> {
    for spec in &stack.secrets {
        let name = spec.name.clone().unwrap_or_default();
        let found = client
            .list_secrets(&by_name(&name))
            .await
            .map_err(api(format!("looking up secret {name}")))?
            .into_iter()
            .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(&name));
        match found {
            Some(s) => {
                out(Progress::UpdatingSecret(name.clone()));
                let version = s.version.and_then(|v| v.index).unwrap_or(0);
                client
                    .update_secret(&s.id.unwrap_or_default(), version, spec)
                    .await
                    .map_err(api(format!("failed to update secret {name}")))?;
            }
            None => {
                out(Progress::CreatingSecret(name.clone()));
                client
                    .create_secret(spec)
                    .await
                    .map_err(api(format!("failed to create secret {name}")))?;
            }
        }
    }
    Ok(())
}

async fn configs(client: &Client, stack: &Stack, out: Sink<'_>) -> Result<(), StackError> {
    for spec in &stack.configs {
        let name = spec.name.clone().unwrap_or_default();
        let found = client
            .list_configs(&by_name(&name))
            .await
            .map_err(api(format!("looking up config {name}")))?
            .into_iter()
            .find(|c| c.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(&name));
        match found {
            Some(c) => {
                out(Progress::UpdatingConfig(name.clone()));
                let version = c.version.and_then(|v| v.index).unwrap_or(0);
                client
                    .update_config(&c.id.unwrap_or_default(), version, spec)
                    .await
                    .map_err(api(format!("failed to update config {name}")))?;
            }
            None => {
                out(Progress::CreatingConfig(name.clone()));
                client
                    .create_config(spec)
                    .await
                    .map_err(api(format!("failed to create config {name}")))?;
            }
        }
    }
    Ok(())
}

/// Fill in the ids of the secrets and configs the services reference (the swarm wants both
/// name and id), failing on one that does not exist.
async fn resolve_references(client: &Client, stack: &mut Stack) -> Result<(), StackError> {
    let wants_secrets = stack.services.iter().any(|s| {
        container(&s.spec)
            .and_then(|c| c.secrets.as_ref())
            .is_some_and(|v| !v.is_empty())
    });
    let wants_configs = stack.services.iter().any(|s| {
        container(&s.spec)
            .and_then(|c| c.configs.as_ref())
            .is_some_and(|v| !v.is_empty())
    });
    let secret_ids: HashMap<String, String> = if wants_secrets {
        client
            .list_secrets(&Filters::new())
            .await
            .map_err(api("listing secrets"))?
            .into_iter()
            .filter_map(|s| Some((s.spec?.name?, s.id?)))
            .collect()
    } else {
        HashMap::new()
    };
    let config_ids: HashMap<String, String> = if wants_configs {
        client
            .list_configs(&Filters::new())
            .await
            .map_err(api("listing configs"))?
            .into_iter()
            .filter_map(|c| Some((c.spec?.name?, c.id?)))
            .collect()
    } else {
        HashMap::new()
    };
    for s in &mut stack.services {
        let Some(c) = s
            .spec
            .task_template
            .as_mut()
            .and_then(|t| t.container_spec.as_mut())
        else {
            continue;
        };
        for r in c.secrets.iter_mut().flatten() {
            let name = r.secret_name.clone().unwrap_or_default();
            r.secret_id = Some(secret_ids.get(&name).cloned().ok_or_else(|| {
                StackError::Invalid(format!("service {}: secret not found: {name}", s.name))
            })?);
        }
        for r in c.configs.iter_mut().flatten() {
            let name = r.config_name.clone().unwrap_or_default();
            r.config_id = Some(config_ids.get(&name).cloned().ok_or_else(|| {
                StackError::Invalid(format!("service {}: config not found: {name}", s.name))
            })?);
        }
    }
    Ok(())
}

fn container(spec: &ServiceSpec) -> Option<&crate::api::models::TaskSpecContainerSpec> {
    spec.task_template.as_ref()?.container_spec.as_ref()
}
