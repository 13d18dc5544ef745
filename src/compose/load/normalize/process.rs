//! What the service runs and with what: `command`/`entrypoint` (a string split as a shell
//! would), `environment`, `env_file`, `build` and `extends`.

use crate::compose::error::{ComposeError, Result};
use crate::compose::load::env::Environment;
use crate::compose::value::{KeyPath, Node, V};

use super::paths::{is_remote_context, resolve_path};
use super::scalar::{string_list, string_map, to_bool, to_string};
use super::{not_applied, Map, NormCtx};

pub(crate) fn environment(n: &Node, p: &KeyPath, env: &Environment) -> Result<Node> {
    let mut out = Map::new();
    let mut put = |k: String, v: Option<String>, at: &Node| {
        let val = match v {
            Some(s) => V::Str(s),
            None => env.get(&k).map(V::Str).unwrap_or(V::Null),
        };
        out.insert(k, at.derive(val));
    };
    match &n.v {
        V::Map(m) => {
            for (k, v) in m {
                let s = if v.is_null() {
                    None
                } else {
                    Some(to_string(v, &p.key(k))?)
                };
                put(k.clone(), s, v);
            }
        }
        V::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let s = to_string(it, &p.index(i))?;
                match s.split_once('=') {
                    Some((k, v)) => put(k.to_string(), Some(v.to_string()), it),
                    None => put(s, None, it),
                }
            }
        }
        V::Null => {}
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a list of KEY=VALUE or a mapping",
            ))
        }
    }
    Ok(n.derive(V::Map(out)))
}

pub(crate) fn command(n: &Node, p: &KeyPath) -> Result<Option<Node>> {
    Ok(Some(match &n.v {
        V::Null => return Ok(Some(n.clone())),
        V::Str(s) => {
            let words = shell_words::split(s).map_err(|e| {
                ComposeError::value(
                    n.pos.clone(),
                    p,
                    s.clone(),
                    format!("a command line with balanced quotes ({e})"),
                )
            })?;
            n.derive(V::Seq(
                words.into_iter().map(|w| n.derive(V::Str(w))).collect(),
            ))
        }
        _ => string_list(n, p)?,
    }))
}

pub(super) fn build(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let mut m = match &n.v {
        V::Str(s) => {
            let mut m = Map::new();
            m.insert("context".into(), n.derive(V::Str(s.clone())));
            m
        }
        V::Map(m) => m.clone(),
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a build context path or a mapping",
            ))
        }
    };
    let ctxs = match m.get("context") {
        Some(c) => to_string(c, &p.key("context"))?,
        None => ".".into(),
    };
    let resolved = if is_remote_context(&ctxs) {
        ctxs
    } else {
        resolve_path(&ctxs, ctx)
    };
    m.insert("context".into(), n.derive(V::Str(resolved)));
    if let Some(a) = m.get("args") {
        let args = environment(a, &p.key("args"), ctx.env)?;
        m.insert("args".into(), args);
    }
    if let Some(l) = m.get("labels") {
        let l = string_map(l, &p.key("labels"))?;
        m.insert("labels".into(), l);
    }
    if let Some(h) = m.get("extra_hosts") {
        let h = super::networks::extra_hosts(h, &p.key("extra_hosts"))?;
        m.insert("extra_hosts".into(), h);
    }
    if let Some(s) = m.get("shm_size") {
        let s = super::scalar::bytes(s, &p.key("shm_size"))?;
        m.insert("shm_size".into(), s);
    }
    for flag in ["no_cache", "pull"] {
        if let Some(b) = m.get(flag) {
            let b = b.derive(V::Bool(to_bool(b, &p.key(flag))?));
            m.insert(flag.into(), b);
        }
    }
    if let Some(s) = m.get("secrets") {
        let s = super::files::file_refs(s, &p.key("secrets"))?;
        m.insert("secrets".into(), s);
    }
    const BUILD_KEYS: &[&str] = &[
        "context",
        "dockerfile",
        "dockerfile_inline",
        "args",
        "target",
        "labels",
        "network",
        "cache_from",
        "tags",
        "extra_hosts",
        "shm_size",
        "no_cache",
        "pull",
        "secrets",
    ];
    let drop: Vec<String> = m
        .keys()
        .filter(|k| !BUILD_KEYS.contains(&k.as_str()) && !k.starts_with("x-"))
        .cloned()
        .collect();
    for k in drop {
        if let Some(n) = m.shift_remove(&k) {
            not_applied(ctx, &n, &p.key(&k));
        }
    }
    Ok(n.derive(V::Map(m)))
}

pub(super) fn env_file(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let items = match &n.v {
        V::Seq(s) => s.clone(),
        _ => vec![n.clone()],
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let ip = p.index(i);
        let mut m = Map::new();
        match &it.v {
            V::Map(im) => {
                let path = im.get("path").ok_or_else(|| {
                    ComposeError::invalid(it.pos.clone(), &ip, "missing required key \"path\"")
                })?;
                m.insert(
                    "path".into(),
                    path.derive(V::Str(resolve_path(
                        &to_string(path, &ip.key("path"))?,
                        ctx,
                    ))),
                );
                let req = match im.get("required") {
                    Some(r) => to_bool(r, &ip.key("required"))?,
                    None => true,
                };
                m.insert("required".into(), it.derive(V::Bool(req)));
                if let Some(f) = im.get("format") {
                    m.insert(
                        "format".into(),
                        f.derive(V::Str(to_string(f, &ip.key("format"))?)),
                    );
                }
            }
            _ => {
                m.insert(
                    "path".into(),
                    it.derive(V::Str(resolve_path(&to_string(it, &ip)?, ctx))),
                );
                m.insert("required".into(), it.derive(V::Bool(true)));
            }
        }
        out.push(it.derive(V::Map(m)));
    }
    Ok(n.derive(V::Seq(out)))
}

pub(super) fn extends(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let mut o = Map::new();
    match &n.v {
        V::Str(s) => {
            o.insert("service".into(), n.derive(V::Str(s.clone())));
        }
        V::Map(m) => {
            let s = m.get("service").ok_or_else(|| {
                ComposeError::invalid(n.pos.clone(), p, "missing required key \"service\"")
            })?;
            o.insert(
                "service".into(),
                s.derive(V::Str(to_string(s, &p.key("service"))?)),
            );
            if let Some(f) = m.get("file") {
                o.insert(
                    "file".into(),
                    f.derive(V::Str(resolve_path(&to_string(f, &p.key("file"))?, ctx))),
                );
            }
        }
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a service name or a mapping with service and file",
            ))
        }
    }
    Ok(n.derive(V::Map(o)))
}
