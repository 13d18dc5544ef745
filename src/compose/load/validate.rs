//! Phase 3: validation against the Compose specification's JSON schema (embedded). A small
//! validator for the draft-07 keywords the schema uses, written to give useful messages: every
//! error names the file, line and column, the key path and what was expected.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value as J;

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, Pos, V};

/// The Compose specification schema, as shipped.
pub const COMPOSE_SPEC_JSON: &str = include_str!("../schema/compose-spec.json");

fn schema() -> &'static J {
    static S: OnceLock<J> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(COMPOSE_SPEC_JSON).expect("embedded compose schema"))
}

thread_local! {
    static REGEXES: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

fn re_match(pattern: &str, s: &str) -> bool {
    REGEXES.with(|c| {
        let mut c = c.borrow_mut();
        let re = c
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).unwrap_or_else(|_| Regex::new("").unwrap()));
        re.is_match(s)
    })
}

#[derive(Debug, Clone)]
struct Issue {
    pos: Option<Pos>,
    path: KeyPath,
    message: String,
}

/// Validate a whole compose document (one file, after interpolation).
pub fn validate_document(doc: &Node) -> Result<()> {
    validate_against(doc, schema(), &KeyPath::root())
}

/// Validate `node` (found at `path`) against the definition `def` of the compose schema
/// (for example `service`).
pub fn validate_definition(node: &Node, def: &str, path: &KeyPath) -> Result<()> {
    let s = &schema()["definitions"][def];
    validate_against(node, s, path)
}

fn validate_against(node: &Node, s: &J, path: &KeyPath) -> Result<()> {
    let mut issues = Vec::new();
    check(node, s, path, &mut issues);
    if issues.is_empty() {
        return Ok(());
    }
    let mut errs: Vec<ComposeError> = issues
        .into_iter()
        .map(|i| ComposeError::Schema {
            at: i.pos.into(),
            key: i.path,
            message: i.message,
        })
        .collect();
    errs.dedup_by(|a, b| a.to_string() == b.to_string());
    if errs.len() == 1 {
        Err(errs.pop().unwrap())
    } else {
        Err(ComposeError::Multiple(errs))
    }
}

fn resolve(s: &J) -> &J {
    let mut s = s;
    while let Some(r) = s.get("$ref").and_then(J::as_str) {
        let name = r.trim_start_matches("#/definitions/");
        s = &schema()["definitions"][name];
    }
    s
}

fn type_matches(node: &Node, t: &str) -> bool {
    match (t, &node.v) {
        ("null", V::Null) => true,
        ("boolean", V::Bool(_)) => true,
        ("integer", V::Int(_)) => true,
        ("integer", V::Float(f)) => f.fract() == 0.0,
        ("number", V::Int(_) | V::Float(_)) => true,
        ("string", V::Str(_)) => true,
        ("array", V::Seq(_)) => true,
        ("object", V::Map(_)) => true,
        _ => false,
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "null" => "null",
        "boolean" => "a boolean",
        "integer" => "an integer",
        "number" => "a number",
        "string" => "a string",
        "array" => "a list",
        "object" => "a mapping",
        _ => "a value",
    }
}

fn join_or(mut items: Vec<String>) -> String {
    items.dedup();
    let mut uniq: Vec<String> = Vec::new();
    for i in items {
        if !uniq.contains(&i) {
            uniq.push(i);
        }
    }
    match uniq.len() {
        0 => "a valid value".into(),
        1 => uniq.pop().unwrap(),
        _ => {
            let last = uniq.pop().unwrap();
            format!("{} or {}", uniq.join(", "), last)
        }
    }
}

