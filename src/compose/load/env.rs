//! Phase 0: the environment used for interpolation — `.env` in the project directory or the
//! `--env-file` files (dotenv syntax), with the shell environment winning — and the project name.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compose::error::{ComposeError, Location, Result};
use crate::compose::load::interpolate::{substitute, TemplateError};
use crate::compose::value::KeyPath;

/// The variables interpolation looks up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    pub vars: BTreeMap<String, String>,
}

impl Environment {
    /// The environment of this process.
    pub fn from_os() -> Environment {
        Environment {
            vars: std::env::vars().collect(),
        }
    }
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    /// Add the variables of `other` that this environment does not define.
    pub fn fill_from(&mut self, other: impl IntoIterator<Item = (String, String)>) {
        for (k, v) in other {
            self.vars.entry(k).or_insert(v);
        }
    }
}

/// Parse a dotenv text. A key without `=` takes its value from `lookup` (`None` when unset).
/// Single-quoted values are literal; double-quoted ones handle escapes (`\n`, `\t`, `\"`, `\\`,
/// `\$`) and interpolation; unquoted values are trimmed, lose a ` #comment`, and are interpolated.
pub fn parse_dotenv(
    text: &str,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let at = || Location {
            file: Some(file.to_string()),
            line: Some(lineno as u32),
            col: None,
        };
        let line = lines[i].trim_start();
        i += 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let (key, rest) = match line.find('=') {
            Some(eq) => (line[..eq].trim(), Some(&line[eq + 1..])),
            None => (line.trim(), None),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(ComposeError::Invalid {
                at: at(),
                key: KeyPath::root(),
                message: format!(
                    "invalid variable name {key:?} in env file: expected KEY=VALUE with a name of letters, digits, _ . -"
                ),
            });
        }
        let Some(rest) = rest else {
            out.push((key.to_string(), lookup(key)));
            continue;
        };
        let known = |name: &str| {
            lookup(name).or_else(|| {
                out.iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.clone())
            })
        };
        let rest = rest.trim_start();
        let value = if let Some(q) = rest.strip_prefix('\'') {
            // literal, possibly over several lines
            let mut buf = q.to_string();
            loop {
                if let Some(end) = buf.find('\'') {
                    buf.truncate(end);
                    break buf;
                }
                if i >= lines.len() {
                    return Err(unterminated(at(), key));
                }
                buf.push('\n');
                buf.push_str(lines[i]);
                i += 1;
            }
        } else if let Some(q) = rest.strip_prefix('"') {
            let mut raw = q.to_string();
            let end = loop {
                if let Some(end) = find_unescaped_quote(&raw) {
                    break end;
                }
                if i >= lines.len() {
                    return Err(unterminated(at(), key));
                }
                raw.push('\n');
                raw.push_str(lines[i]);
                i += 1;
            };
            raw.truncate(end);
            let unescaped = unescape_double(&raw);
            expand(&unescaped, &known, at(), key)?
        } else {
            let mut v = rest;
            if let Some(h) = v.find(" #").or_else(|| v.find("\t#")) {
                v = &v[..h];
            }
            expand(v.trim(), &known, at(), key)?
        };
        out.push((key.to_string(), Some(value)));
    }
    Ok(out)
}

fn unterminated(at: Location, key: &str) -> ComposeError {
    ComposeError::Invalid {
        at,
        key: KeyPath::root().key(key),
        message: "unterminated quoted value in env file".into(),
    }
}

fn find_unescaped_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

/// Process escapes; `\$` becomes `$$` so that interpolation leaves a literal `$`.
fn unescape_double(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('$') => out.push_str("$$"),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn expand(
    v: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    at: Location,
    key: &str,
) -> Result<String> {
    substitute(v, lookup).map_err(|e| match e {
        TemplateError::Required { variable, message } => ComposeError::RequiredVariable {
            at,
            key: KeyPath::root().key(key),
            variable,
            message,
        },
        TemplateError::Invalid { reason } => ComposeError::InvalidTemplate {
            at,
            key: KeyPath::root().key(key),
            template: v.to_string(),
            reason,
        },
    })
}

/// Read a dotenv file.
pub fn read_dotenv(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>> {
    let text = std::fs::read_to_string(path).map_err(|source| ComposeError::Io {
        path: path.to_path_buf(),
        what: "cannot read env file",
        source,
    })?;
    parse_dotenv(&text, &path.display().to_string(), lookup)
}

/// Normalise a directory name into a project name like docker compose does: lowercase, only
/// `[a-z0-9_-]`, starting with a letter or a digit.
pub fn normalize_project_name(s: &str) -> String {
    let lower = s.to_lowercase();
    let kept: String = lower
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// Whether a name is a valid project name.
pub fn is_valid_project_name(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn dotenv_syntax() {
        let text = "# comment\n\nA=1\nexport B = two words  # comment\nC='lit $A \\n'\nD=\"x\\ty $A \\$A \\\"q\\\"\"\nE=${A}-${UNSET:-def}\nF\nG=\"multi\nline\"\nH=a#b\n";
        let look = |n: &str| {
            if n == "F" {
                Some("from-shell".into())
            } else {
                None
            }
        };
        let v = parse_dotenv(text, ".env", &look).unwrap();
        let m: BTreeMap<_, _> = v.into_iter().collect();
        assert_eq!(m["A"].as_deref(), Some("1"));
        assert_eq!(m["B"].as_deref(), Some("two words"));
        assert_eq!(m["C"].as_deref(), Some("lit $A \\n"));
        assert_eq!(m["D"].as_deref(), Some("x\ty 1 $A \"q\""));
        assert_eq!(m["E"].as_deref(), Some("1-def"));
        assert_eq!(m["F"].as_deref(), Some("from-shell"));
        assert_eq!(m["G"].as_deref(), Some("multi\nline"));
        assert_eq!(m["H"].as_deref(), Some("a#b"));
    }

    #[test]
    fn dotenv_errors() {
        let e = parse_dotenv("A=1\nBAD KEY=2\n", "x.env", &none)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.env:2:"), "{e}");
        let e = parse_dotenv("A=\"open\n", "x.env", &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unterminated"), "{e}");
    }

    #[test]
    fn project_names() {
        assert_eq!(normalize_project_name("My App.v2"), "myappv2");
        assert_eq!(normalize_project_name("_x-Y_"), "x-y_");
        assert!(is_valid_project_name("demo_1-a"));
        assert!(!is_valid_project_name("Demo"));
        assert!(!is_valid_project_name("-x"));
    }
}
