//! Phase 4: normalisation of one file to the long syntax (ports, volumes, depends_on,
//! environment, env_file, durations, byte sizes, healthcheck, deploy.resources, labels,
//! extra_hosts, ulimits, networks, secrets/configs), with relative paths resolved against the
//! file's base directory. The result is the serde form of [`crate::compose::model`].

use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;

use crate::compose::error::{ComposeError, Result};
use crate::compose::load::env::Environment;
use crate::compose::model::{ByteSize, Duration, NetworkMode, RestartPolicy};
use crate::compose::value::{fmt_float, KeyPath, Node, V};

/// What normalisation needs to know.
pub struct NormCtx<'a> {
    /// Directory relative paths are resolved against.
    pub base_dir: &'a Path,
    /// Variables for `environment: [NAME]` without a value and for `~`.
    pub env: &'a Environment,
    /// Warnings (unsupported keys...) are pushed here.
    pub warnings: &'a mut Vec<String>,
}

type Map = IndexMap<String, Node>;

/// The one policy for valid keys wharf cannot apply: accepted, dropped from the model and
/// reported once, with where they are and what is not applied.
pub(crate) fn not_applied(ctx: &mut NormCtx<'_>, node: &Node, p: &KeyPath) {
    let at =
        crate::compose::error::Location::from(node.key_pos.clone().or_else(|| node.pos.clone()));
    ctx.warnings
        .push(format!("{at}: {p}: not supported by wharf, ignored"));
}

/// Normalise a whole document in place.
pub fn normalize_document(doc: &mut Node, ctx: &mut NormCtx<'_>) -> Result<()> {
    let root = KeyPath::root();
    let Some(m) = doc.as_map_mut() else {
        return Ok(());
    };
    if let Some(services) = m.get_mut("services") {
        let sp = root.key("services");
        if services.is_null() {
            services.v = V::Map(Map::new());
        }
        if let Some(sm) = services.as_map_mut() {
            for (name, svc) in sm.iter_mut() {
                let p = sp.key(name);
                if svc.is_null() {
                    svc.v = V::Map(Map::new());
                }
                normalize_service(svc, &p, ctx)?;
            }
        }
    }
    for section in ["networks", "volumes", "secrets", "configs"] {
        if let Some(sec) = m.get_mut(section) {
            let sp = root.key(section);
            if sec.is_null() {
                sec.v = V::Map(Map::new());
            }
            if let Some(sm) = sec.as_map_mut() {
                for (name, obj) in sm.iter_mut() {
                    if name.starts_with("x-") {
                        continue;
                    }
                    if obj.is_null() {
                        obj.v = V::Map(Map::new());
                    }
                    normalize_resource(section, obj, &sp.key(name), ctx)?;
                }
            }
        }
    }
    Ok(())
}

