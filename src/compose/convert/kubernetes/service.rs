//! Services: one per compose service, so its name resolves in the cluster as on a compose
//! network. A service with ports gets a ClusterIP Service on them (the published port, else the
//! container's); one without gets a headless Service, whose name resolves to its ready pods.
//! Network aliases and link aliases become further Services on the same pods.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{dns_label, Cx};
use crate::compose::model::{Protocol, Service};

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    }
}

/// The container ports a service listens on: its `ports` targets and its `expose` entries.
pub(super) fn target_ports(svc: &Service) -> Vec<(u16, &'static str)> {
    let mut out: Vec<(u16, &'static str)> = svc
        .ports
        .iter()
        .map(|p| (p.target, protocol(p.protocol)))
        .collect();
    for e in &svc.expose {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let proto = match proto {
            "udp" => "UDP",
            "sctp" => "SCTP",
            _ => "TCP",
        };
        // a range (`8000-8010`) lists each port
        let (lo, hi) = port.split_once('-').unwrap_or((port, port));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
            for p in lo..=hi.min(lo.saturating_add(100)) {
                out.push((p, proto));
            }
        }
    }
    out
}

/// The Service's ports: `(port, targetPort, protocol)`, without repeats.
fn service_ports(cx: &mut Cx<'_>, name: &str, svc: &Service) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    let mut ports = Vec::new();
    for p in &svc.ports {
        let port = match p.published.as_deref().map(|s| s.parse::<u16>()) {
            Some(Ok(published)) if published != 0 => published,
            Some(_) if p.published.as_deref().is_some_and(|s| s.contains('-')) => {
                cx.report.drop_key(
                    format!("services.{name}.ports"),
                    "a published port range is served on the container port in the cluster",
                );
                p.target
            }
            _ => p.target,
        };
        if seen.insert((port, protocol(p.protocol))) {
            ports.push((port, p.target, protocol(p.protocol)));
        }
    }
    if svc.ports.iter().any(|p| p.published.is_some()) {
        cx.report.drop_key(
            format!("services.{name}.ports"),
            "published ports are served inside the cluster on the Service; reach them from outside with an Ingress, a LoadBalancer or `kubectl port-forward`",
        );
    }
    for (port, proto) in target_ports(svc).into_iter().skip(svc.ports.len()) {
        if seen.insert((port, proto)) {
            ports.push((port, port, proto));
        }
    }
    ports
        .into_iter()
        .map(|(port, target, proto)| {
            json!({
                "name": format!("{}-{port}", proto.to_ascii_lowercase()),
                "port": port,
                "targetPort": target,
                "protocol": proto,
            })
        })
        .collect()
}

/// The Services of one compose service.
pub(super) fn services(cx: &mut Cx<'_>, name: &str, svc: &Service) {
    let ports = service_ports(cx, name, svc);
    let mut names = vec![dns_label(name)];
    for alias in svc
        .networks
        .values()
        .flatten()
        .flat_map(|a| a.aliases.iter())
    {
        names.push(dns_label(alias));
    }
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n.clone()) {
            continue;
        }
        push_service(cx, &n, name, &ports);
    }
    link_aliases(cx, name, svc);
}

/// A Service `name` selecting `service`'s pods: on `ports`, or headless without any.
fn push_service(cx: &mut Cx<'_>, name: &str, service: &str, ports: &[Value]) {
    let mut spec = json!({ "selector": cx.selector(service) });
    if ports.is_empty() {
        spec["clusterIP"] = json!("None");
    } else {
        spec["ports"] = json!(ports);
    }
    let body = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": cx.metadata(name, Some(service)),
        "spec": spec,
    });
    cx.push("Service", name, body);
}

/// `links: [db:database]` makes `database` resolve to `db` in this service: a Service named
/// after the alias, selecting `db`'s pods.
fn link_aliases(cx: &mut Cx<'_>, name: &str, svc: &Service) {
    for link in &svc.links {
        let Some((target, alias)) = link.split_once(':') else {
            continue;
        };
        let Some(target_svc) = cx.project.services.get(target) else {
            continue;
        };
        let alias = dns_label(alias);
        if cx
            .out
            .iter()
            .any(|m| m.kind == "Service" && m.name == alias)
        {
            continue;
        }
        cx.report.drop_key(
            format!("services.{name}.links"),
            format!(
                "the alias {alias} resolves for every pod in the namespace, not only in {name}"
            ),
        );
        let ports = service_ports(cx, target, target_svc);
        push_service(cx, &alias, target, &ports);
    }
}
