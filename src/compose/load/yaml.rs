//! Phase 1: YAML text → [`Node`] tree, with positions, anchors/aliases, `<<` merge keys and the
//! `!reset` / `!override` tags. Built on the event parser of `saphyr-parser`.
//!
//! Hostile files are bounded before they cost anything: the text's size, the nesting depth
//! (every later phase walks the tree recursively) and alias expansion, which is limited the
//! way go-yaml (docker compose's parser) does it, so a few hundred bytes of nested anchors
//! cannot expand into gigabytes.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::compose::error::{ComposeError, Location, Result};
use crate::compose::value::{Node, Pos, Tag, V};

/// The largest compose file read (docker compose has none; no real one comes near).
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// The deepest nesting of mappings and sequences.
pub const MAX_DEPTH: usize = 100;
/// The most nodes a file may build, aliases expanded.
pub const MAX_NODES: u64 = 4_000_000;

/// go-yaml's limit: the share of nodes that may come from alias expansion, 99 % for
/// documents up to 400,000 nodes, falling to 10 % at 4,000,000.
fn allowed_alias_ratio(decoded: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    match decoded {
        d if d <= LOW => 0.99,
        d if d >= HIGH => 0.10,
        d => 0.99 - 0.89 * ((d - LOW) as f64 / (HIGH - LOW) as f64),
    }
}

/// Parse a YAML text into one node per document (an empty text gives no document).
pub fn parse_documents(text: &str, file: &str) -> Result<Vec<Node>> {
    match parse_strict(text, file) {
        Err(ComposeError::Yaml { at, message }) if message.contains("invalid indentation") => {
            let lenient = super::flow_indent::indent_flow_closers(text)
                .map(|fixed| parse_strict(&fixed, file));
            match lenient {
                Some(Ok(docs)) => Ok(docs),
                _ => Err(ComposeError::Yaml { at, message }),
            }
        }
        r => r,
    }
}

fn parse_strict(text: &str, file: &str) -> Result<Vec<Node>> {
    let file: Arc<str> = Arc::from(file);
    if text.len() > MAX_TEXT_BYTES {
        return Err(ComposeError::Yaml {
            at: Location {
                file: Some(file.to_string()),
                line: None,
                col: None,
            },
            message: format!(
                "the file is {} bytes, more than the {} MiB a compose file may have",
                text.len(),
                MAX_TEXT_BYTES >> 20
            ),
        });
    }
    let mut b = Builder {
        file: file.clone(),
        anchors: HashMap::new(),
        parser: Parser::new_from_str(text),
        depth: 0,
        decoded: 0,
        aliased: 0,
    };
    let mut docs = Vec::new();
    loop {
        let (ev, span) = b.next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                b.anchors.clear();
                let (ev, span) = b.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Node::at(V::Null, Some(b.pos(&span))));
                    continue;
                }
                docs.push(b.node(ev, span)?);
            }
            Event::StreamEnd => break,
            _ => return Err(b.err(&span, "unexpected event at top level")),
        }
    }
    Ok(docs)
}

/// Parse a compose file: the documents are merged in order; an empty file is an empty mapping.
pub fn parse_file(text: &str, file: &str) -> Result<Node> {
    let docs = parse_documents(text, file)?;
    let mut out: Option<Node> = None;
    for d in docs {
        if d.is_null() {
            continue;
        }
        if d.as_map().is_none() {
            return Err(ComposeError::Yaml {
                at: d.pos.clone().into(),
                message: format!("the top level must be a mapping, found {}", d.kind()),
            });
        }
        out = Some(match out {
            None => d,
            Some(base) => crate::compose::load::merge::merge_nodes(base, d, &Default::default()),
        });
    }
    Ok(out.unwrap_or_else(|| {
        let mut n = Node::map();
        n.pos = Some(Pos {
            file: Arc::from(file),
            line: 1,
            col: 1,
        });
        n
    }))
}

