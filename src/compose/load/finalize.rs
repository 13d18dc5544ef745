//! Last phase: profiles, env_file contents, defaults (the default network, engine-side names of
//! networks, volumes, secrets and configs), cross-references (networks, volumes, secrets,
//! configs and dependencies must exist), and conversion to the typed [`Project`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::compose::error::{ComposeError, Result};
use crate::compose::load::env::{parse_dotenv, Environment};
use crate::compose::model::{volumes_from_service, MountType, NetworkMode, Project, Service};
use crate::compose::value::{KeyPath, Node, V};

/// The project-level facts decided before finalisation.
pub struct FinalizeInput<'a> {
    pub name: String,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled whatever their profiles.
    pub explicit_services: Vec<String>,
    pub env: &'a Environment,
}

fn services_path(name: &str) -> KeyPath {
    KeyPath::root().key("services").key(name)
}

/// Whether a service is enabled by the active profiles.
pub fn service_enabled(svc: &Node, profiles: &[String]) -> bool {
    let own: Vec<String> = svc
        .get("profiles")
        .and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(Node::scalar_string).collect())
        .unwrap_or_default();
    own.is_empty() || profiles.iter().any(|p| p == "*" || own.contains(p))
}

/// Build the typed project from the merged, normalised document, in phases: the top level,
/// profiles, dependencies (undefined, disabled, cycles), per-service defaults, engine-side
/// names, cross-references, then the typed model.
pub fn finalize(
    mut doc: Node,
    input: FinalizeInput<'_>,
    warnings: &mut Vec<String>,
) -> Result<Project> {
    let root = doc.clone(); // for positions
    let m = match doc.as_map_mut() {
        Some(m) => m,
        None => {
            return Err(ComposeError::invalid(
                doc.pos.clone(),
                &KeyPath::root(),
                "expected a mapping at the top level",
            ))
        }
    };
    top_level(m, &input.name, warnings);
    let (mut enabled, disabled) = split_by_profiles(m, &input);
    check_dependencies(&mut enabled, &disabled, warnings)?;
    check_cycles(&enabled)?;
    let uses_default = service_defaults(&mut enabled, input.env)?;
    if let Some(networks) = m.get_mut("networks").and_then(Node::as_map_mut) {
        if uses_default && !networks.contains_key("default") {
            networks.insert("default".into(), Node::map());
        }
    }
    engine_names(m, &input.name);

    // references to networks, volumes, secrets and configs
    for (name, svc) in &enabled {
        check_references(name, svc, m)?;
    }
    check_port_conflicts(&enabled)?;
    for svc in enabled.values_mut() {
        strip_nested_extensions(svc, true);
    }

    m.insert("services".into(), Node::new(V::Map(enabled)));
    let json = doc.to_json();
    let mut project: Project = serde_path_to_error::deserialize(json).map_err(|e| {
        let path = KeyPath::parse(&e.path().to_string());
        ComposeError::invalid(root.pos_of(&path.0), &path, e.inner().to_string())
    })?;
    for (k, v) in disabled {
        if let Ok(s) = serde_json::from_value::<Service>(v.to_json()) {
            project.disabled_services.insert(k, s);
        }
    }
    project.working_dir = input.working_dir;
    project.config_files = input.config_files;
    project.profiles = input.profiles;
    check_container_names(&project, &root)?;
    Ok(project)
}

/// The top level: `include` and `version` dropped, the project's name set, every section
/// present as a mapping, `models` warned about.
fn top_level(m: &mut IndexMap<String, Node>, name: &str, warnings: &mut Vec<String>) {
    m.shift_remove("include");
    m.shift_remove("version");
    m.insert("name".into(), Node::str(name.to_string()));
    for section in ["services", "networks", "volumes", "secrets", "configs"] {
        let e = m.entry(section.to_string()).or_insert_with(Node::map);
        if e.is_null() {
            *e = Node::map();
        }
    }
    if m.shift_remove("models").is_some() {
        warnings.push("models: not supported by wharf, ignored".into());
    }
}

type Services = IndexMap<String, Node>;

/// The services the active profiles (or the command line) enable, and the others.
fn split_by_profiles(
    m: &IndexMap<String, Node>,
    input: &FinalizeInput<'_>,
) -> (Services, Services) {
    let all: Services = m
        .get("services")
        .and_then(Node::as_map)
        .cloned()
        .unwrap_or_default();
    let mut enabled = Services::new();
    let mut disabled = Services::new();
    for (k, v) in all {
        if service_enabled(&v, &input.profiles) || input.explicit_services.contains(&k) {
            enabled.insert(k, v);
        } else {
            disabled.insert(k, v);
        }
    }
    (enabled, disabled)
}