fn normalize_resource(
    section: &str,
    obj: &mut Node,
    path: &KeyPath,
    ctx: &mut NormCtx<'_>,
) -> Result<()> {
    let Some(m) = obj.as_map_mut() else {
        return Ok(());
    };
    // legacy `external: {name: x}`
    if let Some(ext) = m.get("external").cloned() {
        if let Some(em) = ext.as_map() {
            if let Some(n) = em.get("name") {
                if !m.contains_key("name") {
                    m.insert("name".into(), n.clone());
                }
            }
            ctx.warnings.push(format!(
                "{}: external.name is deprecated, use name",
                path.key("external")
            ));
            m.insert("external".into(), ext.derive(V::Bool(true)));
        } else {
            let b = to_bool(&ext, &path.key("external"))?;
            m.insert("external".into(), ext.derive(V::Bool(b)));
        }
    }
    for key in ["labels", "driver_opts"] {
        if let Some(n) = m.get(key) {
            let nn = string_map(n, &path.key(key))?;
            m.insert(key.into(), nn);
        }
    }
    for key in ["internal", "attachable", "enable_ipv6"] {
        if let Some(n) = m.get(key) {
            let b = to_bool(n, &path.key(key))?;
            let nn = n.derive(V::Bool(b));
            m.insert(key.into(), nn);
        }
    }
    if let Some(ipam) = m.get_mut("ipam") {
        if let Some(im) = ipam.as_map_mut() {
            if let Some(opts) = im.get("options") {
                let nn = string_map(opts, &path.key("ipam").key("options"))?;
                im.insert("options".into(), nn);
            }
        }
    }
    if section == "secrets" || section == "configs" {
        if let Some(f) = m.get("file") {
            let s = to_string(f, &path.key("file"))?;
            let nn = f.derive(V::Str(resolve_path(&s, ctx)));
            m.insert("file".into(), nn);
        }
        for unsupported in ["driver", "driver_opts", "template_driver"] {
            if let Some(n) = m.shift_remove(unsupported) {
                not_applied(ctx, &n, &path.key(unsupported));
            }
        }
    }
    if section == "volumes" || section == "networks" {
        let supported: &[&str] = if section == "volumes" {
            &["name", "driver", "driver_opts", "external", "labels"]
        } else {
            &[
                "name",
                "driver",
                "driver_opts",
                "ipam",
                "internal",
                "attachable",
                "enable_ipv6",
                "external",
                "labels",
            ]
        };
        let drop: Vec<String> = m
            .keys()
            .filter(|k| !k.starts_with("x-") && !supported.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in drop {
            if let Some(n) = m.shift_remove(&k) {
                not_applied(ctx, &n, &path.key(&k));
            }
        }
    }
    Ok(())
}

/// Service keys wharf honours (others are dropped with a warning).
const SERVICE_KEYS: &[&str] = &[
    "profiles",
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "volumes_from",
    "networks",
    "network_mode",
    "depends_on",
    "links",
    "healthcheck",
    "restart",
    "user",
    "working_dir",
    "hostname",
    "domainname",
    "extra_hosts",
    "dns",
    "dns_search",
    "dns_opt",
    "labels",
    "container_name",
    "init",
    "stop_signal",
    "stop_grace_period",
    "tty",
    "stdin_open",
    "cap_add",
    "cap_drop",
    "privileged",
    "read_only",
    "security_opt",
    "ulimits",
    "sysctls",
    "mem_limit",
    "cpus",
    "pids_limit",
    "shm_size",
    "tmpfs",
    "deploy",
    "scale",
    "pull_policy",
    "secrets",
    "configs",
    "logging",
    "platform",
    "extends",
    "develop",
    "post_start",
    "pre_stop",
];

fn normalize_service(svc: &mut Node, path: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<()> {
    let Some(m) = svc.as_map_mut() else {
        return Ok(());
    };
    let keys: Vec<String> = m.keys().cloned().collect();
    for k in keys {
        let p = path.key(&k);
        let node = m.get(&k).unwrap().clone();
        if k.starts_with("x-") {
            continue;
        }
        if !SERVICE_KEYS.contains(&k.as_str()) {
            m.shift_remove(&k);
            not_applied(ctx, &node, &p);
            continue;
        }
        let new = match k.as_str() {
            "build" => Some(build(&node, &p, ctx)?),
            "command" | "entrypoint" => command(&node, &p)?,
            "environment" => Some(environment(&node, &p, ctx.env)?),
            "env_file" => Some(env_file(&node, &p, ctx)?),
            "ports" => Some(ports(&node, &p)?),
            "expose" | "profiles" | "links" | "volumes_from" | "cap_add" | "cap_drop"
            | "security_opt" | "dns_opt" => Some(string_list(&node, &p)?),
            "dns" | "dns_search" => Some(string_list(&node, &p)?),
            "tmpfs" => Some(tmpfs_list(&node, &p)?),
            "volumes" => Some(volumes(&node, &p, ctx)?),
            "networks" => Some(service_networks(&node, &p, ctx)?),
            "network_mode" => {
                let s = to_string(&node, &p)?;
                NetworkMode::try_from(s.clone())
                    .map_err(|e| ComposeError::value(node.pos.clone(), &p, s, e))?;
                None
            }
            "depends_on" => Some(depends_on(&node, &p)?),
            "healthcheck" => Some(healthcheck(&node, &p)?),
            "restart" => {
                let s = to_string(&node, &p)?;
                RestartPolicy::try_from(s.clone()).map_err(|_| {
                    ComposeError::value(
                        node.pos.clone(),
                        &p,
                        s,
                        "no, always, on-failure[:N] or unless-stopped",
                    )
                })?;
                None
            }
            "extra_hosts" => Some(extra_hosts(&node, &p)?),
            "labels" | "sysctls" => Some(string_map(&node, &p)?),
            "init" | "tty" | "stdin_open" | "privileged" | "read_only" => {
                Some(node.derive(V::Bool(to_bool(&node, &p)?)))
            }
            "stop_grace_period" => Some(duration(&node, &p)?),
            "ulimits" => Some(ulimits(&node, &p)?),
            "mem_limit" | "shm_size" => Some(bytes(&node, &p)?),
            "cpus" => Some(node.derive(V::Float(to_float(&node, &p)?))),
            "pids_limit" => Some(node.derive(V::Int(to_int(&node, &p)?))),
            "scale" => Some(node.derive(V::Int(to_uint(&node, &p)?))),
            "deploy" => Some(deploy(&node, &p, ctx)?),
            "pull_policy" => Some(pull_policy(&node, &p, ctx)?),
            "secrets" | "configs" => Some(file_refs(&node, &p)?),
            "logging" => match logging(&node, &p, ctx)? {
                Some(l) => Some(l),
                None => {
                    m.shift_remove(&k);
                    continue;
                }
            },
            "extends" => Some(extends(&node, &p, ctx)?),
            "develop" => Some(super::develop::develop(&node, &p, ctx)?),
            "post_start" | "pre_stop" => Some(super::develop::hooks(&node, &p, ctx)?),
            _ => {
                if let V::Int(_) | V::Float(_) | V::Bool(_) = node.v {
                    Some(node.derive(V::Str(node.scalar_string().unwrap_or_default())))
                } else {
                    None
                }
            }
        };
        if let Some(mut n) = new {
            n.tag = node.tag;
            n.key_pos = node.key_pos.clone();
            m.insert(k, n);
        }
    }
    Ok(())
}

// ---- scalar casts -------------------------------------------------------------------------

pub(crate) fn to_bool(n: &Node, p: &KeyPath) -> Result<bool> {
    match &n.v {
        V::Bool(b) => Ok(*b),
        V::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(true),
            "false" | "no" | "n" | "off" | "0" | "" => Ok(false),
            _ => Err(ComposeError::value(
                n.pos.clone(),
                p,
                s.clone(),
                "a boolean (true or false)",
            )),
        },
        _ => Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.scalar_string().unwrap_or_else(|| n.kind().into()),
            "a boolean (true or false)",
        )),
    }
}

