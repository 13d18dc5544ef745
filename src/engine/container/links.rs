//! Legacy links (`--link name:alias`, `HostConfig.Links`), as dockerd keeps them for the
//! default bridge: checked and stored as `/child:/parent/alias` at create; at start the linked
//! (child) containers must run, and the linking one gets their addresses in `/etc/hosts`
//! (`alias hostname name`) and Docker's `ALIAS_NAME`, `ALIAS_PORT_80_TCP…` and `ALIAS_ENV_…`
//! variables; a child lists `/parent/alias` among its names; `DELETE
//! /containers/parent/alias?link=1` removes one.
//!
//! On user-defined networks a link is only a name the linking container resolves (the
//! endpoint's `Links`, served by the embedded DNS): see `EndpointRequest::links`.

use std::collections::HashMap;

use super::ContainerRecord;
use crate::engine::error::{Error, Result};
use crate::engine::Engine;

/// One link: the linked container's name and the alias the linking one knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

impl Link {
    /// `name`, `name:alias`, or the stored `/name:/parent/alias`.
    pub fn parse(spec: &str) -> Link {
        let (target, alias) = spec.split_once(':').unwrap_or((spec, spec));
        let target = target.trim_start_matches('/').to_string();
        let alias = alias.rsplit('/').next().unwrap_or(alias).to_string();
        Link { target, alias }
    }

    /// As dockerd stores it in `HostConfig.Links`.
    fn stored(&self, parent: &str) -> String {
        format!("/{}:/{parent}/{}", self.target, self.alias)
    }
}

/// A linked container as the linking one sees it at start.
struct Child {
    link: Link,
    rec: ContainerRecord,
    ip: String,
}

impl Engine {
    /// `HostConfig.Links` of a new container named `parent`: every target must exist; stored
    /// by the target's name, as dockerd does.
    pub(super) fn checked_links(&self, parent: &str, links: &[String]) -> Result<Vec<String>> {
        links
            .iter()
            .map(|spec| {
                let mut link = Link::parse(spec);
                let child = self.containers.resolve(&link.target).map_err(|e| {
                    Error::invalid(format!("could not get container for {}: {e}", link.target))
                })?;
                link.target = child.name;
                Ok(link.stored(parent))
            })
            .collect()
    }