/// Dependencies on undefined or disabled services are refused, except optional
/// `depends_on` entries, which are dropped with a warning.
fn check_dependencies(
    enabled: &mut Services,
    disabled: &Services,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let enabled_names: Vec<String> = enabled.keys().cloned().collect();
    for (name, svc) in enabled.iter_mut() {
        let deps = node_dependencies(svc);
        for (dep, via) in deps {
            if enabled_names.contains(&dep) || dep == *name {
                continue;
            }
            let optional = via == "depends_on"
                && svc
                    .get("depends_on")
                    .and_then(|d| d.get(&dep))
                    .and_then(|d| d.get("required"))
                    .is_some_and(|r| matches!(r.v, V::Bool(false)));
            if optional {
                warnings.push(format!(
                    "service {name:?}: optional dependency {dep:?} is not enabled, ignored"
                ));
                if let Some(d) = svc.get_mut("depends_on").and_then(Node::as_map_mut) {
                    d.shift_remove(&dep);
                }
                continue;
            }
            let at: crate::compose::error::Location = match via {
                "depends_on" => svc
                    .get("depends_on")
                    .and_then(|d| d.get(&dep))
                    .and_then(|d| d.key_pos.clone().or(d.pos.clone())),
                other => svc.get(other).and_then(|n| n.pos.clone()),
            }
            .into();
            if let Some(d) = disabled.get(&dep) {
                return Err(ComposeError::DisabledDependency {
                    at,
                    service: name.clone(),
                    dependency: dep,
                    profiles: d
                        .get("profiles")
                        .and_then(Node::as_seq)
                        .map(|s| s.iter().filter_map(Node::scalar_string).collect())
                        .unwrap_or_default(),
                });
            }
            return Err(ComposeError::UndefinedDependency {
                at,
                service: name.clone(),
                dependency: dep,
                via: via.to_string(),
            });
        }
    }
    Ok(())
}

/// Per service: an image or a build is required, `env_file` contents are read (with lower
/// precedence than `environment`), and a service without networks joins `default`. Returns
/// whether any service uses the default network.
fn service_defaults(enabled: &mut Services, env: &Environment) -> Result<bool> {
    let mut uses_default = false;
    for (name, svc) in enabled.iter_mut() {
        let p = services_path(name);
        if svc.get("image").is_none() && svc.get("build").is_none() {
            return Err(ComposeError::invalid(
                svc.key_pos.clone().or_else(|| svc.pos.clone()),
                &p,
                format!("service {name:?} has neither an image nor a build context specified"),
            ));
        }
        crate::compose::load::develop::check_rebuild(svc, &p)?;
        resolve_env_files(svc, &p, env)?;
        let Some(sm) = svc.as_map_mut() else { continue };
        let has_networks = sm
            .get("networks")
            .and_then(Node::as_map)
            .is_some_and(|n| !n.is_empty());
        if !has_networks && !sm.contains_key("network_mode") {
            let mut nets = IndexMap::new();
            nets.insert("default".to_string(), Node::new(V::Null));
            sm.insert("networks".into(), Node::new(V::Map(nets)));
        }
        if sm.get("networks").and_then(|n| n.get("default")).is_some() {
            uses_default = true;
        }
    }
    Ok(uses_default)
}

/// Engine-side names of networks, volumes, secrets and configs: `<project>_<key>` unless
/// named or external; extension keys dropped.
fn engine_names(m: &mut IndexMap<String, Node>, project: &str) {
    for section in ["networks", "volumes", "secrets", "configs"] {
        let Some(sm) = m.get_mut(section).and_then(Node::as_map_mut) else {
            continue;
        };
        for (k, v) in sm.iter_mut() {
            if k.starts_with("x-") {
                continue;
            }
            let Some(vm) = v.as_map_mut() else { continue };
            if vm.get("name").and_then(Node::as_str).is_some() {
                continue;
            }
            let external = vm
                .get("external")
                .is_some_and(|e| matches!(e.v, V::Bool(true)));
            let n = if external {
                k.clone()
            } else {
                format!("{project}_{k}")
            };
            vm.insert("name".into(), Node::str(n));
        }
        sm.retain(|k, _| !k.starts_with("x-"));
    }
}

/// A fixed container name cannot serve several replicas.
fn check_container_names(project: &Project, root: &Node) -> Result<()> {
    for (name, svc) in &project.services {
        if svc.container_name.is_some() && svc.replicas() > 1 {
            let p = services_path(name).key("container_name");
            return Err(ComposeError::invalid(
                root.pos_of(&p.0),
                &p,
                format!("container_name is set but the service wants {} replicas: a container name must be unique, so use scale 1 or remove container_name", svc.replicas()),
            ));
        }
    }
    Ok(())
}