fn to_int(n: &Node, p: &KeyPath) -> Result<i64> {
    match &n.v {
        V::Int(i) => Ok(*i),
        V::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        V::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| ComposeError::value(n.pos.clone(), p, s.clone(), "an integer")),
        _ => Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.scalar_string().unwrap_or_else(|| n.kind().into()),
            "an integer",
        )),
    }
}

fn to_uint(n: &Node, p: &KeyPath) -> Result<i64> {
    let i = to_int(n, p)?;
    if i < 0 {
        return Err(ComposeError::value(
            n.pos.clone(),
            p,
            i.to_string(),
            "a non-negative integer",
        ));
    }
    Ok(i)
}

fn to_float(n: &Node, p: &KeyPath) -> Result<f64> {
    match &n.v {
        V::Int(i) => Ok(*i as f64),
        V::Float(f) => Ok(*f),
        V::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| ComposeError::value(n.pos.clone(), p, s.clone(), "a number")),
        _ => Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a number")),
    }
}

pub(crate) fn to_string(n: &Node, p: &KeyPath) -> Result<String> {
    match &n.v {
        V::Str(s) => Ok(s.clone()),
        V::Int(_) | V::Float(_) | V::Bool(_) => Ok(n.scalar_string().unwrap()),
        _ => Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a string")),
    }
}

fn duration(n: &Node, p: &KeyPath) -> Result<Node> {
    let s = to_string(n, p)?;
    let d = Duration::parse(&s).map_err(|_| {
        ComposeError::value(
            n.pos.clone(),
            p,
            s,
            "a duration such as 10s, 1m30s or 500ms",
        )
    })?;
    Ok(n.derive(V::Str(d.to_string())))
}

fn bytes(n: &Node, p: &KeyPath) -> Result<Node> {
    let b = match &n.v {
        V::Int(i) if *i >= 0 => *i as u64,
        _ => {
            let s = to_string(n, p)?;
            ByteSize::parse(&s)
                .map_err(|_| {
                    ComposeError::value(n.pos.clone(), p, s, "a byte size such as 512m, 1g or 1024")
                })?
                .0
        }
    };
    Ok(n.derive(V::Int(b as i64)))
}