struct Builder<'a> {
    file: Arc<str>,
    /// Anchored nodes with the number of nodes each expands to.
    anchors: HashMap<usize, (Node, u64)>,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    depth: usize,
    /// Nodes built so far, aliases expanded, and how many of them came from aliases.
    decoded: u64,
    aliased: u64,
}

impl<'a> Builder<'a> {
    fn pos(&self, span: &Span) -> Pos {
        Pos {
            file: self.file.clone(),
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
    fn err(&self, span: &Span, msg: &str) -> ComposeError {
        ComposeError::Yaml {
            at: Location::from(self.pos(span)),
            message: msg.to_string(),
        }
    }
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            None => Ok((
                Event::StreamEnd,
                Span::new(Default::default(), Default::default()),
            )),
            Some(Ok(x)) => Ok(x),
            Some(Err(e)) => Err(ComposeError::Yaml {
                at: Location {
                    file: Some(self.file.to_string()),
                    line: Some(e.marker().line() as u32),
                    col: Some(e.marker().col() as u32 + 1),
                },
                message: e.info().to_string(),
            }),
        }
    }

    fn tag_of(
        &self,
        tag: Option<&saphyr_parser::Tag>,
        span: &Span,
    ) -> Result<(Option<Tag>, Option<String>)> {
        let Some(t) = tag else {
            return Ok((None, None));
        };
        if t.handle == "!" {
            return match t.suffix.as_str() {
                "reset" => Ok((Some(Tag::Reset), None)),
                "override" => Ok((Some(Tag::Override), None)),
                other => Err(self.err(
                    span,
                    &format!("unknown tag !{other}: expected !reset or !override"),
                )),
            };
        }
        if t.is_yaml_core_schema() || t.handle == "!!" {
            return Ok((None, Some(t.suffix.clone())));
        }
        Err(self.err(span, &format!("unsupported tag {t}")))
    }

    /// Count `n` more nodes (`aliased`: they expand an alias); fail before building them
    /// when the document grows past the limits.
    fn count(&mut self, n: u64, aliased: bool, span: &Span) -> Result<()> {
        self.decoded = self.decoded.saturating_add(n);
        if aliased {
            self.aliased = self.aliased.saturating_add(n);
        }
        if self.aliased > 100
            && self.decoded > 1000
            && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            return Err(self.err(span, "document contains excessive aliasing"));
        }
        if self.decoded > MAX_NODES {
            return Err(self.err(
                span,
                &format!("document has more than {MAX_NODES} nodes (aliases expanded)"),
            ));
        }
        Ok(())
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        let before = self.decoded;
        let (node, anchor) = self.node_inner(ev, &span)?;
        if anchor > 0 {
            let size = self.decoded - before;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }

