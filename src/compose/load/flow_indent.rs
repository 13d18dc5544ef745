//! A leniency of libyaml and go-yaml that `saphyr-parser` lacks: the closing `]` or `}` of a
//! flow collection on a line of its own, at the column of the key that holds it
//!
//! ```yaml
//! ports: [
//!   "80:80"
//! ]
//! ```
//!
//! is refused by the strict scanner ("invalid indentation") but is valid for the parsers
//! docker compose uses. When a file fails that way, its closer lines are indented one column
//! past the line that opened the collection and the text is parsed again; nothing else moves,
//! so every other position in an error stays exact.

/// The text with each flow closer line indented past its opener, or `None` when no line
/// needed it.
pub fn indent_flow_closers(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut scan = Scan::default();
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_start_matches([' ', '\t']);
        let indent = line.len() - body.len();
        if scan.depth > 0
            && scan.quote.is_none()
            && body.starts_with([']', '}'])
            && indent <= scan.open_indent
        {
            out.extend(std::iter::repeat_n(' ', scan.open_indent + 1));
            out.push_str(body);
            changed = true;
        } else {
            out.push_str(line);
        }
        scan.line(line, indent);
    }
    changed.then_some(out)
}

/// Where the scan stands between lines: flow depth, the indentation of the line that opened
/// the outermost collection, an open quoted scalar (flow scalars may span lines).
#[derive(Default)]
struct Scan {
    depth: usize,
    open_indent: usize,
    quote: Option<char>,
}

impl Scan {
    fn line(&mut self, line: &str, indent: usize) {
        let chars: Vec<char> = line.chars().collect();
        let mut prev = ' ';
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match self.quote {
                Some('\'') if c == '\'' && chars.get(i + 1) == Some(&'\'') => i += 1,
                Some('"') if c == '\\' => i += 1,
                Some(q) if c == q => self.quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => return,
                    '\'' | '"' if self.depth > 0 || starts_node(prev) => self.quote = Some(c),
                    '[' | '{' if self.depth > 0 || starts_node(prev) => {
                        if self.depth == 0 {
                            self.open_indent = indent;
                        }
                        self.depth += 1;
                    }
                    ']' | '}' if self.depth > 0 => self.depth -= 1,
                    _ => {}
                },
            }
            if !c.is_whitespace() {
                prev = c;
            } else if prev != ':' && prev != '-' {
                prev = ' ';
            }
            i += 1;
        }
    }
}

/// Whether a node may start after `prev` in block context (line start, `key: `, `- `).
fn starts_node(prev: char) -> bool {
    matches!(prev, ' ' | ':' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closers_at_the_key_column_are_indented_past_their_opener() {
        let t = "a:\n  ports: [\n    \"80:80\"\n  ]\n  env: {\n    A: 1\n  }\nb: [\n  1\n]\n";
        let fixed = indent_flow_closers(t).unwrap();
        assert_eq!(
            fixed,
            "a:\n  ports: [\n    \"80:80\"\n   ]\n  env: {\n    A: 1\n   }\nb: [\n  1\n ]\n"
        );
    }

    #[test]
    fn brackets_in_scalars_quotes_and_comments_are_not_collections() {
        for t in [
            "a: x[1\n]\n",
            "a: 'x [' \n]\n",
            "a: \"[\" # [\n]\n",
            "a: b # [\n]\n",
            "a: [1]\n]\n",
        ] {
            assert_eq!(indent_flow_closers(t), None, "{t:?}");
        }
        assert!(indent_flow_closers("a: [\n  'it''s ]'\n]\n").is_some());
    }
}