// ---- paths --------------------------------------------------------------------------------

/// Lexically clean a path (`.` and `..` components), without touching the filesystem.
pub fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Resolve `~` and a relative path against the base directory.
pub fn resolve_path(s: &str, ctx: &NormCtx<'_>) -> String {
    resolve_path_in(s, ctx.base_dir, ctx.env)
}

pub(crate) fn resolve_path_in(s: &str, base: &Path, env: &Environment) -> String {
    let expanded = if s == "~" || s.starts_with("~/") {
        let home = env.get("HOME").unwrap_or_else(|| "/root".into());
        format!("{home}{}", &s[1..])
    } else {
        s.to_string()
    };
    let p = Path::new(&expanded);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    clean_path(&abs).display().to_string()
}

/// A mount target in the container, cleaned as docker compose does (`/data/` → `/data`).
fn clean_target(t: &str) -> String {
    match t.starts_with('/') {
        true => clean_path(Path::new(t)).display().to_string(),
        false => t.to_string(),
    }
}

/// `tmpfs:` entries: the path cleaned, its options (`/run:size=64m`) kept.
fn tmpfs_list(n: &Node, p: &KeyPath) -> Result<Node> {
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

fn is_remote_context(s: &str) -> bool {
    s.contains("://") || s.starts_with("git@") || s.starts_with("github.com/")
}

// ---- compound keys ------------------------------------------------------------------------

pub(crate) fn string_list(n: &Node, p: &KeyPath) -> Result<Node> {
    let items = match &n.v {
        V::Seq(s) => s.clone(),
        V::Null => vec![],
        _ => vec![n.clone()],
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        out.push(it.derive(V::Str(to_string(it, &p.index(i))?)));
    }
    Ok(n.derive(V::Seq(out)))
}

/// `list_or_dict` → mapping of strings (`KEY=VAL` items; a null value becomes "").
fn string_map(n: &Node, p: &KeyPath) -> Result<Node> {
    let mut out = Map::new();
    match &n.v {
        V::Map(m) => {
            for (k, v) in m {
                let s = if v.is_null() {
                    String::new()
                } else {
                    to_string(v, &p.key(k))?
                };
                let mut nn = v.derive(V::Str(s));
                nn.key_pos = v.key_pos.clone();
                out.insert(k.clone(), nn);
            }
        }
        V::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let s = to_string(it, &p.index(i))?;
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                out.insert(k.trim().to_string(), it.derive(V::Str(v.to_string())));
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

fn build(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
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

fn env_file(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
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

/// Parse a port range `a` or `a-b`.
fn port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => {
            let a: u16 = s.parse().ok()?;
            Some((a, a))
        }
    }
}

/// One mapping of a short port spec: host ip, published port or range, target, protocol.
pub type PortMapping = (Option<String>, Option<String>, u16, String);

/// Parse a short port spec (Docker's grammar, [`crate::docker::port`]) into long-syntax
/// mappings.
pub fn parse_port_spec(spec: &str) -> Result<Vec<PortMapping>, String> {
    let parsed = crate::docker::port::parse(spec).map_err(|_| {
        "a port such as 80, 8080:80, 127.0.0.1:8080:80, 8000-8010:80-90 or 53:53/udp".to_string()
    })?;
    Ok(parsed
        .published()
        .into_iter()
        .map(|p| {
            let published = Some(p.host_port_text()).filter(|h| !h.is_empty());
            let ip = p.host_ip.map(|ip| ip.to_string());
            (ip, published, p.container_port, p.protocol.to_string())
        })
        .collect())
}

fn ports(n: &Node, p: &KeyPath) -> Result<Node> {
    let Some(items) = n.as_seq() else {
        return Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.kind(),
            "a list of ports",
        ));
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let ip = p.index(i);
        match &it.v {
            V::Map(m) => {
                let mut o = Map::new();
                if let Some(x) = m.get("name") {
                    o.insert(
                        "name".into(),
                        x.derive(V::Str(to_string(x, &ip.key("name"))?)),
                    );
                }
                let mode = match m.get("mode") {
                    Some(x) => to_string(x, &ip.key("mode"))?,
                    None => "ingress".into(),
                };
                o.insert("mode".into(), it.derive(V::Str(mode)));
                if let Some(x) = m.get("host_ip") {
                    o.insert(
                        "host_ip".into(),
                        x.derive(V::Str(to_string(x, &ip.key("host_ip"))?)),
                    );
                }
                let t = m.get("target").ok_or_else(|| {
                    ComposeError::invalid(it.pos.clone(), &ip, "missing required key \"target\"")
                })?;
                let tv = to_int(t, &ip.key("target"))?;
                if !(1..=65535).contains(&tv) {
                    return Err(ComposeError::value(
                        t.pos.clone(),
                        &ip.key("target"),
                        tv.to_string(),
                        "a port number between 1 and 65535",
                    ));
                }
                o.insert("target".into(), t.derive(V::Int(tv)));
                if let Some(x) = m.get("published") {
                    let s = to_string(x, &ip.key("published"))?;
                    if !s.is_empty() {
                        port_range(&s).ok_or_else(|| {
                            ComposeError::value(
                                x.pos.clone(),
                                &ip.key("published"),
                                s.clone(),
                                "a port or a port range",
                            )
                        })?;
                        o.insert("published".into(), x.derive(V::Str(s)));
                    }
                }
                let proto = match m.get("protocol") {
                    Some(x) => to_string(x, &ip.key("protocol"))?,
                    None => "tcp".into(),
                };
                o.insert("protocol".into(), it.derive(V::Str(proto)));
                if let Some(x) = m.get("app_protocol") {
                    o.insert(
                        "app_protocol".into(),
                        x.derive(V::Str(to_string(x, &ip.key("app_protocol"))?)),
                    );
                }
                out.push(it.derive(V::Map(o)));
            }
            _ => {
                let spec = to_string(it, &ip)?;
                let parsed = parse_port_spec(&spec)
                    .map_err(|e| ComposeError::value(it.pos.clone(), &ip, spec.clone(), e))?;
                for (host_ip, published, target, proto) in parsed {
                    if target == 0 {
                        return Err(ComposeError::value(
                            it.pos.clone(),
                            &ip,
                            spec.clone(),
                            "a port number between 1 and 65535",
                        ));
                    }
                    let mut o = Map::new();
                    o.insert("mode".into(), it.derive(V::Str("ingress".into())));
                    if let Some(h) = host_ip {
                        o.insert("host_ip".into(), it.derive(V::Str(h)));
                    }
                    o.insert("target".into(), it.derive(V::Int(target as i64)));
                    if let Some(pb) = published {
                        o.insert("published".into(), it.derive(V::Str(pb)));
                    }
                    o.insert("protocol".into(), it.derive(V::Str(proto)));
                    out.push(it.derive(V::Map(o)));
                }
            }
        }
    }
    Ok(n.derive(V::Seq(out)))
}

fn is_bind_source(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~')
}

fn volumes(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let Some(items) = n.as_seq() else {
        return Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.kind(),
            "a list of volumes",
        ));
    };
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