/// The dependencies of a (normalised) service node, with the key that creates them.
/// A dependency cycle among the enabled services is refused with where each of its edges is
/// declared (`depends_on`, `links`, `network_mode`, `volumes_from`).
fn check_cycles(services: &IndexMap<String, Node>) -> Result<()> {
    fn visit(
        name: &str,
        services: &IndexMap<String, Node>,
        stack: &mut Vec<String>,
        done: &mut std::collections::HashSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == name) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.contains(name) {
            return None;
        }
        stack.push(name.to_string());
        for (dep, _) in services
            .get(name)
            .map(node_dependencies)
            .unwrap_or_default()
        {
            if services.contains_key(&dep) {
                if let Some(c) = visit(&dep, services, stack, done) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        done.insert(name.to_string());
        None
    }
    let mut done = std::collections::HashSet::new();
    for name in services.keys() {
        let Some(cycle) = visit(name, services, &mut Vec::new(), &mut done) else {
            continue;
        };
        let edge_at = |from: &str, to: &str| -> crate::compose::error::Location {
            let svc = &services[from];
            let via = node_dependencies(svc)
                .into_iter()
                .find(|(d, _)| d == to)
                .map(|(_, v)| v)
                .unwrap_or("depends_on");
            match via {
                "depends_on" => svc
                    .get("depends_on")
                    .and_then(|d| d.get(to))
                    .and_then(|d| d.key_pos.clone().or(d.pos.clone())),
                other => svc.get(other).and_then(|n| n.pos.clone()),
            }
            .into()
        };
        let first = edge_at(&cycle[0], &cycle[1]);
        let edges: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let at = edge_at(&w[0], &w[1]);
                match (at.file == first.file, at.line, at.col) {
                    (true, Some(l), Some(c)) => format!("{} -> {} (line {l}:{c})", w[0], w[1]),
                    _ => format!("{} -> {} ({at})", w[0], w[1]),
                }
            })
            .collect();
        return Err(ComposeError::invalid(
            first,
            &services_path(&cycle[0]),
            format!("dependency cycle: {}", edges.join(", ")),
        ));
    }
    Ok(())
}

fn node_dependencies(svc: &Node) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(d) = svc.get("depends_on").and_then(Node::as_map) {
        out.extend(d.keys().map(|k| (k.clone(), "depends_on")));
    }
    if let Some(l) = svc.get("links").and_then(Node::as_seq) {
        for x in l.iter().filter_map(Node::as_str) {
            out.push((x.split(':').next().unwrap_or(x).to_string(), "links"));
        }
    }
    if let Some(nm) = svc.get("network_mode").and_then(Node::as_str) {
        if let Ok(NetworkMode::Service(s)) = NetworkMode::try_from(nm.to_string()) {
            out.push((s, "network_mode"));
        }
    }
    if let Some(vf) = svc.get("volumes_from").and_then(Node::as_seq) {
        for x in vf.iter().filter_map(Node::as_str) {
            if let Some(s) = volumes_from_service(x) {
                out.push((s, "volumes_from"));
            }
        }
    }
    out
}

fn resolve_env_files(svc: &mut Node, p: &KeyPath, env: &Environment) -> Result<()> {
    let Some(files) = svc.get("env_file").and_then(Node::as_seq).cloned() else {
        return Ok(());
    };
    let mut vars: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let path = f
            .get("path")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let required = !f
            .get("required")
            .is_some_and(|r| matches!(r.v, V::Bool(false)));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => continue,
            Err(e) => {
                return Err(ComposeError::invalid(
                    f.pos.clone(),
                    &p.key("env_file").index(i),
                    format!(
                    "cannot read env file {path}: {e} (mark it required: false if it is optional)"
                ),
                ))
            }
        };
        let parsed = parse_dotenv(&text, &path, &|n| {
            env.get(n).or_else(|| vars.get(n).cloned().flatten())
        })?;
        for (k, v) in parsed {
            vars.insert(k, v);
        }
    }
    let Some(sm) = svc.as_map_mut() else {
        return Ok(());
    };
    let envn = sm
        .entry("environment".to_string())
        .or_insert_with(Node::map);
    if envn.is_null() {
        *envn = Node::map();
    }
    if let Some(em) = envn.as_map_mut() {
        for (k, v) in vars {
            em.entry(k)
                .or_insert_with(|| Node::new(v.map(V::Str).unwrap_or(V::Null)));
        }
    }
    Ok(())
}

