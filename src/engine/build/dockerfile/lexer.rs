//! Dockerfile text → logical lines: parser directives (`# escape=`, `# syntax=`), comments,
//! line continuations with the escape character, and here-documents (`<<EOF`, `<<-EOF`,
//! `<<'EOF'`, several per line, anywhere in a RUN/COPY/ADD line). Each logical line keeps the
//! number of the physical line it starts on, so every later error can name it.

use super::DockerfileError;

/// One here-document: its delimiter, whether `$` expands in it, and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    pub name: String,
    pub expand: bool,
    pub body: String,
}

/// An instruction's text before interpretation.
#[derive(Debug, Clone, PartialEq)]
pub struct LogicalLine {
    pub line: usize,
    /// The keyword as written (case kept, for messages).
    pub keyword: String,
    /// Everything after the keyword, continuations joined.
    pub rest: String,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Default)]
pub struct Lexed {
    pub escape: char,
    pub syntax: Option<String>,
    pub lines: Vec<LogicalLine>,
}

/// Parser directives: `# key=value` lines at the very top, before any other line.
fn directives(physical: &[&str]) -> Result<(char, Option<String>, usize), DockerfileError> {
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen = std::collections::HashSet::new();
    let mut consumed = 0;
    for (i, raw) in physical.iter().enumerate() {
        let Some(body) = raw.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = body.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) {
            break;
        }
        let value = value.trim();
        if !seen.insert(key.clone()) {
            return Err(DockerfileError::at(
                i + 1,
                format!("only one {key} parser directive can be used"),
            ));
        }
        match key.as_str() {
            "escape" => {
                escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(DockerfileError::at(
                            i + 1,
                            format!("invalid escape token '{other}': it must be ` or \\"),
                        ))
                    }
                }
            }
            "syntax" => syntax = Some(value.to_string()),
            _ => {}
        }
        consumed = i + 1;
    }
    Ok((escape, syntax, consumed))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// A line that ends with the escape character (trailing whitespace allowed) continues.
fn continued(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    t.strip_suffix(escape)
}

