//! `wharf stack deploy`'s conversion: a compose project as the objects a Docker Swarm takes,
//! with the semantics of `docker stack deploy` (its field-by-field equivalence is checked
//! against the docker CLI in `tests/swarm.rs`).
//!
//! Everything is scoped by the stack's name, the namespace: service `web` of stack `shop` is
//! the Swarm service `shop_web`, network `back` is `shop_back` (an overlay network unless a
//! driver is named), and every object carries `com.docker.stack.namespace=shop`, which is how
//! `stack ls`, `ps` and `rm` find them again. Keys a swarm cannot take are reported once each
//! with where they were written. Pure code: ids of secrets and configs are filled in by the
//! deploy, which knows them.
//!
//! One module per family: [`service`] (the ServiceSpec) and [`objects`] (networks, secrets,
//! configs).

mod objects;
mod service;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::api::models::{ConfigSpec, NetworkCreateRequest, SecretSpec, ServiceSpec};
use crate::compose::convert::{ConvertError, Dropped, Report};
use crate::compose::load::Loaded;

/// The label every object of a stack carries: its namespace.
pub const LABEL_NAMESPACE: &str = "com.docker.stack.namespace";
/// The label with the image a service was deployed from, as the compose file wrote it (the
/// spec's image may be pinned to a digest).
pub const LABEL_IMAGE: &str = "com.docker.stack.image";

/// A stack's name, which scopes the names of its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// Docker's rule for stack names: what a service name may start with.
    pub fn new(name: &str) -> Result<Namespace, String> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric());
        if valid {
            Ok(Namespace(name.to_string()))
        } else {
            Err(format!(
                "invalid stack name {name:?}: use letters, digits, '-', '_' and '.', starting with a letter or digit"
            ))
        }
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// `shop` + `web` → `shop_web`.
    pub fn scope(&self, name: &str) -> String {
        format!("{}_{name}", self.0)
    }

    /// `labels` plus the namespace label.
    pub fn labels(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> HashMap<String, String> {
        let mut out: HashMap<String, String> = labels.clone().into_iter().collect();
        out.insert(LABEL_NAMESPACE.into(), self.0.clone());
        out
    }

    /// The filter that finds this stack's objects.
    pub fn filter(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_NAMESPACE}={}", self.0)],
        )])
    }
}

/// A service of the stack.
#[derive(Clone, Debug)]
pub struct StackService {
    /// The compose name (`web`); the spec's name is scoped (`shop_web`).
    pub name: String,
    pub spec: ServiceSpec,
}

/// A stack's objects, in the order they are made: networks, secrets, configs, services.
#[derive(Clone, Debug)]
pub struct Stack {
    pub namespace: Namespace,
    pub networks: Vec<NetworkCreateRequest>,
    /// Networks the file declares `external`: they must exist, swarm-scoped.
    pub external_networks: Vec<String>,
    pub secrets: Vec<SecretSpec>,
    pub configs: Vec<ConfigSpec>,
    pub services: Vec<StackService>,
    pub dropped: Vec<Dropped>,
}

/// Convert a project loaded for the Swarm target into stack `namespace`.
pub fn convert(loaded: &Loaded, namespace: &Namespace) -> Result<Stack, ConvertError> {
    let project = &loaded.project;
    let mut report = Report::new(&loaded.locations);
    let (networks, external_networks) = objects::networks(project, namespace, &mut report);
    let secrets = objects::secrets(loaded, namespace)?;
    let configs = objects::configs(loaded, namespace)?;
    let mut services = Vec::new();
    for (name, svc) in &project.services {
        let spec = service::service_spec(project, namespace, name, svc, &mut report)?;
        services.push(StackService {
            name: name.clone(),
            spec,
        });
    }
    Ok(Stack {
        namespace: namespace.clone(),
        networks,
        external_networks,
        secrets,
        configs,
        services,
        dropped: report.dropped,
    })
}
