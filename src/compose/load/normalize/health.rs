//! `healthcheck:`: a string test as `CMD-SHELL`, durations and counts cast.

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{duration, string_list, to_bool, to_uint};
use super::Map;

pub(super) fn healthcheck(n: &Node, p: &KeyPath) -> Result<Node> {
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
