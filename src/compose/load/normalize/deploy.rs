//! `deploy:`. Every key the specification defines is typed and kept, because Swarm and the
//! Kubernetes conversion honour them; a single engine applies only `replicas` and `resources`,
//! so when loading for it the others are reported once as not applied.

use crate::compose::error::{ComposeError, Result};
use crate::compose::load::Target;
use crate::compose::value::{KeyPath, Node, V};

use super::resources::limits;
use super::scalar::{duration, string_list, string_map, to_float, to_string, to_uint};
use super::{not_applied, not_applied_because, Map, NormCtx};

const MODES: &[&str] = &["replicated", "global", "replicated-job", "global-job"];
const ENDPOINT_MODES: &[&str] = &["vip", "dnsrr"];
const CONDITIONS: &[&str] = &["none", "on-failure", "any"];
const FAILURE_ACTIONS: &[&str] = &["continue", "pause", "rollback"];
const ORDERS: &[&str] = &["stop-first", "start-first"];

pub(super) fn deploy(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Ok(n.clone());
    };
    let mut o = Map::new();
    for (k, v) in m {
        let kp = p.key(k);
        let value = match k.as_str() {
            "replicas" => v.derive(V::Int(to_uint(v, &kp)?)),
            "resources" => resources(v, &kp, ctx)?,
            _ if k.starts_with("x-") => continue,
            "mode" => {
                let mode = one_of(v, &kp, MODES)?;
                if mode.v != V::Str("replicated".into()) {
                    swarm_only(ctx, v, &kp);
                }
                mode
            }
            other => {
                let value = match other {
                    "labels" => string_map(v, &kp)?,
                    "endpoint_mode" => one_of(v, &kp, ENDPOINT_MODES)?,
                    "restart_policy" => restart_policy(v, &kp)?,
                    "placement" => placement(v, &kp)?,
                    "update_config" | "rollback_config" => update_config(v, &kp)?,
                    _ => {
                        not_applied(ctx, v, &kp);
                        continue;
                    }
                };
                swarm_only(ctx, v, &kp);
                value
            }
        };
        o.insert(k.clone(), value);
    }
    Ok(n.derive(V::Map(o)))
}

/// A key kept for the orchestrators that a single engine does not apply.
fn swarm_only(ctx: &mut NormCtx<'_>, v: &Node, p: &KeyPath) {
    if ctx.target == Target::Engine {
        not_applied_because(
            ctx,
            v,
            p,
            "applies to a swarm (`wharf stack deploy`), ignored by a single engine",
        );
    }
}

fn resources(v: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let mut ro = Map::new();
    if let Some(rm) = v.as_map() {
        for (rk, rv) in rm {
            let rp = p.key(rk);
            match rk.as_str() {
                "limits" | "reservations" => {
                    ro.insert(rk.clone(), limits(rv, &rp, ctx)?);
                }
                _ => not_applied(ctx, rv, &rp),
            }
        }
    }
    Ok(v.derive(V::Map(ro)))
}

fn restart_policy(v: &Node, p: &KeyPath) -> Result<Node> {
    fields(v, p, |k, x, kp| {
        Ok(Some(match k {
            "condition" => one_of(x, kp, CONDITIONS)?,
            "delay" | "window" => duration(x, kp)?,
            "max_attempts" => x.derive(V::Int(to_uint(x, kp)?)),
            _ => return Ok(None),
        }))
    })
}

fn placement(v: &Node, p: &KeyPath) -> Result<Node> {
    fields(v, p, |k, x, kp| {
        Ok(Some(match k {
            "constraints" => string_list(x, kp)?,
            "max_replicas_per_node" => x.derive(V::Int(to_uint(x, kp)?)),
            "preferences" => x.clone(),
            _ => return Ok(None),
        }))
    })
}

fn update_config(v: &Node, p: &KeyPath) -> Result<Node> {
    fields(v, p, |k, x, kp| {
        Ok(Some(match k {
            "parallelism" => x.derive(V::Int(to_uint(x, kp)?)),
            "delay" | "monitor" => duration(x, kp)?,
            "failure_action" => one_of(x, kp, FAILURE_ACTIONS)?,
            "max_failure_ratio" => x.derive(V::Float(to_float(x, kp)?)),
            "order" => one_of(x, kp, ORDERS)?,
            _ => return Ok(None),
        }))
    })
}

/// Normalise each field of a mapping with `field`; `x-` keys and keys it does not know (the
/// schema has already refused unknown ones) are dropped.
fn fields(
    v: &Node,
    p: &KeyPath,
    field: impl Fn(&str, &Node, &KeyPath) -> Result<Option<Node>>,
) -> Result<Node> {
    let mut o = Map::new();
    if let Some(m) = v.as_map() {
        for (k, x) in m {
            if let Some(n) = field(k, x, &p.key(k))? {
                o.insert(k.clone(), n);
            }
        }
    }
    Ok(v.derive(V::Map(o)))
}

/// A string that must be one of `allowed`.
fn one_of(n: &Node, p: &KeyPath, allowed: &[&str]) -> Result<Node> {
    let s = to_string(n, p)?;
    if allowed.contains(&s.as_str()) {
        return Ok(n.derive(V::Str(s)));
    }
    let expected = match allowed.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => allowed.join(""),
    };
    Err(ComposeError::value(n.pos.clone(), p, s, expected))
}