fn short_volume(
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

fn service_networks(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
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
                    let supported = ["aliases", "ipv4_address", "ipv6_address", "priority"];
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

fn depends_on(n: &Node, p: &KeyPath) -> Result<Node> {
    let mut out = Map::new();
    let entry = |at: &Node, cond: &str, required: bool, restart: bool| {
        let mut m = Map::new();
        m.insert("condition".into(), at.derive(V::Str(cond.into())));
        m.insert("required".into(), at.derive(V::Bool(required)));
        m.insert("restart".into(), at.derive(V::Bool(restart)));
        at.derive(V::Map(m))
    };
    match &n.v {
        V::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                out.insert(
                    to_string(it, &p.index(i))?,
                    entry(it, "service_started", true, false),
                );
            }
        }
        V::Map(m) => {
            for (k, v) in m {
                let kp = p.key(k);
                let cond = match v.get("condition") {
                    Some(c) => {
                        let s = to_string(c, &kp.key("condition"))?;
                        if ![
                            "service_started",
                            "service_healthy",
                            "service_completed_successfully",
                        ]
                        .contains(&s.as_str())
                        {
                            return Err(ComposeError::value(c.pos.clone(), &kp.key("condition"), s, "service_started, service_healthy or service_completed_successfully"));
                        }
                        s
                    }
                    None => "service_started".into(),
                };
                let required = match v.get("required") {
                    Some(r) => to_bool(r, &kp.key("required"))?,
                    None => true,
                };
                let restart = match v.get("restart") {
                    Some(r) => to_bool(r, &kp.key("restart"))?,
                    None => false,
                };
                let mut e = entry(v, &cond, required, restart);
                e.key_pos = v.key_pos.clone();
                out.insert(k.clone(), e);
            }
        }
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a list or a mapping of services",
            ))
        }
    }
    Ok(n.derive(V::Map(out)))
}

