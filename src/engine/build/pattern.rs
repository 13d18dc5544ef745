//! Path patterns as Docker reads them: Go's `filepath.Match` for one path segment (`*`, `?`,
//! `[a-z]`, `[^x]`, `\` escapes) in COPY/ADD sources, and the `.dockerignore` language on top
//! (`**` for any number of directories, `!` exceptions, the last matching line wins, a
//! leading `/` and `./` ignored, a directory's pattern covering everything under it).

/// Whether `name` (one segment) matches the Go-style `pattern` (one segment).
pub fn segment_match(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

fn class_match(p: &[char], c: char) -> Result<(bool, usize), String> {
    // p starts after '['; returns (matched, length consumed including ']').
    let mut i = 0;
    let negate = matches!(p.first(), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let Some(&ch) = p.get(i) else {
            return Err("syntax error in pattern: unterminated [".into());
        };
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i).ok_or("syntax error in pattern: trailing \\")?
        } else {
            ch
        };
        i += 1;
        let hi = if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            let h = if p[i] == '\\' {
                i += 1;
                *p.get(i).ok_or("syntax error in pattern: trailing \\")?
            } else {
                p[i]
            };
            i += 1;
            h
        } else {
            lo
        };
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    Ok((matched != negate, i))
}

fn matches(p: &[char], n: &[char]) -> Result<bool, String> {
    match p.first() {
        None => Ok(n.is_empty()),
        Some('*') => {
            let rest = &p[1..];
            for k in 0..=n.len() {
                if n[..k].contains(&'/') {
                    break;
                }
                if matches(rest, &n[k..])? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Some('?') => match n.first() {
            Some(c) if *c != '/' => matches(&p[1..], &n[1..]),
            _ => Ok(false),
        },
        Some('[') => {
            let Some(&c) = n.first() else {
                // Still check the class is well formed.
                class_match(&p[1..], '\0')?;
                return Ok(false);
            };
            let (ok, used) = class_match(&p[1..], c)?;
            Ok(ok && matches(&p[1 + used..], &n[1..])?)
        }
        Some('\\') => match (p.get(1), n.first()) {
            (Some(a), Some(b)) if a == b => matches(&p[2..], &n[1..]),
            (None, _) => Err("syntax error in pattern: trailing \\".into()),
            _ => Ok(false),
        },
        Some(a) => match n.first() {
            Some(b) if a == b => matches(&p[1..], &n[1..]),
            _ => Ok(false),
        },
    }
}

pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// One `.dockerignore` line.
#[derive(Debug, Clone)]
struct Rule {
    segments: Vec<String>,
    exclude: bool,
}

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    rules: Vec<Rule>,
}

fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in pattern.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

impl Ignore {
    /// Parse the file's text; an invalid pattern names its line.
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (exclude, body) = match l.strip_prefix('!') {
                Some(rest) => (false, rest.trim()),
                None => (true, l),
            };
            let cleaned = clean(body);
            if cleaned.is_empty() {
                continue;
            }
            let segments: Vec<String> = cleaned.split('/').map(str::to_string).collect();
            for s in &segments {
                if s != "**" {
                    segment_match(s, "x")
                        .map_err(|e| format!(".dockerignore line {}: {l}: {e}", i + 1))?;
                }
            }
            rules.push(Rule { segments, exclude });
        }
        Ok(Ignore { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether the context-relative `path` is left out (a pattern that matches a parent
    /// directory matches everything under it).
    pub fn excluded(&self, path: &str) -> bool {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut out = false;
        for r in &self.rules {
            if r.exclude == out {
                continue;
            }
            if (1..=segs.len()).any(|k| seg_match(&r.segments, &segs[..k])) {
                out = r.exclude;
            }
        }
        out
    }

    /// Whether some `!` exception could re-include something under the directory `dir`,
    /// so that an excluded directory must still be walked.
    pub fn may_include_under(&self, dir: &str) -> bool {
        let segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
        self.rules.iter().any(|r| {
            !r.exclude && {
                // A prefix of the exception's pattern matches the directory, or `**` is in it.
                r.segments.iter().any(|s| s == "**")
                    || (r.segments.len() > segs.len()
                        && seg_match(&r.segments[..segs.len()], &segs))
            }
        })
    }
}

fn seg_match(pattern: &[String], path: &[&str]) -> bool {
    match pattern.first() {
        None => path.is_empty(),
        Some(p) if p == "**" => (0..=path.len()).any(|k| seg_match(&pattern[1..], &path[k..])),
        Some(p) => match path.first() {
            Some(s) => segment_match(p, s).unwrap_or(false) && seg_match(&pattern[1..], &path[1..]),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_segment_patterns() {
        assert!(segment_match("*.txt", "a.txt").unwrap());
        assert!(!segment_match("*.txt", "a.txt.bak").unwrap());
        assert!(segment_match("a?c", "abc").unwrap());
        assert!(segment_match("[a-c]x", "bx").unwrap());
        assert!(!segment_match("[^a-c]x", "bx").unwrap());
        assert!(segment_match("\\*", "*").unwrap());
        assert!(segment_match("[", "x").is_err());
    }

    #[test]
    fn dockerignore_rules() {
        let i = Ignore::parse(
            "# comment\nnode_modules\n*.log\n!keep.log\n**/*.tmp\n/build/\n./docs/*.md\n!docs/README.md\n",
        )
        .unwrap();
        assert!(i.excluded("node_modules"));
        assert!(i.excluded("node_modules/x/y.js"));
        assert!(i.excluded("a.log"));
        assert!(!i.excluded("keep.log"));
        assert!(!i.excluded("sub/a.log"));
        assert!(i.excluded("a/b/c.tmp"));
        assert!(i.excluded("c.tmp"));
        assert!(i.excluded("build/out"));
        assert!(i.excluded("docs/x.md"));
        assert!(!i.excluded("docs/README.md"));
        assert!(!i.excluded("src/main.rs"));
    }

    #[test]
    fn exceptions_inside_excluded_directories() {
        let i = Ignore::parse("dir\n!dir/keep\n").unwrap();
        assert!(i.excluded("dir"));
        assert!(i.may_include_under("dir"));
        assert!(!i.excluded("dir/keep"));
        assert!(i.excluded("dir/other"));
        let j = Ignore::parse("dir\n").unwrap();
        assert!(!j.may_include_under("dir"));
    }

    #[test]
    fn invalid_pattern_names_its_line() {
        let e = Ignore::parse("ok\n[bad\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
