//! Resource keys: `ulimits:` (a number or soft/hard) and `deploy.resources`'
//! `limits`/`reservations`.

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{bytes, to_float, to_int};
use super::{not_applied, Map, NormCtx};

pub(super) fn ulimits(n: &Node, p: &KeyPath) -> Result<Node> {
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

pub(super) fn limits(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
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