fn healthcheck(n: &Node, p: &KeyPath) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a mapping"));
    };
    let mut o = Map::new();
    for (k, v) in m {
        let kp = p.key(k);
        let nv = match k.as_str() {
            "test" => match &v.v {
                V::Str(s) => v.derive(V::Seq(vec![
                    v.derive(V::Str("CMD-SHELL".into())),
                    v.derive(V::Str(s.clone())),
                ])),
                _ => {
                    let l = string_list(v, &kp)?;
                    if let Some(first) = l.as_seq().and_then(|s| s.first()).and_then(Node::as_str) {
                        if !["CMD", "CMD-SHELL", "NONE"].contains(&first) {
                            return Err(ComposeError::value(
                                v.pos.clone(),
                                &kp,
                                first,
                                "a test list starting with CMD, CMD-SHELL or NONE, or a string",
                            ));
                        }
                    }
                    l
                }
            },
            "interval" | "timeout" | "start_period" | "start_interval" => duration(v, &kp)?,
            "retries" => v.derive(V::Int(to_uint(v, &kp)?)),
            "disable" => v.derive(V::Bool(to_bool(v, &kp)?)),
            _ => v.clone(),
        };
        o.insert(k.clone(), nv);
    }
    Ok(n.derive(V::Map(o)))
}

fn extra_hosts(n: &Node, p: &KeyPath) -> Result<Node> {
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

fn ulimits(n: &Node, p: &KeyPath) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a mapping"));
    };
    let mut o = Map::new();
    for (k, v) in m {
        let kp = p.key(k);
        let (soft, hard) = match &v.v {
            V::Map(lm) => {
                let soft = lm.get("soft").ok_or_else(|| {
                    ComposeError::invalid(v.pos.clone(), &kp, "missing required key \"soft\"")
                })?;
                let hard = lm.get("hard").ok_or_else(|| {
                    ComposeError::invalid(v.pos.clone(), &kp, "missing required key \"hard\"")
                })?;
                (
                    to_int(soft, &kp.key("soft"))?,
                    to_int(hard, &kp.key("hard"))?,
                )
            }
            _ => {
                let x = to_int(v, &kp)?;
                (x, x)
            }
        };
        let mut lm = Map::new();
        lm.insert("soft".into(), v.derive(V::Int(soft)));
        lm.insert("hard".into(), v.derive(V::Int(hard)));
        o.insert(k.clone(), v.derive(V::Map(lm)));
    }
    Ok(n.derive(V::Map(o)))
}

fn limits(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Ok(n.clone());
    };
    let mut o = Map::new();
    for (k, v) in m {
        let kp = p.key(k);
        match k.as_str() {
            "cpus" => {
                o.insert(k.clone(), v.derive(V::Float(to_float(v, &kp)?)));
            }
            "memory" => {
                o.insert(k.clone(), bytes(v, &kp)?);
            }
            "pids" => {
                o.insert(k.clone(), v.derive(V::Int(to_int(v, &kp)?)));
            }
            _ => not_applied(ctx, v, &kp),
        }
    }
    Ok(n.derive(V::Map(o)))
}

fn deploy(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Ok(n.clone());
    };
    let mut o = Map::new();
    for (k, v) in m {
        let kp = p.key(k);
        match k.as_str() {
            "replicas" => {
                o.insert(k.clone(), v.derive(V::Int(to_uint(v, &kp)?)));
            }
            "resources" => {
                let mut ro = Map::new();
                if let Some(rm) = v.as_map() {
                    for (rk, rv) in rm {
                        let rp = kp.key(rk);
                        match rk.as_str() {
                            "limits" | "reservations" => {
                                ro.insert(rk.clone(), limits(rv, &rp, ctx)?);
                            }
                            _ => not_applied(ctx, rv, &rp),
                        }
                    }
                }
                o.insert(k.clone(), v.derive(V::Map(ro)));
            }
            _ if k.starts_with("x-") => {}
            _ => not_applied(ctx, v, &kp),
        }
    }
    Ok(n.derive(V::Map(o)))
}