    /// Build one node; also returns its anchor id (0: none).
    fn node_inner(&mut self, ev: Event<'a>, span: &Span) -> Result<(Node, usize)> {
        let span = *span;
        let pos = self.pos(&span);
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..)) {
            if self.depth >= MAX_DEPTH {
                return Err(self.err(
                    &span,
                    &format!("the document nests deeper than {MAX_DEPTH} levels"),
                ));
            }
            self.depth += 1;
            let built = self.collection(ev, span, pos);
            self.depth -= 1;
            return built;
        }
        match ev {
            Event::Alias(id) => {
                let size = match self.anchors.get(&id) {
                    Some((_, size)) => *size,
                    None => return Err(self.err(&span, "alias refers to an unknown anchor")),
                };
                self.count(size, true, &span)?;
                let mut n = self.anchors[&id].0.clone();
                n.pos = Some(pos);
                Ok((n, 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                let (ctag, core) = self.tag_of(tag.as_deref(), &span)?;
                let v = match core.as_deref() {
                    Some("str") => V::Str(text.to_string()),
                    Some("null") => V::Null,
                    Some("bool") | Some("int") | Some("float") => resolve_plain(&text),
                    Some(other) => {
                        return Err(self.err(&span, &format!("unsupported tag !!{other}")))
                    }
                    None if style == ScalarStyle::Plain => resolve_plain(&text),
                    None => V::Str(text.to_string()),
                };
                self.count(1, false, &span)?;
                let mut n = Node::at(v, Some(pos));
                n.tag = ctag;
                Ok((n, anchor))
            }
            _ => Err(self.err(&span, "unexpected YAML event")),
        }
    }

    /// A sequence or a mapping (depth already counted).
    fn collection(&mut self, ev: Event<'a>, span: Span, pos: Pos) -> Result<(Node, usize)> {
        self.count(1, false, &span)?;
        match ev {
            Event::SequenceStart(anchor, tag) => {
                let (ctag, _) = self.tag_of(tag.as_deref(), &span)?;
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                let mut n = Node::at(V::Seq(items), Some(pos));
                n.tag = ctag;
                Ok((n, anchor))
            }
            Event::MappingStart(anchor, tag) => {
                let (ctag, _) = self.tag_of(tag.as_deref(), &span)?;
                let mut map: IndexMap<String, Node> = IndexMap::new();
                let mut merged: Vec<Node> = Vec::new();
                loop {
                    let (kev, kspan) = self.next()?;
                    if matches!(kev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge =
                        matches!(&kev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(kev, kspan)?;
                    let kpos = key.pos.clone();
                    let (vev, vspan) = self.next()?;
                    let mut value = self.node(vev, vspan)?;
                    if is_merge {
                        match &value.v {
                            V::Map(_) => merged.push(value),
                            V::Seq(items) => {
                                for it in items {
                                    if it.as_map().is_none() {
                                        return Err(self.err(&kspan, "a << merge key expects a mapping or a list of mappings"));
                                    }
                                }
                                merged.extend(items.iter().cloned());
                            }
                            _ => {
                                return Err(self.err(
                                    &kspan,
                                    "a << merge key expects a mapping or a list of mappings",
                                ))
                            }
                        }
                        continue;
                    }
                    let key = match key.scalar_string() {
                        Some(k) => k,
                        None if key.is_null() => "null".to_string(),
                        None => return Err(self.err(&kspan, "mapping keys must be scalars")),
                    };
                    if map.contains_key(&key) {
                        return Err(self.err(&kspan, &format!("duplicate key {key:?} in mapping")));
                    }
                    value.key_pos = kpos;
                    map.insert(key, value);
                }
                // Merge keys: explicit keys win, then the merged mappings in order.
                for m in merged {
                    if let V::Map(mm) = m.v {
                        for (k, v) in mm {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
                let mut n = Node::at(V::Map(map), Some(pos));
                n.tag = ctag;
                Ok((n, anchor))
            }
            _ => Err(self.err(&span, "unexpected YAML event")),
        }
    }
}

/// Resolve a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> V {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return V::Null,
        "true" | "True" | "TRUE" => return V::Bool(true),
        "false" | "False" | "FALSE" => return V::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return V::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return V::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return V::Float(f64::NAN),
        _ => {}
    }
    if let Some(h) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return V::Int(i);
        }
    }
    if let Some(o) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(o, 8) {
            return V::Int(i);
        }
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    // A leading zero means octal, as in docker compose's YAML library (`mode: 0440` is 288).
    if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        if let Ok(i) = i64::from_str_radix(digits, 8) {
            return V::Int(if s.starts_with('-') { -i } else { i });
        }
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return V::Int(i);
        }
    }
    let looks_float = !digits.is_empty()
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float {
        if let Ok(f) = s.parse::<f64>() {
            return V::Float(f);
        }
    }
    V::Str(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zero_is_octal_like_docker_compose() {
        assert!(matches!(resolve_plain("0440"), V::Int(288)));
        assert!(matches!(resolve_plain("0o440"), V::Int(288)));
        assert!(matches!(resolve_plain("440"), V::Int(440)));
        assert!(matches!(resolve_plain("0"), V::Int(0)));
    }

    fn p(s: &str) -> Node {
        parse_file(s, "t.yaml").unwrap()
    }

    #[test]
    fn scalars_and_positions() {
        let n = p("a: 1\nb: '1'\nc: true\nd: 1.5\ne: ~\nf: hello\n");
        assert_eq!(n.get("a").unwrap().v, V::Int(1));
        assert_eq!(n.get("b").unwrap().v, V::Str("1".into()));
        assert_eq!(n.get("c").unwrap().v, V::Bool(true));
        assert_eq!(n.get("d").unwrap().v, V::Float(1.5));
        assert!(n.get("e").unwrap().is_null());
        let f = n.get("f").unwrap();
        assert_eq!(f.pos.as_ref().unwrap().line, 6);
        assert_eq!(f.pos.as_ref().unwrap().col, 4);
        assert_eq!(f.key_pos.as_ref().unwrap().col, 1);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n =
            p("x-base: &base\n  image: a\n  tty: true\ns:\n  <<: *base\n  image: b\nl: *base\n");
        let s = n.get("s").unwrap();
        assert_eq!(s.get("image").unwrap().v, V::Str("b".into()));
        assert_eq!(s.get("tty").unwrap().v, V::Bool(true));
        assert_eq!(
            n.get("l").unwrap().get("image").unwrap().v,
            V::Str("a".into())
        );
    }

    #[test]
    fn merge_key_list_first_wins() {
        let n = p("a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nc:\n  <<: [*a, *b]\n");
        let c = n.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().v, V::Int(1));
        assert_eq!(c.get("z").unwrap().v, V::Int(2));
    }

    #[test]
    fn tags() {
        let n = p("a: !reset []\nb: !override\n  x: 1\nc: !!str 12\n");
        assert_eq!(n.get("a").unwrap().tag, Some(Tag::Reset));
        assert_eq!(n.get("b").unwrap().tag, Some(Tag::Override));
        assert_eq!(n.get("c").unwrap().v, V::Str("12".into()));
        let e = parse_file("a: !foo x\n", "t.yaml").unwrap_err().to_string();
        assert!(e.contains("unknown tag !foo"), "{e}");
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = parse_file("services:\n  web:\n    image: [a\n", "c.yaml").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("c.yaml:"), "{s}");
        let e = parse_file("a: 1\na: 2\n", "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.yaml:2:1") && e.contains("duplicate key"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    /// Nine levels of ten-way anchors: 10^9 nodes once expanded, in 400 bytes.
    fn alias_bomb() -> String {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        s
    }

    #[test]
    fn alias_bombs_are_refused_like_go_yaml() {
        let e = parse_file(&alias_bomb(), "bomb.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bomb.yaml:"), "{e}");
        assert!(e.contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn ordinary_aliases_still_work() {
        let mut s = String::from("x-env: &env {A: '1', B: '2'}\nservices:\n");
        for i in 0..200 {
            s.push_str(&format!("  s{i}:\n    image: box\n    environment: *env\n"));
        }
        let n = parse_file(&s, "c.yaml").unwrap();
        let services = n.get("services").unwrap().as_map().unwrap();
        assert_eq!(services.len(), 200);
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Flow collections: the parser's own limit.
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_file(&deep, "deep.yaml").unwrap_err().to_string();
        assert!(e.starts_with("deep.yaml:"), "{e}");
        assert!(e.contains("recursion limit"), "{e}");
        // Block mappings: ours.
        let deep: String = (0..1000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        let e = parse_file(&deep, "deep.yaml").unwrap_err().to_string();
        assert!(e.starts_with("deep.yaml:"), "{e}");
        assert!(e.contains("nests deeper than"), "{e}");
        let ok = format!("a: {}{}\n", "[".repeat(50), "]".repeat(50));
        parse_file(&ok, "ok.yaml").unwrap();
    }

    #[test]
    fn oversized_text_is_refused() {
        let big = format!("a: '{}'\n", "x".repeat(MAX_TEXT_BYTES));
        let e = parse_file(&big, "big.yaml").unwrap_err().to_string();
        assert!(e.starts_with("big.yaml"), "{e}");
        assert!(e.contains("MiB"), "{e}");
    }
}
