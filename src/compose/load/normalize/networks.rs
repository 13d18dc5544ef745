//! A service's `networks:` (list or mapping; per-network keys wharf cannot apply dropped)
//! and `extra_hosts:` (`HOST=IP`, `HOST:IP` or a mapping) as host → addresses.

use crate::compose::error::{ComposeError, Result};
use crate::compose::model::NetworkMode;
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{string_list, to_int, to_string};
use super::{not_applied, Map, NormCtx};

pub(super) fn service_networks(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let mut out = Map::new();
    match &n.v {
        V::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                out.insert(to_string(it, &p.index(i))?, it.derive(V::Null));
            }
        }
        V::Map(m) => {
            for (k, v) in m {
                let mut nv = v.clone();
                if let Some(vm) = nv.as_map_mut() {
                    if let Some(a) = vm.get("aliases") {
                        let l = string_list(a, &p.key(k).key("aliases"))?;
                        vm.insert("aliases".into(), l);
                    }
                    if let Some(pr) = vm.get("priority") {
                        let i = to_int(pr, &p.key(k).key("priority"))?;
                        vm.insert("priority".into(), pr.derive(V::Int(i)));
                    }
                    let supported = [
                        "aliases",
                        "ipv4_address",
                        "ipv6_address",
                        "priority",
                        "mac_address",
                    ];
                    let unsupported: Vec<String> = vm
                        .keys()
                        .filter(|k| !supported.contains(&k.as_str()))
                        .cloned()
                        .collect();
                    for u in unsupported {
                        match vm.shift_remove(&u) {
                            Some(n) if !u.starts_with("x-") => {
                                not_applied(ctx, &n, &p.key(k).key(&u))
                            }
                            _ => {}
                        }
                    }
                }
                out.insert(k.clone(), nv);
            }
        }
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a list or a mapping of networks",
            ))
        }
    }
    Ok(n.derive(V::Map(out)))
}

pub(super) fn extra_hosts(n: &Node, p: &KeyPath) -> Result<Node> {
    let mut out: Map = Map::new();
    let mut add = |host: String, ip: String, at: &Node| {
        let e = out.entry(host).or_insert_with(|| at.derive(V::Seq(vec![])));
        if let V::Seq(s) = &mut e.v {
            s.push(at.derive(V::Str(ip)));
        }
    };
    match &n.v {
        V::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let s = to_string(it, &p.index(i))?;
                let (h, ip) = if let Some((h, ip)) = s.split_once('=') {
                    (h, ip)
                } else if let Some((h, ip)) = s.split_once(':') {
                    (h, ip)
                } else {
                    return Err(ComposeError::value(
                        it.pos.clone(),
                        &p.index(i),
                        s,
                        "HOST=IP or HOST:IP",
                    ));
                };
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                add(h.to_string(), ip.to_string(), it);
            }
        }
        V::Map(m) => {
            for (k, v) in m {
                match &v.v {
                    V::Seq(ips) => {
                        for (i, ip) in ips.iter().enumerate() {
                            add(k.clone(), to_string(ip, &p.key(k).index(i))?, ip);
                        }
                    }
                    _ => add(k.clone(), to_string(v, &p.key(k))?, v),
                }
            }
        }
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a list or a mapping of hosts",
            ))
        }
    }
    Ok(n.derive(V::Map(out)))
}

/// `network_mode:` is checked here and kept as written; the model parses it.
pub(super) fn network_mode(n: &Node, p: &KeyPath) -> Result<()> {
    let s = to_string(n, p)?;
    NetworkMode::try_from(s.clone()).map_err(|e| ComposeError::value(n.pos.clone(), p, s, e))?;
    Ok(())
}