fn pull_policy(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let s = to_string(n, p)?;
    let v = match s.as_str() {
        "always" | "never" | "missing" | "build" => s.clone(),
        "if_not_present" => "missing".into(),
        "refresh" | "daily" | "weekly" => {
            ctx.warnings.push(format!(
                "{p}: pull_policy {s:?} is not supported by wharf, using \"missing\""
            ));
            "missing".into()
        }
        _ if s.starts_with("every_") => {
            ctx.warnings.push(format!(
                "{p}: pull_policy {s:?} is not supported by wharf, using \"missing\""
            ));
            "missing".into()
        }
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                s,
                "always, never, missing, if_not_present or build",
            ))
        }
    };
    Ok(n.derive(V::Str(v)))
}

fn octal(n: &Node, p: &KeyPath) -> Result<i64> {
    match &n.v {
        V::Int(i) => Ok(*i),
        V::Str(s) => i64::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| {
            ComposeError::value(n.pos.clone(), p, s.clone(), "a file mode such as 0440")
        }),
        _ => Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.kind(),
            "a file mode such as 0440",
        )),
    }
}

fn file_refs(n: &Node, p: &KeyPath) -> Result<Node> {
    let Some(items) = n.as_seq() else {
        return Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a list"));
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let ip = p.index(i);
        let mut o = Map::new();
        match &it.v {
            V::Map(m) => {
                for (k, v) in m {
                    let nv = match k.as_str() {
                        "mode" => v.derive(V::Int(octal(v, &ip.key(k))?)),
                        _ => v.derive(V::Str(to_string(v, &ip.key(k))?)),
                    };
                    o.insert(k.clone(), nv);
                }
            }
            _ => {
                o.insert("source".into(), it.derive(V::Str(to_string(it, &ip)?)));
            }
        }
        out.push(it.derive(V::Map(o)));
    }
    Ok(n.derive(V::Seq(out)))
}

/// `logging:`; a driver wharf does not have (syslog, journald, ...) is not applied: the
/// container logs to json-file, and the section is dropped with a warning.
fn logging(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Option<Node>> {
    let Some(m) = n.as_map() else {
        return Ok(Some(n.clone()));
    };
    let mut o = m.clone();
    if let Some(opts) = m.get("options") {
        o.insert("options".into(), string_map(opts, &p.key("options"))?);
    }
    if let Some(d) = m.get("driver") {
        let s = to_string(d, &p.key("driver"))?;
        if s != "json-file" && s != "local" && s != "none" {
            not_applied(ctx, d, &p.key("driver"));
            return Ok(None);
        }
    }
    Ok(Some(n.derive(V::Map(o))))
}

fn extends(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
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

/// Render a float the way the model prints it.
pub fn float_string(f: f64) -> String {
    fmt_float(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        let f = |s: &str| parse_port_spec(s).unwrap();
        assert_eq!(f("80"), vec![(None, None, 80, "tcp".into())]);
        assert_eq!(
            f("8080:80/udp"),
            vec![(None, Some("8080".into()), 80, "udp".into())]
        );
        assert_eq!(
            f("127.0.0.1:8080:80"),
            vec![(
                Some("127.0.0.1".into()),
                Some("8080".into()),
                80,
                "tcp".into()
            )]
        );
        assert_eq!(
            f("127.0.0.1::80"),
            vec![(Some("127.0.0.1".into()), None, 80, "tcp".into())]
        );
        assert_eq!(
            f("[::1]:8080:80"),
            vec![(Some("::1".into()), Some("8080".into()), 80, "tcp".into())]
        );
        assert_eq!(f("8000-8001:80-81").len(), 2);
        assert_eq!(f("3000-3002").len(), 3);
        assert_eq!(
            f("9000-9010:80"),
            vec![(None, Some("9000-9010".into()), 80, "tcp".into())]
        );
        assert!(parse_port_spec("80/xyz").is_err());
        assert!(parse_port_spec("8000-8002:80-81").is_err());
        assert!(parse_port_spec("a:b").is_err());
    }

    #[test]
    fn clean_paths() {
        assert_eq!(
            clean_path(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        let env = Environment::default();
        assert_eq!(resolve_path_in("./data", Path::new("/p"), &env), "/p/data");
        assert_eq!(resolve_path_in("../x", Path::new("/p/q"), &env), "/p/x");
        assert_eq!(resolve_path_in("/abs", Path::new("/p"), &env), "/abs");
    }
}