    /// The running children of a container on the default bridge, with their addresses there
    /// (none on other network modes: links are the default bridge's).
    fn link_children(&self, rec: &ContainerRecord) -> Result<Vec<Child>> {
        if !on_default_bridge(rec) {
            return Ok(Vec::new());
        }
        let mut children = Vec::new();
        for spec in rec.host_config.links.iter().flatten() {
            let link = Link::parse(spec);
            let child = self.containers.resolve(&link.target).map_err(|e| {
                Error::invalid(format!("could not get container for {}: {e}", link.target))
            })?;
            if !child.state.is_running() {
                return Err(Error::conflict(format!(
                    "Cannot link to a non running container: /{} AS /{}/{}",
                    child.name, rec.name, link.alias
                )));
            }
            let ip = child
                .endpoints
                .iter()
                .find(|e| e.network_name == "bridge")
                .map(|e| e.ip.to_string())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Cannot link to /{}, as it does not belong to the default network",
                        child.name
                    ))
                })?;
            children.push(Child {
                link,
                rec: child,
                ip,
            });
        }
        Ok(children)
    }

    /// The variables Docker sets for links, before the container's own.
    pub(super) fn link_env(&self, rec: &ContainerRecord) -> Result<Vec<String>> {
        let mut env = Vec::new();
        for c in self.link_children(rec)? {
            env.extend(child_env(&rec.name, &c));
        }
        Ok(env)
    }

    /// `/etc/hosts` entries for the links, in `--add-host` form (`names:ip`); none for a
    /// link that no longer holds (the start that needs them checks them).
    pub(crate) fn link_hosts(&self, rec: &ContainerRecord) -> Vec<String> {
        self.link_children(rec)
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                let mut names = c.link.alias.clone();
                if let Some(h) = c.rec.config.hostname.as_deref().filter(|h| !h.is_empty()) {
                    names.push(' ');
                    names.push_str(h);
                }
                if c.link.alias != c.rec.name {
                    names.push(' ');
                    names.push_str(&c.rec.name);
                }
                format!("{names}:{}", c.ip)
            })
            .collect()
    }

    /// Container id → the `/parent/alias` names its links give it (for `ps`'s `Names`).
    pub fn link_names(&self, all: &[ContainerRecord]) -> HashMap<String, Vec<String>> {
        let by_name: HashMap<&str, &str> = all
            .iter()
            .map(|r| (r.name.as_str(), r.id.as_str()))
            .collect();
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for parent in all.iter().filter(|r| on_default_bridge(r)) {
            for spec in parent.host_config.links.iter().flatten() {
                let link = Link::parse(spec);
                if let Some(id) = by_name.get(link.target.as_str()) {
                    names
                        .entry(id.to_string())
                        .or_default()
                        .push(format!("/{}/{}", parent.name, link.alias));
                }
            }
        }
        names
    }

    /// `DELETE /containers/parent/alias?link=1`: the link goes, both containers stay.
    pub fn remove_link(&self, name: &str) -> Result<()> {
        let name = name.trim_start_matches('/');
        let Some((parent, alias)) = name.rsplit_once('/') else {
            return Err(Error::conflict(
                "Conflict, cannot remove the default link name of the container",
            ));
        };
        let rec = self.containers.resolve(parent).map_err(|_| {
            Error::not_found(format!("Cannot get parent /{parent} for link name /{name}"))
        })?;
        let before = rec.host_config.links.clone().unwrap_or_default();
        let kept: Vec<String> = before
            .iter()
            .filter(|l| Link::parse(l).alias != alias)
            .cloned()
            .collect();
        if kept.len() == before.len() {
            return Err(Error::not_found(format!("No such container: {name}")));
        }
        self.containers.update(&rec.id, |r| {
            r.host_config.links = (!kept.is_empty()).then_some(kept);
        })?;
        Ok(())
    }
}

/// Legacy links hold for containers on the default bridge only.
fn on_default_bridge(rec: &ContainerRecord) -> bool {
    rec.networks.contains_key("bridge")
}

/// One child's variables, named after the upper-case alias (`-` as `_`) as dockerd's.
fn child_env(parent: &str, c: &Child) -> Vec<String> {
    let prefix = c.link.alias.to_uppercase().replace('-', "_");
    let mut env = vec![format!("{prefix}_NAME=/{parent}/{}", c.link.alias)];
    let mut ports: Vec<(u16, String)> = c
        .rec
        .config
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys())
        .filter_map(|p| {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Some((port.parse().ok()?, proto.to_string()))
        })
        .collect();
    ports.sort();
    if let Some((port, proto)) = ports.first() {
        env.push(format!("{prefix}_PORT={proto}://{}:{port}", c.ip));
    }
    for (port, proto) in &ports {
        let key = format!("{prefix}_PORT_{port}_{}", proto.to_uppercase());
        env.push(format!("{key}={proto}://{}:{port}", c.ip));
        env.push(format!("{key}_ADDR={}", c.ip));
        env.push(format!("{key}_PORT={port}"));
        env.push(format!("{key}_PROTO={proto}"));
    }
    for var in c.rec.config.env.iter().flatten() {
        let Some((key, value)) = var.split_once('=') else {
            continue;
        };
        // dockerd leaves out what every image sets (its records hold no HOSTNAME).
        if !matches!(key, "HOME" | "PATH" | "HOSTNAME") {
            env.push(format!("{prefix}_ENV_{key}={value}"));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_in_each_spelling() {
        let l = |target: &str, alias: &str| Link {
            target: target.into(),
            alias: alias.into(),
        };
        assert_eq!(Link::parse("db"), l("db", "db"));
        assert_eq!(Link::parse("db:database"), l("db", "database"));
        assert_eq!(Link::parse("/db:/web/database"), l("db", "database"));
        assert_eq!(l("db", "database").stored("web"), "/db:/web/database");
    }
}
