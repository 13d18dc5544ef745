//! The stack's networks, secrets and configs. Networks are the ones its services use, overlay
//! unless the file names a driver; secrets and configs carry their content (a swarm keeps
//! them encrypted in its raft log and hands them only to the tasks that reference them).

use std::collections::BTreeSet;

use base64::Engine as _;

use super::Namespace;
use crate::api::models::{ConfigSpec, Ipam, IpamConfig, NetworkCreateRequest, SecretSpec};
use crate::compose::convert::{file_object_bytes, ConvertError, Report};
use crate::compose::load::Loaded;
use crate::compose::model::{Network, Project};

/// The network a service without `networks:` joins, as compose has it.
pub(super) const DEFAULT_NETWORK: &str = "default";
const DEFAULT_DRIVER: &str = "overlay";

/// The networks the services use: those to create, and the names of the external ones.
pub(super) fn networks(
    project: &Project,
    ns: &Namespace,
    report: &mut Report<'_>,
) -> (Vec<NetworkCreateRequest>, Vec<String>) {
    let used: BTreeSet<&str> = project
        .services
        .values()
        .flat_map(|s| {
            let keys: Vec<&str> = s.networks.keys().map(String::as_str).collect();
            if keys.is_empty() {
                vec![DEFAULT_NETWORK]
            } else {
                keys
            }
        })
        .collect();
    let mut create = Vec::new();
    let mut external = Vec::new();
    for key in used {
        let fallback = Network::default();
        let net = project.networks.get(key).unwrap_or(&fallback);
        let name = network_name(ns, key, net);
        if net.external {
            external.push(name);
            continue;
        }
        let path = format!("networks.{key}");
        if net.enable_ipv6.is_some() {
            report.drop_key(
                format!("{path}.enable_ipv6"),
                "docker stack deploy does not pass it on: create the network yourself and declare it external",
            );
        }
        let ipam = net.ipam.as_ref().map(|i| Ipam {
            driver: i.driver.clone(),
            config: Some(
                i.config
                    .iter()
                    .map(|p| IpamConfig {
                        subnet: p.subnet.clone(),
                        ip_range: p.ip_range.clone(),
                        gateway: p.gateway.clone(),
                        auxiliary_addresses: (!p.aux_addresses.is_empty())
                            .then(|| p.aux_addresses.clone().into_iter().collect()),
                    })
                    .collect(),
            ),
            options: (!i.options.is_empty()).then(|| i.options.clone().into_iter().collect()),
        });
        create.push(NetworkCreateRequest {
            name,
            driver: Some(net.driver.clone().unwrap_or_else(|| DEFAULT_DRIVER.into())),
            internal: Some(net.internal),
            attachable: Some(net.attachable),
            ipam,
            options: Some(net.driver_opts.clone().into_iter().collect()),
            labels: Some(ns.labels(&net.labels)),
            ..Default::default()
        });
    }
    (create, external)
}

/// The swarm name of network `key`: its `name:` (the loader scoped it by the project, which
/// is the stack), else the stack-scoped key.
pub(super) fn network_name(ns: &Namespace, key: &str, net: &Network) -> String {
    if net.name.is_empty() {
        ns.scope(key)
    } else {
        net.name.clone()
    }
}

pub(super) fn secrets(loaded: &Loaded, ns: &Namespace) -> Result<Vec<SecretSpec>, ConvertError> {
    let mut out = Vec::new();
    for (key, obj) in &loaded.project.secrets {
        let path = format!("secrets.{key}");
        let Some(data) = file_object_bytes(&path, obj, &loaded.environment, &loaded.locations)?
        else {
            continue;
        };
        out.push(SecretSpec {
            name: Some(object_name(ns, key, &obj.name)),
            labels: Some(ns.labels(&obj.labels)),
            data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
            ..Default::default()
        });
    }
    Ok(out)
}

pub(super) fn configs(loaded: &Loaded, ns: &Namespace) -> Result<Vec<ConfigSpec>, ConvertError> {
    let mut out = Vec::new();
    for (key, obj) in &loaded.project.configs {
        let path = format!("configs.{key}");
        let Some(data) = file_object_bytes(&path, obj, &loaded.environment, &loaded.locations)?
        else {
            continue;
        };
        out.push(ConfigSpec {
            name: Some(object_name(ns, key, &obj.name)),
            labels: Some(ns.labels(&obj.labels)),
            data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
            ..Default::default()
        });
    }
    Ok(out)
}

/// The swarm name of a secret or config: its `name:`, else the stack-scoped key.
pub(super) fn object_name(ns: &Namespace, key: &str, name: &str) -> String {
    if name.is_empty() {
        ns.scope(key)
    } else {
        name.to_string()
    }
}
