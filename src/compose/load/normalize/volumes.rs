//! `volumes:` and `tmpfs:`: the short syntax (`src:dst:opts`) to the long one, bind sources
//! resolved, targets cleaned, and a long-syntax bind creating its source unless told not to.

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, V};

use super::paths::{clean_target, is_bind_source, resolve_path};
use super::scalar::{bytes, octal, seq, string_list, to_bool, to_string};
use super::{Map, NormCtx};

/// `tmpfs:` entries: the path cleaned, its options (`/run:size=64m`) kept.
pub(super) fn tmpfs_list(n: &Node, p: &KeyPath) -> Result<Node> {
    let mut list = string_list(n, p)?;
    if let V::Seq(items) = &mut list.v {
        for it in items.iter_mut() {
            if let V::Str(s) = &mut it.v {
                *s = match s.split_once(':') {
                    Some((path, opts)) => format!("{}:{opts}", clean_target(path)),
                    None => clean_target(s),
                };
            }
        }
    }
    Ok(list)
}

pub(super) fn volumes(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let items = seq(n, p, "a list of volumes")?;
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let ip = p.index(i);
        let mut o = Map::new();
        match &it.v {
            V::Map(m) => {
                let kind = match m.get("type") {
                    Some(t) => to_string(t, &ip.key("type"))?,
                    None => {
                        return Err(ComposeError::invalid(
                            it.pos.clone(),
                            &ip,
                            "missing required key \"type\" (volume, bind or tmpfs)",
                        ))
                    }
                };
                o.insert("type".into(), it.derive(V::Str(kind.clone())));
                if let Some(s) = m.get("source") {
                    let src = to_string(s, &ip.key("source"))?;
                    let src = if kind == "bind" {
                        resolve_path(&src, ctx)
                    } else {
                        src
                    };
                    o.insert("source".into(), s.derive(V::Str(src)));
                }
                let t = m.get("target").ok_or_else(|| {
                    ComposeError::invalid(it.pos.clone(), &ip, "missing required key \"target\"")
                })?;
                o.insert(
                    "target".into(),
                    t.derive(V::Str(clean_target(&to_string(t, &ip.key("target"))?))),
                );
                if let Some(r) = m.get("read_only") {
                    o.insert(
                        "read_only".into(),
                        r.derive(V::Bool(to_bool(r, &ip.key("read_only"))?)),
                    );
                }
                if let Some(c) = m.get("consistency") {
                    o.insert("consistency".into(), c.clone());
                }
                if let Some(b) = m.get("bind") {
                    let mut bo = b.as_map().cloned().unwrap_or_default();
                    if let Some(c) = bo.get("create_host_path") {
                        let v = to_bool(c, &ip.key("bind").key("create_host_path"))?;
                        bo.insert("create_host_path".into(), c.derive(V::Bool(v)));
                    }
                    o.insert("bind".into(), b.derive(V::Map(bo)));
                }
                if let Some(v) = m.get("volume") {
                    let mut vo = v.as_map().cloned().unwrap_or_default();
                    if let Some(c) = vo.get("nocopy") {
                        let b = to_bool(c, &ip.key("volume").key("nocopy"))?;
                        vo.insert("nocopy".into(), c.derive(V::Bool(b)));
                    }
                    o.insert("volume".into(), v.derive(V::Map(vo)));
                }
                if let Some(t) = m.get("tmpfs") {
                    let mut to = t.as_map().cloned().unwrap_or_default();
                    if let Some(s) = to.get("size") {
                        let b = bytes(s, &ip.key("tmpfs").key("size"))?;
                        to.insert("size".into(), b);
                    }
                    if let Some(md) = to.get("mode") {
                        let v = octal(md, &ip.key("tmpfs").key("mode"))?;
                        to.insert("mode".into(), md.derive(V::Int(v)));
                    }
                    o.insert("tmpfs".into(), t.derive(V::Map(to)));
                }
                // as docker compose: a long-syntax bind creates a missing source unless told
                // not to, and only `up` looks at the host
                if kind == "bind" {
                    let b = o
                        .entry("bind".to_string())
                        .or_insert_with(|| it.derive(V::Map(Map::new())));
                    if let Some(bm) = b.as_map_mut() {
                        if !bm.contains_key("create_host_path") {
                            bm.insert("create_host_path".into(), it.derive(V::Bool(true)));
                        }
                    }
                }
            }
            _ => {
                let spec = to_string(it, &ip)?;
                short_volume(&spec, it, &ip, &mut o, ctx)?;
            }
        }
        out.push(it.derive(V::Map(o)));
    }
    Ok(n.derive(V::Seq(out)))
}

pub(super) fn short_volume(
    spec: &str,
    it: &Node,
    ip: &KeyPath,
    o: &mut Map,
    ctx: &mut NormCtx<'_>,
) -> Result<()> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = || {
        ComposeError::value(
            it.pos.clone(),
            ip,
            spec,
            "a volume such as /data, name:/data, ./dir:/data or ./dir:/data:ro",
        )
    };
    let (src, dst, mode) = match parts.as_slice() {
        [d] => (None, *d, None),
        [s, d] => (Some(*s), *d, None),
        [s, d, m] => (Some(*s), *d, Some(*m)),
        _ => return Err(bad()),
    };
    if dst.is_empty() || src == Some("") {
        return Err(bad());
    }
    let bind = src.is_some_and(is_bind_source);
    o.insert(
        "type".into(),
        it.derive(V::Str(if bind { "bind" } else { "volume" }.into())),
    );
    if let Some(s) = src {
        let s = if bind {
            resolve_path(s, ctx)
        } else {
            s.to_string()
        };
        o.insert("source".into(), it.derive(V::Str(s)));
    }
    o.insert("target".into(), it.derive(V::Str(clean_target(dst))));
    let mut read_only = false;
    let mut bind_opts = Map::new();
    let mut vol_opts = Map::new();
    if bind {
        bind_opts.insert("create_host_path".into(), it.derive(V::Bool(true)));
    }
    for opt in mode.unwrap_or("").split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" => {
                bind_opts.insert("selinux".into(), it.derive(V::Str(opt.into())));
            }
            "nocopy" => {
                vol_opts.insert("nocopy".into(), it.derive(V::Bool(true)));
            }
            "shared" | "slave" | "private" | "rshared" | "rslave" | "rprivate" => {
                bind_opts.insert("propagation".into(), it.derive(V::Str(opt.into())));
            }
            "consistent" | "cached" | "delegated" => {
                o.insert("consistency".into(), it.derive(V::Str(opt.into())));
            }
            _ => {
                return Err(ComposeError::value(it.pos.clone(), ip, spec, format!("valid volume options (ro, rw, z, Z, nocopy, shared, slave, private, rshared, rslave, rprivate), not {opt:?}")))
            }
        }
    }
    if read_only {
        o.insert("read_only".into(), it.derive(V::Bool(true)));
    }
    if bind && !bind_opts.is_empty() {
        o.insert("bind".into(), it.derive(V::Map(bind_opts)));
    }
    if !bind && !vol_opts.is_empty() {
        o.insert("volume".into(), it.derive(V::Map(vol_opts)));
    }
    Ok(())
}
