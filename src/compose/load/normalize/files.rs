//! A service's `secrets:` and `configs:` references as the long syntax (mode as octal).

use crate::compose::error::Result;
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{octal, seq, to_string};
use super::Map;

pub(super) fn file_refs(n: &Node, p: &KeyPath) -> Result<Node> {
    let items = seq(n, p, "a list")?;
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
