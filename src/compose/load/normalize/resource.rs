//! The top-level `networks`, `volumes`, `secrets` and `configs` entries: legacy
//! `external: {name}`, booleans and label maps cast, file paths resolved, and the keys wharf
//! cannot apply dropped with a warning.

use crate::compose::error::Result;
use crate::compose::value::{KeyPath, Node, V};

use super::paths::resolve_path;
use super::scalar::{string_map, to_bool, to_string};
use super::{not_applied, NormCtx};

pub(super) fn normalize_resource(
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
