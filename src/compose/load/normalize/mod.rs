//! Phase 4: normalisation of one file to the long syntax (ports, volumes, depends_on,
//! environment, env_file, durations, byte sizes, healthcheck, deploy.resources, labels,
//! extra_hosts, ulimits, networks, secrets/configs), with relative paths resolved against the
//! file's base directory. The result is the serde form of [`crate::compose::model`].
//!
//! The service keys are a table (`table`: key → transform); each family of keys has its own
//! small module, the scalar casts and paths they share theirs.

mod depends;
mod deploy;
mod files;
mod health;
mod networks;
mod paths;
mod policy;
mod ports;
mod process;
mod resource;
mod resources;
mod scalar;
mod table;
mod volumes;

use std::path::Path;

use indexmap::IndexMap;

use crate::compose::error::Result;
use crate::compose::load::env::Environment;
use crate::compose::value::{KeyPath, Node, V};

pub(crate) use paths::resolve_path_in;
pub use paths::{clean_path, resolve_path};
pub use ports::{parse_port_spec, PortMapping};
pub(crate) use process::{command, environment};
pub use scalar::float_string;
pub(crate) use scalar::{string_list, to_bool, to_string};

use resource::normalize_resource;
use table::Step;

/// What normalisation needs to know.
pub struct NormCtx<'a> {
    /// Directory relative paths are resolved against.
    pub base_dir: &'a Path,
    /// Variables for `environment: [NAME]` without a value and for `~`.
    pub env: &'a Environment,
    /// Warnings (unsupported keys...) are pushed here.
    pub warnings: &'a mut Vec<String>,
    /// The engine the project is loaded for: it decides which keys are not applied.
    pub target: crate::compose::load::Target,
}

pub(super) type Map = IndexMap<String, Node>;

/// The one policy for valid keys wharf cannot apply: accepted, dropped from the model and
/// reported once, with where they are and what is not applied.
pub(crate) fn not_applied(ctx: &mut NormCtx<'_>, node: &Node, p: &KeyPath) {
    not_applied_because(ctx, node, p, "not supported by wharf, ignored");
}

/// [`not_applied`] with the reason spelled out.
pub(crate) fn not_applied_because(ctx: &mut NormCtx<'_>, node: &Node, p: &KeyPath, why: &str) {
    let at =
        crate::compose::error::Location::from(node.key_pos.clone().or_else(|| node.pos.clone()));
    ctx.warnings.push(format!("{at}: {p}: {why}"));
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

fn normalize_service(svc: &mut Node, path: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<()> {
    let Some(m) = svc.as_map_mut() else {
        return Ok(());
    };
    let keys: Vec<String> = m.keys().cloned().collect();
    for k in keys {
        if k.starts_with("x-") {
            continue;
        }
        let p = path.key(&k);
        let Some(node) = m.get(&k).cloned() else {
            continue;
        };
        let Some(transform) = table::service_key(&k) else {
            m.shift_remove(&k);
            not_applied(ctx, &node, &p);
            continue;
        };
        match transform(&node, &p, ctx)? {
            Step::Keep => {}
            Step::Drop => {
                m.shift_remove(&k);
            }
            Step::Set(mut n) => {
                n.tag = node.tag;
                n.key_pos = node.key_pos.clone();
                m.insert(k, n);
            }
        }
    }
    Ok(())
}
