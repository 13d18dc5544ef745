//! The internal value tree every loading phase works on: a JSON-like tree whose nodes keep the
//! position (file, line, column) they were read from and the compose-specific YAML tag
//! (`!reset`, `!override`), so that later phases can report `file:line:col`.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

/// Where a node was read from. `line` and `col` are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// The compose-specific YAML tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// `!reset`: remove the value inherited from earlier files.
    Reset,
    /// `!override`: replace the value inherited from earlier files instead of merging.
    Override,
}

/// A node of the tree: a value, where it came from, and its tag.
#[derive(Clone, Debug)]
pub struct Node {
    pub v: V,
    pub pos: Option<Pos>,
    /// Position of the mapping key this node is the value of, if any.
    pub key_pos: Option<Pos>,
    pub tag: Option<Tag>,
}

/// The value of a node.
#[derive(Clone, Debug)]
pub enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.v == other.v
    }
}

impl PartialEq for V {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (V::Null, V::Null) => true,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Int(a), V::Int(b)) => a == b,
            (V::Float(a), V::Float(b)) => a == b,
            (V::Int(a), V::Float(b)) | (V::Float(b), V::Int(a)) => (*a as f64) == *b,
            (V::Str(a), V::Str(b)) => a == b,
            (V::Seq(a), V::Seq(b)) => a == b,
            (V::Map(a), V::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl Node {
    pub fn new(v: V) -> Node {
        Node {
            v,
            pos: None,
            key_pos: None,
            tag: None,
        }
    }
    pub fn at(v: V, pos: Option<Pos>) -> Node {
        Node {
            v,
            pos,
            key_pos: None,
            tag: None,
        }
    }
    pub fn str(s: impl Into<String>) -> Node {
        Node::new(V::Str(s.into()))
    }
    pub fn map() -> Node {
        Node::new(V::Map(IndexMap::new()))
    }
    /// A value derived from this node: same position, new value.
    pub fn derive(&self, v: V) -> Node {
        Node {
            v,
            pos: self.pos.clone(),
            key_pos: self.key_pos.clone(),
            tag: None,
        }
    }
    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match &self.v {
            V::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_map_mut(&mut self) -> Option<&mut IndexMap<String, Node>> {
        match &mut self.v {
            V::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.v {
            V::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            V::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }
    pub fn is_null(&self) -> bool {
        matches!(self.v, V::Null)
    }
    /// The scalar rendered as a string (numbers and booleans as YAML writes them).
    pub fn scalar_string(&self) -> Option<String> {
        match &self.v {
            V::Null => None,
            V::Bool(b) => Some(b.to_string()),
            V::Int(i) => Some(i.to_string()),
            V::Float(f) => Some(fmt_float(*f)),
            V::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.v {
            V::Null => "null",
            V::Bool(_) => "a boolean",
            V::Int(_) => "an integer",
            V::Float(_) => "a number",
            V::Str(_) => "a string",
            V::Seq(_) => "a list",
            V::Map(_) => "a mapping",
        }
    }
    /// Find the node at `path` (a sub-path of this node).
    pub fn lookup(&self, path: &[Seg]) -> Option<&Node> {
        let mut n = self;
        for seg in path {
            n = match (seg, &n.v) {
                (Seg::Key(k), V::Map(m)) => m.get(k)?,
                (Seg::Index(i), V::Seq(s)) => s.get(*i)?,
                _ => return None,
            };
        }
        Some(n)
    }
    /// The best-known position of the node at `path`, or of its closest ancestor.
    pub fn pos_of(&self, path: &[Seg]) -> Option<Pos> {
        for len in (0..=path.len()).rev() {
            if let Some(n) = self.lookup(&path[..len]) {
                if let Some(p) = n.pos.clone().or_else(|| n.key_pos.clone()) {
                    return Some(p);
                }
            }
        }
        None
    }
    /// Convert to a JSON value (positions and tags dropped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.v {
            V::Null => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(fmt_float(*f))),
            V::Str(s) => J::String(s.clone()),
            V::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            V::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
    /// Build a node (without positions) from a JSON value.
    pub fn from_json(j: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        Node::new(match j {
            J::Null => V::Null,
            J::Bool(b) => V::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => V::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => V::Str(s.clone()),
            J::Array(a) => V::Seq(a.iter().map(Node::from_json).collect()),
            J::Object(o) => V::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        })
    }
}

pub(crate) fn fmt_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.into()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// One segment of a key path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `services.web.ports[1]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }
    pub fn key(&self, k: &str) -> KeyPath {
        let mut p = self.0.clone();
        p.push(Seg::Key(k.to_string()));
        KeyPath(p)
    }
    pub fn index(&self, i: usize) -> KeyPath {
        let mut p = self.0.clone();
        p.push(Seg::Index(i));
        KeyPath(p)
    }
    pub fn parse(s: &str) -> KeyPath {
        let mut out = Vec::new();
        for part in s.split('.') {
            if part.is_empty() {
                continue;
            }
            let mut rest = part;
            if let Some(b) = rest.find('[') {
                if b > 0 {
                    out.push(Seg::Key(rest[..b].to_string()));
                }
                rest = &rest[b..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let end = stripped.find(']').unwrap_or(stripped.len());
                    if let Ok(i) = stripped[..end].parse() {
                        out.push(Seg::Index(i));
                    }
                    rest = stripped.get(end + 1..).unwrap_or("");
                }
            } else {
                out.push(Seg::Key(rest.to_string()));
            }
        }
        KeyPath(out)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        if first {
            f.write_str("(root)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypath_display_and_parse() {
        let p = KeyPath::root()
            .key("services")
            .key("web")
            .key("ports")
            .index(1);
        assert_eq!(p.to_string(), "services.web.ports[1]");
        assert_eq!(KeyPath::parse("services.web.ports[1]"), p);
    }
}