/// A short human description of what a schema accepts.
fn describe(s: &J) -> String {
    let s = resolve(s);
    if let Some(one) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(J::as_array)
    {
        return join_or(one.iter().map(describe).collect());
    }
    if let Some(e) = s.get("enum").and_then(J::as_array) {
        return format!(
            "one of {}",
            e.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match s.get("type") {
        Some(J::String(t)) => {
            if t == "array" {
                if let Some(items) = s.get("items") {
                    let inner = describe(items);
                    if inner.starts_with("a ") || inner.starts_with("an ") {
                        return format!("a list of {}", plural(&inner));
                    }
                }
            }
            type_name(t).to_string()
        }
        Some(J::Array(ts)) => join_or(
            ts.iter()
                .filter_map(J::as_str)
                .map(|t| type_name(t).to_string())
                .collect(),
        ),
        _ => "a valid value".into(),
    }
}

fn plural(desc: &str) -> String {
    let d = desc.trim_start_matches("a ").trim_start_matches("an ");
    d.replace("string", "strings")
        .replace("mapping", "mappings")
        .replace("integer", "integers")
        .replace("number", "numbers")
        .replace("boolean", "booleans")
        .replace("list", "lists")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Check `node` against schema `s`, in the order the schema's keywords are read: the
/// alternatives (`oneOf`/`anyOf`), the type, the scalar constraints, then the children.
fn check(node: &Node, s: &J, path: &KeyPath, out: &mut Vec<Issue>) {
    let s = resolve(s);
    if check_alternatives(node, s, path, out) || !check_type(node, s, path, out) {
        return;
    }
    check_scalar(node, s, path, out);
    match &node.v {
        V::Map(m) => check_map(m, node, s, path, out),
        V::Seq(items) => check_seq(items, s, path, out),
        _ => {}
    }
}

/// An issue at `node`.
fn issue(node: &Node, path: &KeyPath, out: &mut Vec<Issue>, message: String) {
    out.push(Issue {
        pos: node.pos.clone().or_else(|| node.key_pos.clone()),
        path: path.clone(),
        message,
    })
}

fn mismatch(node: &Node, s: &J, path: &KeyPath, out: &mut Vec<Issue>) {
    let message = format!("expected {}, found {}", describe(s), describe_value(node));
    issue(node, path, out, message);
}

/// `oneOf`/`anyOf`: true when no branch fits (the issues are then reported and the checks
/// end there).
fn check_alternatives(node: &Node, s: &J, path: &KeyPath, out: &mut Vec<Issue>) -> bool {
    let Some(branches) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(J::as_array)
    else {
        return false;
    };
    let mut results: Vec<Vec<Issue>> = Vec::new();
    for b in branches {
        let mut sub = Vec::new();
        check(node, b, path, &mut sub);
        if sub.is_empty() {
            return false;
        }
        results.push(sub);
    }
    if results.is_empty() {
        return false;
    }
    // Prefer the branch whose type fits the value: its errors are the most specific.
    let fitting: Vec<usize> = branches
        .iter()
        .enumerate()
        .filter(|(_, b)| branch_type_fits(node, b))
        .map(|(i, _)| i)
        .collect();
    if fitting.len() == 1 {
        out.extend(results.swap_remove(fitting[0]));
    } else {
        mismatch(node, s, path, out);
    }
    true
}

/// `type` (one or a list): false, with an issue, when the value has another type.
fn check_type(node: &Node, s: &J, path: &KeyPath, out: &mut Vec<Issue>) -> bool {
    let fits = match s.get("type") {
        Some(J::String(t)) => type_matches(node, t),
        Some(J::Array(ts)) => ts
            .iter()
            .filter_map(J::as_str)
            .any(|t| type_matches(node, t)),
        _ => true,
    };
    if !fits {
        mismatch(node, s, path, out);
    }
    fits
}

/// `enum`, `pattern`, `minimum` and `maximum`.
fn check_scalar(node: &Node, s: &J, path: &KeyPath, out: &mut Vec<Issue>) {
    if let Some(e) = s.get("enum").and_then(J::as_array) {
        if !e.contains(&node.to_json()) {
            mismatch(node, s, path, out);
        }
    }
    if let (Some(p), V::Str(v)) = (s.get("pattern").and_then(J::as_str), &node.v) {
        if !re_match(p, v) {
            issue(
                node,
                path,
                out,
                format!("{v:?} does not match the pattern {p:?}"),
            );
        }
    }
    let number = match node.v {
        V::Int(_) | V::Float(_) => node.to_json().as_f64().unwrap_or(0.0),
        _ => return,
    };
    if let Some(min) = s.get("minimum").and_then(J::as_f64) {
        if number < min {
            issue(
                node,
                path,
                out,
                format!("expected a value of at least {min}"),
            );
        }
    }
    if let Some(max) = s.get("maximum").and_then(J::as_f64) {
        if number > max {
            issue(
                node,
                path,
                out,
                format!("expected a value of at most {max}"),
            );
        }
    }
}

/// A mapping: each key against `properties`, `patternProperties` or `additionalProperties`,
/// then `required`.
fn check_map(m: &IndexMap<String, Node>, node: &Node, s: &J, path: &KeyPath, out: &mut Vec<Issue>) {
    let props = s.get("properties").and_then(J::as_object);
    let pats = s.get("patternProperties").and_then(J::as_object);
    for (k, v) in m {
        let sub = path.key(k);
        let mut matched = false;
        if let Some(ps) = props.and_then(|p| p.get(k)) {
            matched = true;
            check(v, ps, &sub, out);
        }
        for (p, ps) in pats.into_iter().flatten() {
            if re_match(p, k) {
                matched = true;
                check(v, ps, &sub, out);
            }
        }
        if !matched {
            unmatched_key(k, v, s, path, sub, out);
        }
    }
    if let Some(req) = s.get("required").and_then(J::as_array) {
        for r in req.iter().filter_map(J::as_str) {
            if !m.contains_key(r) {
                issue(node, path, out, format!("missing required key {r:?}"));
            }
        }
    }
}

/// A key that no property names: a bad name in a map of named things, an unknown key (with
/// the nearest known one), or a value for `additionalProperties`' schema.
fn unmatched_key(k: &str, v: &Node, s: &J, path: &KeyPath, sub: KeyPath, out: &mut Vec<Issue>) {
    let props = s.get("properties").and_then(J::as_object);
    let pats = s.get("patternProperties").and_then(J::as_object);
    let message = match s.get("additionalProperties") {
        Some(J::Bool(false)) if props.is_none() && pats.is_some() => {
            // a map of named things (services, volumes...): the name is bad
            let what = match path.to_string().as_str() {
                "services" => "service",
                "volumes" => "volume",
                "secrets" => "secret",
                "configs" => "config",
                _ => "name",
            };
            format!("invalid {what} name {k:?}: only letters, digits, '.', '_' and '-' may be used")
        }
        Some(J::Bool(false)) => {
            let mut msg = format!("unknown key {k:?}");
            if let Some(props) = props {
                let best = props
                    .keys()
                    .map(|p| (edit_distance(p, k), p))
                    .filter(|(d, p)| *d <= 2.max(p.len() / 4))
                    .min();
                if let Some((_, p)) = best {
                    msg.push_str(&format!(" (did you mean {p:?}?)"));
                } else if pats.is_some_and(|p| p.contains_key("^x-")) {
                    msg.push_str(" (extensions must start with \"x-\")");
                }
            }
            msg
        }
        Some(a @ J::Object(_)) => return check(v, a, &sub, out),
        _ => return,
    };
    out.push(Issue {
        pos: v.key_pos.clone().or_else(|| v.pos.clone()),
        path: sub,
        message,
    });
}

/// A sequence: each item against `items`, and `uniqueItems`.
fn check_seq(items: &[Node], s: &J, path: &KeyPath, out: &mut Vec<Issue>) {
    if let Some(is) = s.get("items") {
        for (i, it) in items.iter().enumerate() {
            check(it, is, &path.index(i), out);
        }
    }
    if s.get("uniqueItems") == Some(&J::Bool(true)) {
        for (i, it) in items.iter().enumerate() {
            if items[..i].contains(it) {
                out.push(Issue {
                    pos: it.pos.clone(),
                    path: path.index(i),
                    message: "duplicate item: expected unique items".into(),
                });
            }
        }
    }
}

fn branch_type_fits(node: &Node, b: &J) -> bool {
    let b = resolve(b);
    if let Some(inner) = b.get("oneOf").and_then(J::as_array) {
        return inner.iter().any(|x| branch_type_fits(node, x));
    }
    match b.get("type") {
        Some(J::String(t)) => type_matches(node, t),
        Some(J::Array(ts)) => ts
            .iter()
            .filter_map(J::as_str)
            .any(|t| type_matches(node, t)),
        _ => false,
    }
}

fn describe_value(node: &Node) -> String {
    match &node.v {
        V::Str(s) => format!("the string {s:?}"),
        V::Int(i) => format!("the integer {i}"),
        V::Float(f) => format!("the number {f}"),
        V::Bool(b) => format!("the boolean {b}"),
        _ => node.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::yaml::parse_file;

    fn err(y: &str) -> String {
        validate_document(&parse_file(y, "c.yaml").unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn accepts_valid() {
        let y = "services:\n  web:\n    image: nginx\n    ports: ['80:80', 81, {target: 82}]\n    x-foo: 1\n    environment: [A=1]\nx-top: {a: 1}\n";
        validate_document(&parse_file(y, "c.yaml").unwrap()).unwrap();
    }

    #[test]
    fn unknown_key_with_suggestion() {
        let e = err("services:\n  web:\n    image: nginx\n    prots: ['80']\n");
        assert_eq!(
            e,
            "c.yaml:4:5: services.web.prots: unknown key \"prots\" (did you mean \"ports\"?)"
        );
    }

    #[test]
    fn wrong_type() {
        let e = err("services:\n  web:\n    image: [nginx]\n");
        assert_eq!(
            e,
            "c.yaml:3:12: services.web.image: expected a string, found a list"
        );
        let e = err("services:\n  web:\n    ports: ['80', [1]]\n");
        assert!(
            e.starts_with(
                "c.yaml:3:19: services.web.ports[1]: expected a number, a string or a mapping"
            ),
            "{e}"
        );
        let e = err("services:\n  web:\n    cap_add: [A, A]\n");
        assert!(e.contains("services.web.cap_add[1]: duplicate item"), "{e}");
    }
}