/// The here-document markers in a RUN/COPY/ADD line, outside quotes: `<<[-]["']NAME["']`.
fn heredoc_markers(text: &str, escape: char) -> Vec<(String, bool, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == escape {
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '<'
                && chars.get(i + 1) == Some(&'<')
                && chars.get(i + 2) != Some(&'<') =>
            {
                let mut j = i + 2;
                let strip_tabs = chars.get(j) == Some(&'-');
                if strip_tabs {
                    j += 1;
                }
                let quoted = matches!(chars.get(j), Some('\'' | '"'));
                let q = chars.get(j).copied();
                if quoted {
                    j += 1;
                }
                let start = j;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                let starts_ok = name
                    .chars()
                    .next()
                    .is_some_and(|f| f.is_ascii_alphabetic() || f == '_');
                if quoted {
                    if chars.get(j).copied() == q {
                        j += 1;
                    } else {
                        i = j;
                        continue;
                    }
                }
                if starts_ok {
                    out.push((name, !quoted, strip_tabs));
                }
                i = j;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out
}

/// Split a Dockerfile into logical lines.
pub fn lex(text: &str) -> Result<Lexed, DockerfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let physical: Vec<&str> = text.lines().collect();
    let (escape, syntax, mut i) = directives(&physical)?;
    let mut lines = Vec::new();
    while i < physical.len() {
        let first = physical[i];
        if first.trim().is_empty() || is_comment(first) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut joined = String::new();
        let mut cur = first;
        loop {
            i += 1;
            match continued(cur, escape) {
                Some(head) => {
                    joined.push_str(head);
                    // Comment and empty lines inside a continuation are dropped, as Docker does.
                    while i < physical.len()
                        && (is_comment(physical[i]) || physical[i].trim().is_empty())
                    {
                        i += 1;
                    }
                    match physical.get(i) {
                        Some(next) => cur = next,
                        None => break,
                    }
                }
                None => {
                    joined.push_str(cur);
                    break;
                }
            }
        }
        let trimmed = joined.trim_start();
        let (keyword, rest) = match trimmed.find(char::is_whitespace) {
            Some(p) => (&trimmed[..p], trimmed[p..].trim()),
            None => (trimmed, ""),
        };
        let upper = keyword.to_ascii_uppercase();
        let mut heredocs = Vec::new();
        let takes_heredocs = matches!(upper.as_str(), "RUN" | "COPY" | "ADD")
            || (upper == "ONBUILD" && {
                let inner = rest.split_whitespace().next().unwrap_or("");
                matches!(inner.to_ascii_uppercase().as_str(), "RUN" | "COPY" | "ADD")
            });
        if takes_heredocs && !rest.trim_start().starts_with('[') {
            for (name, expand, strip_tabs) in heredoc_markers(rest, escape) {
                let mut body = String::new();
                loop {
                    let Some(raw) = physical.get(i) else {
                        return Err(DockerfileError::at(
                            start,
                            format!("unterminated here-document: no line \"{name}\" ends it"),
                        ));
                    };
                    i += 1;
                    let l = if strip_tabs {
                        raw.trim_start_matches('\t')
                    } else {
                        raw
                    };
                    if l == name {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                heredocs.push(Heredoc { name, expand, body });
            }
        }
        lines.push(LogicalLine {
            line: start,
            keyword: keyword.to_string(),
            rest: rest.to_string(),
            heredocs,
        });
    }
    Ok(Lexed {
        escape,
        syntax,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_comments_and_continuations() {
        let l = lex("# syntax=docker/dockerfile:1\n# escape=`\n\n# note\nFROM a\nRUN echo 1 `\n  # inside\n\n  && echo 2\nCMD x\n").unwrap();
        assert_eq!(l.escape, '`');
        assert_eq!(l.syntax.as_deref(), Some("docker/dockerfile:1"));
        let kw: Vec<(&str, usize)> = l
            .lines
            .iter()
            .map(|x| (x.keyword.as_str(), x.line))
            .collect();
        assert_eq!(kw, vec![("FROM", 5), ("RUN", 6), ("CMD", 10)]);
        assert_eq!(l.lines[1].rest, "echo 1   && echo 2");
    }

    #[test]
    fn a_directive_after_a_comment_is_a_comment() {
        let l = lex("# hello\n# escape=`\nFROM a\n").unwrap();
        assert_eq!(l.escape, '\\');
        assert!(lex("# escape=x\nFROM a").is_err());
        assert!(lex("# escape=`\n# escape=\\\nFROM a").is_err());
    }

    #[test]
    fn heredocs_anywhere_and_several() {
        let text = "FROM a\nRUN <<EOF\necho hi\nEOF\nRUN cat <<A >/a && cat <<-'B' >/b\none $X\nA\n\t\ttwo $X\n\tB\nCOPY <<F /f\nbody\nF\nRUN echo $((1<<2))\n";
        let l = lex(text).unwrap();
        assert_eq!(l.lines.len(), 5);
        assert_eq!(l.lines[1].heredocs[0].body, "echo hi\n");
        let h = &l.lines[2].heredocs;
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].name.as_str(), h[0].expand), ("A", true));
        assert_eq!(h[0].body, "one $X\n");
        assert_eq!((h[1].name.as_str(), h[1].expand), ("B", false));
        assert_eq!(h[1].body, "two $X\n");
        assert_eq!(l.lines[3].heredocs[0].body, "body\n");
        assert_eq!(l.lines[4].line, 13);
        assert!(l.lines[4].heredocs.is_empty());
    }

    #[test]
    fn unterminated_heredoc_names_its_line() {
        let e = lex("FROM a\n\nRUN <<EOF\necho\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("EOF"));
    }

    #[test]
    fn quoted_heredoc_marker_is_not_one() {
        let l = lex("FROM a\nRUN echo '<<EOF'\n").unwrap();
        assert!(l.lines[1].heredocs.is_empty());
    }
}
