//! `network_mode:` and `networks:` as the network mode and one endpoint per network (the one
//! with the highest priority first, as docker compose orders them); without bridge networking
//! in the engine, what would be lost is warned about.

use std::collections::HashMap;

use crate::compose::model::NetworkMode;
use crate::compose::plan::{container_name, network_name};
use crate::docker::create::{endpoint, Networking};

use super::{Ctx, Warnings};

pub(super) fn networking(cx: &Ctx, warn: &mut Warnings) -> Result<Networking, String> {
    let mode = |m: String| Networking {
        mode: Some(m),
        ..Default::default()
    };
    Ok(match &cx.svc.network_mode {
        Some(NetworkMode::Host) => mode("host".into()),
        Some(NetworkMode::None) => mode("none".into()),
        Some(NetworkMode::Bridge) => mode("bridge".into()),
        Some(NetworkMode::Container(c)) => mode(format!("container:{c}")),
        Some(NetworkMode::Service(x)) => {
            let target =
                cx.inp.network_container.clone().ok_or_else(|| {
                    cx.err("network_mode", format!("service {x:?} has no container"))
                })?;
            mode(format!("container:{target}"))
        }
        None if cx.inp.networking => endpoints(cx),
        None => {
            unavailable(cx, warn);
            Networking::default()
        }
    })
}

fn endpoints(cx: &Ctx) -> Networking {
    let (project, svc) = (cx.project, cx.svc);
    let mut nets: Vec<(&String, i64)> = svc
        .networks
        .iter()
        .map(|(k, v)| (k, v.as_ref().and_then(|n| n.priority).unwrap_or(0)))
        .collect();
    nets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut out = Networking {
        endpoints: HashMap::new(),
        ..Default::default()
    };
    for (i, (key, _)) in nets.iter().enumerate() {
        let cfg = svc.networks[*key].clone().unwrap_or_default();
        let mut aliases = vec![cx.inp.service.to_string()];
        aliases.extend(cfg.aliases.iter().cloned());
        let links: Vec<String> = svc
            .links
            .iter()
            .map(|l| {
                let (svc_name, alias) = l.split_once(':').unwrap_or((l, l));
                format!("{}:{alias}", container_name(project, svc_name, 1))
            })
            .collect();
        let net = network_name(project, key);
        if i == 0 {
            out.mode = Some(net.clone());
        }
        let ips = (cfg.ipv4_address.clone(), cfg.ipv6_address.clone());
        let mut e = endpoint(aliases, links, ips, cfg.priority);
        // The service-level address is its first network's, as in compose.
        e.mac_address = cfg
            .mac_address
            .clone()
            .or_else(|| svc.mac_address.clone().filter(|_| i == 0));
        out.endpoints.insert(net, e);
    }
    out
}

fn unavailable(cx: &Ctx, warn: &mut Warnings) {
    if !cx.svc.links.is_empty() {
        warn.warn(
            "links",
            "networking is not available in this engine: links are not resolvable",
        );
    }
    for (key, cfg) in &cx.svc.networks {
        if let Some(c) = cfg {
            if !c.aliases.is_empty() || c.ipv4_address.is_some() || c.ipv6_address.is_some() {
                warn.warn(
                    &format!("networks.{key}"),
                    "networking is not available in this engine: aliases and addresses are ignored",
                );
            }
        }
    }
}
