//! `depends_on:` as the long syntax: condition, required and restart for every entry.

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{to_bool, to_string};
use super::Map;

pub(super) fn depends_on(n: &Node, p: &KeyPath) -> Result<Node> {
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