fn check_references(name: &str, svc: &Node, top: &IndexMap<String, Node>) -> Result<()> {
    let p = services_path(name);
    let has = |section: &str, k: &str| top.get(section).and_then(|s| s.get(k)).is_some();
    if let Some(nets) = svc.get("networks").and_then(Node::as_map) {
        for (k, v) in nets {
            if !has("networks", k) {
                return Err(ComposeError::invalid(
                    v.key_pos.clone().or(v.pos.clone()),
                    &p.key("networks").key(k),
                    format!("service {name:?} refers to undefined network {k:?}: declare it under the top-level networks:"),
                ));
            }
        }
    }
    if let Some(vols) = svc.get("volumes").and_then(Node::as_seq) {
        for (i, v) in vols.iter().enumerate() {
            let is_volume = v.get("type").and_then(Node::as_str) == Some("volume");
            if let (true, Some(src)) = (is_volume, v.get("source").and_then(Node::as_str)) {
                if !has("volumes", src) {
                    return Err(ComposeError::invalid(
                        v.pos.clone(),
                        &p.key("volumes").index(i),
                        format!("service {name:?} refers to undefined volume {src:?}: declare it under the top-level volumes:"),
                    ));
                }
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(refs) = svc.get(section).and_then(Node::as_seq) {
            for (i, r) in refs.iter().enumerate() {
                if let Some(src) = r.get("source").and_then(Node::as_str) {
                    if !has(section, src) {
                        return Err(ComposeError::invalid(
                            r.pos.clone(),
                            &p.key(section).index(i),
                            format!("service {name:?} refers to undefined {} {src:?}: declare it under the top-level {section}:", &section[..section.len() - 1]),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `x-` keys are kept where the model keeps them (top level, services and top-level resources)
/// and accepted-then-dropped everywhere else.
fn strip_nested_extensions(node: &mut Node, keep_here: bool) {
    match &mut node.v {
        V::Map(m) => {
            if !keep_here {
                m.retain(|k, _| !k.starts_with("x-"));
            }
            for (k, v) in m.iter_mut() {
                if !k.starts_with("x-") {
                    strip_nested_extensions(v, false);
                }
            }
        }
        V::Seq(s) => {
            for v in s.iter_mut() {
                strip_nested_extensions(v, false);
            }
        }
        _ => {}
    }
}

/// Two services publishing the same host port (same protocol, overlapping address) cannot
/// both start; neither can `network_mode` be combined with `networks`.
fn check_port_conflicts(services: &IndexMap<String, Node>) -> Result<()> {
    let mut seen: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for (name, svc) in services {
        let p = services_path(name);
        if let (Some(nm), Some(nets)) = (
            svc.get("network_mode").and_then(Node::as_str),
            svc.get("networks").and_then(Node::as_map),
        ) {
            if !nets.is_empty() {
                return Err(ComposeError::invalid(
                    svc.get("network_mode").and_then(|n| n.pos.clone()),
                    &p.key("network_mode"),
                    format!("network_mode {nm:?} cannot be combined with networks"),
                ));
            }
        }
        let Some(ports) = svc.get("ports").and_then(Node::as_seq) else {
            continue;
        };
        for (i, port) in ports.iter().enumerate() {
            let Some(published) = port.get("published").and_then(Node::as_str) else {
                continue;
            };
            if published.contains('-') {
                continue;
            }
            let proto = port.get("protocol").and_then(Node::as_str).unwrap_or("tcp");
            let ip = port.get("host_ip").and_then(Node::as_str).unwrap_or("");
            let key = (format!("{published}/{proto}"), ip.to_string());
            let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
            let clash = seen.iter().find(|((k, other_ip), _)| {
                *k == key.0 && (other_ip == ip || wildcard(other_ip) || wildcard(ip))
            });
            if let Some((_, (other, other_path))) = clash {
                return Err(ComposeError::invalid(
                    port.pos.clone(),
                    &p.key("ports").index(i),
                    format!(
                        "host port {} is published twice: here and by {other} ({other_path})",
                        key.0
                    ),
                ));
            }
            seen.insert(
                key,
                (
                    format!("service {name:?}"),
                    p.key("ports").index(i).to_string(),
                ),
            );
        }
    }
    Ok(())
}

/// Where the files a service reads come from (env_files, and the files of its secrets and
/// configs), for hashing.
pub fn service_input_files(project: &Project, svc: &Service) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = svc
        .env_file
        .iter()
        .map(|e| PathBuf::from(&e.path))
        .collect();
    for r in &svc.secrets {
        if let Some(f) = project.secrets.get(&r.source).and_then(|s| s.file.as_ref()) {
            out.push(PathBuf::from(f));
        }
    }
    for r in &svc.configs {
        if let Some(f) = project.configs.get(&r.source).and_then(|s| s.file.as_ref()) {
            out.push(PathBuf::from(f));
        }
    }
    out
}

/// Whether a mount is a bind mount of a relative-free host path (used by tests and the engine).
pub fn is_bind(m: &crate::compose::model::Mount) -> bool {
    m.kind == MountType::Bind
        && m.source
            .as_deref()
            .is_some_and(|s| Path::new(s).is_absolute())
}
