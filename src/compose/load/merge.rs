//! Merging several compose files (and `extends`) by the compose specification's rules:
//! mappings merge, sequences append, some keys are merged by a key (ports, volumes by target,
//! secrets/configs, env_file), commands are replaced, and the `!reset` / `!override` tags
//! remove or replace what earlier files said. Works on the normalised (long) syntax.

use indexmap::IndexMap;

use crate::compose::value::{KeyPath, Node, Seg, Tag, V};

/// How a sequence at a given path merges.
enum SeqRule {
    Append,
    Replace,
    Unique,
    ByKey(fn(&Node) -> String),
}

fn service_key(path: &KeyPath) -> Option<Vec<&str>> {
    // services.<name>.<rest...>
    let segs = &path.0;
    if segs.len() < 3 || segs[0] != Seg::Key("services".into()) {
        return None;
    }
    segs[2..]
        .iter()
        .map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect()
}

fn seq_rule(path: &KeyPath) -> SeqRule {
    let Some(rest) = service_key(path) else {
        return SeqRule::Append;
    };
    match rest.as_slice() {
        ["command"] | ["entrypoint"] | ["healthcheck", "test"] => SeqRule::Replace,
        ["ports"] => SeqRule::ByKey(|n| {
            let f = |k: &str| n.get(k).and_then(Node::scalar_string).unwrap_or_default();
            format!(
                "{}:{}:{}/{}",
                f("host_ip"),
                f("published"),
                f("target"),
                f("protocol")
            )
        }),
        ["volumes"] => SeqRule::ByKey(|n| {
            n.get("target")
                .and_then(Node::scalar_string)
                .unwrap_or_else(|| format!("{:?}", n.to_json()))
        }),
        ["secrets"] | ["configs"] => SeqRule::ByKey(|n| {
            n.get("target")
                .or_else(|| n.get("source"))
                .and_then(Node::scalar_string)
                .unwrap_or_default()
        }),
        ["env_file"] => SeqRule::ByKey(|n| {
            n.get("path")
                .and_then(Node::scalar_string)
                .unwrap_or_default()
        }),
        ["dns"]
        | ["dns_search"]
        | ["dns_opt"]
        | ["cap_add"]
        | ["cap_drop"]
        | ["security_opt"]
        | ["expose"]
        | ["profiles"]
        | ["tmpfs"]
        | ["links"]
        | ["volumes_from"]
        | ["external_links"]
        | ["group_add"]
        | ["devices"] => SeqRule::Unique,
        _ => SeqRule::Append,
    }
}

/// Merge `over` onto `base` at `path` (the path of both nodes in the document).
pub fn merge_nodes(base: Node, over: Node, path: &KeyPath) -> Node {
    if over.tag == Some(Tag::Override) {
        return over;
    }
    match (base.v, over.v) {
        (V::Map(b), V::Map(o)) => {
            // logging: a different driver replaces the whole block
            if let Some(["logging"]) = service_key(path).as_deref() {
                let drv =
                    |m: &IndexMap<String, Node>| m.get("driver").and_then(Node::scalar_string);
                if drv(&o).is_some() && drv(&b).is_some() && drv(&o) != drv(&b) {
                    return Node {
                        v: V::Map(o),
                        pos: over.pos,
                        key_pos: over.key_pos,
                        tag: over.tag,
                    };
                }
            }
            let mut out = b;
            for (k, v) in o {
                let sub = path.key(&k);
                if v.tag == Some(Tag::Reset) {
                    out.shift_remove(&k);
                    continue;
                }
                let merged = match out.shift_remove_full(&k) {
                    Some((idx, _, old)) => {
                        let m = merge_nodes(old, v, &sub);
                        out.insert(k.clone(), m);
                        let last = out.len() - 1;
                        out.move_index(last, idx);
                        continue;
                    }
                    None => v,
                };
                out.insert(k, merged);
            }
            Node {
                v: V::Map(out),
                pos: base.pos.or(over.pos),
                key_pos: base.key_pos.or(over.key_pos),
                tag: None,
            }
        }
        (V::Seq(b), V::Seq(o)) => {
            let v = match seq_rule(path) {
                SeqRule::Replace => o,
                SeqRule::Append => b.into_iter().chain(o).collect(),
                SeqRule::Unique => {
                    let mut out = b;
                    for it in o {
                        if !out.contains(&it) {
                            out.push(it);
                        }
                    }
                    out
                }
                SeqRule::ByKey(key) => {
                    let mut out = b;
                    for it in o {
                        let k = key(&it);
                        match out.iter().position(|x| key(x) == k) {
                            Some(i) => out[i] = it,
                            None => out.push(it),
                        }
                    }
                    out
                }
            };
            Node {
                v: V::Seq(v),
                pos: base.pos.or(over.pos),
                key_pos: base.key_pos.or(over.key_pos),
                tag: None,
            }
        }
        (_, ov) => Node {
            v: ov,
            pos: over.pos,
            key_pos: over.key_pos,
            tag: None,
        },
    }
}

/// Remove the nodes still tagged `!reset` (they reset nothing in a first file) and clear tags.
pub fn strip_tags(node: &mut Node) {
    node.tag = None;
    match &mut node.v {
        V::Map(m) => {
            m.retain(|_, v| v.tag != Some(Tag::Reset));
            for v in m.values_mut() {
                strip_tags(v);
            }
        }
        V::Seq(s) => {
            s.retain(|v| v.tag != Some(Tag::Reset));
            for v in s.iter_mut() {
                strip_tags(v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::yaml::parse_file;

    fn merged(a: &str, b: &str) -> serde_json::Value {
        let mut n = merge_nodes(
            parse_file(a, "a").unwrap(),
            parse_file(b, "b").unwrap(),
            &KeyPath::root(),
        );
        strip_tags(&mut n);
        n.to_json()
    }

    #[test]
    fn maps_merge_sequences_append_scalars_replace() {
        let j = merged(
            "services: {web: {image: a, environment: {A: '1', B: '2'}, dns: [1.1.1.1], command: [x, y]}}",
            "services: {web: {image: b, environment: {B: '3'}, dns: [1.1.1.1, 8.8.8.8], command: [z]}}",
        );
        let w = &j["services"]["web"];
        assert_eq!(w["image"], "b");
        assert_eq!(w["environment"], serde_json::json!({"A": "1", "B": "3"}));
        assert_eq!(w["dns"], serde_json::json!(["1.1.1.1", "8.8.8.8"]));
        assert_eq!(w["command"], serde_json::json!(["z"]));
    }

    #[test]
    fn reset_and_override() {
        let j = merged(
            "services: {web: {image: a, ports: [{target: 80}], environment: {A: '1', B: '2'}}}",
            "services: {web: {ports: !reset [], environment: !override {C: '3'}}}",
        );
        let w = &j["services"]["web"];
        assert!(w.get("ports").is_none());
        assert_eq!(w["environment"], serde_json::json!({"C": "3"}));
        // a !reset in a single file simply disappears
        let j = merged("a: {b: 1}", "a: {c: !reset 2}");
        assert_eq!(j, serde_json::json!({"a": {"b": 1}}));
    }

    #[test]
    fn volumes_by_target() {
        let j = merged(
            "services: {w: {volumes: [{type: volume, source: a, target: /data}, {type: bind, source: /x, target: /x}]}}",
            "services: {w: {volumes: [{type: volume, source: b, target: /data}]}}",
        );
        assert_eq!(j["services"]["w"]["volumes"][0]["source"], "b");
        assert_eq!(j["services"]["w"]["volumes"].as_array().unwrap().len(), 2);
    }
}
