//! Docker's word processing for Dockerfile arguments: variable substitution (`$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}`), quote
//! removal, the escape character (`\` or the `escape` directive's), word splitting and the
//! `name=value` lists of ENV, LABEL and ARG. The parser crate gives us the raw argument text;
//! this module gives it the meaning Docker's builder does, so `ENV A="x y"` and `${A:-d}`
//! behave exactly like `docker build`.

/// Variables visible to a substitution, looked up by exact name.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl Lookup for [(String, String)] {
    fn lookup(&self, name: &str) -> Option<&str> {
        // Later entries win (an ENV after an ARG of the same name).
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Lookup for Vec<(String, String)> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
}

struct Lexer<'a, L: Lookup + ?Sized> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a L,
    /// Quotes are plain characters (here-document bodies); only `$` is special.
    raw_quotes: bool,
}

impl<L: Lookup + ?Sized> Lexer<'_, L> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Process until `stop` (not consumed) or the end; `split` breaks words at unquoted
    /// whitespace. Returns the words (one unless splitting).
    fn process(&mut self, stop: Option<char>, split: bool) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut word = String::new();
        // Whether the current word has content (an empty quoted string is a word).
        let mut started = false;
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                break;
            }
            self.pos += 1;
            if split && c.is_whitespace() {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
                continue;
            }
            started = true;
            if self.raw_quotes && c != '$' {
                if c == self.escape && self.peek() == Some('$') {
                    self.pos += 1;
                    word.push('$');
                } else {
                    word.push(c);
                }
                continue;
            }
            if c == self.escape {
                match self.next() {
                    Some(n) => word.push(n),
                    None => break,
                }
            } else if c == '\'' {
                self.single_quoted(&mut word)?;
            } else if c == '"' {
                self.double_quoted(&mut word)?;
            } else if c == '$' {
                word.push_str(&self.dollar()?);
            } else {
                word.push(c);
            }
        }
        if started || !split {
            words.push(word);
        }
        Ok(words)
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), String> {
        loop {
            match self.next() {
                Some('\'') => return Ok(()),
                Some(c) => out.push(c),
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
            }
        }
    }

    fn double_quoted(&mut self, out: &mut String) -> Result<(), String> {
        loop {
            match self.next() {
                Some('"') => return Ok(()),
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) if c == self.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        out.push(n);
                    }
                    Some(_) => out.push(c),
                    None => {}
                },
                Some(c) => out.push(c),
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.env.lookup(&name).unwrap_or_default().to_string());
        }
        self.pos += 1;
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: missing variable name after ${".into());
        }
        let value = self.env.lookup(&name).map(str::to_string);
        let colon = self.peek() == Some(':');
        if colon {
            self.pos += 1;
        }
        let op = self.next();
        if op == Some('}') && !colon {
            return Ok(value.unwrap_or_default());
        }
        let word = match op {
            Some('-' | '+' | '?') => {
                let w = self.process(Some('}'), false)?.concat();
                if self.next() != Some('}') {
                    return Err(format!("syntax error: missing '}}' in ${{{name}…"));
                }
                w
            }
            Some(c) => {
                return Err(format!(
                    "unsupported modifier ({}{c}) in substitution of {name}",
                    if colon { ":" } else { "" }
                ))
            }
            None => return Err(format!("syntax error: missing '}}' in ${{{name}")),
        };
        // With a colon an empty value counts as unset, as in POSIX shells.
        let set = match &value {
            Some(v) => !colon || !v.is_empty(),
            None => false,
        };
        Ok(match op {
            Some('-') if set => value.unwrap_or_default(),
            Some('-') => word,
            Some('+') if set => word,
            Some('+') => String::new(),
            _ if set => value.unwrap_or_default(),
            _ => {
                let msg = if word.is_empty() {
                    "is not allowed to be empty".to_string()
                } else {
                    word
                };
                return Err(format!("{name}: {msg}"));
            }
        })
    }
}

fn lexer<'a, L: Lookup + ?Sized>(text: &str, escape: char, env: &'a L) -> Lexer<'a, L> {
    Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape,
        env,
        raw_quotes: false,
    }
}

/// Substitute variables in a here-document body: quotes and escapes stay as written,
/// except `\$` for a literal `$`.
pub fn process_word_raw_quotes<L: Lookup + ?Sized>(
    text: &str,
    escape: char,
    env: &L,
) -> Result<String, String> {
    let mut l = lexer(text, escape, env);
    l.raw_quotes = true;
    Ok(l.process(None, false)?.concat())
}

/// Substitute variables and remove quotes in one word, keeping its spaces.
pub fn process_word<L: Lookup + ?Sized>(
    text: &str,
    escape: char,
    env: &L,
) -> Result<String, String> {
    Ok(lexer(text, escape, env).process(None, false)?.concat())
}

/// Substitute, remove quotes and split at unquoted whitespace.
pub fn process_words<L: Lookup + ?Sized>(
    text: &str,
    escape: char,
    env: &L,
) -> Result<Vec<String>, String> {
    lexer(text, escape, env).process(None, true)
}

/// Split at unquoted whitespace keeping quotes and escapes, as Docker's `parseWords` does
/// before it splits `name=value` pairs.
pub fn raw_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            word.push(c);
            escaped = false;
            continue;
        }
        if c == escape {
            escaped = true;
            word.push(c);
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `ENV`/`LABEL` arguments as raw (unprocessed) pairs: `k=v k2="v 2"` or the legacy
/// `ENV k some value`.
pub fn name_values(text: &str, escape: char, what: &str) -> Result<Vec<(String, String)>, String> {
    let words = raw_words(text, escape);
    let Some(first) = words.first() else {
        return Err(format!("{what} requires at least one argument"));
    };
    if !first.contains('=') {
        // Legacy form: the rest of the line, whitespace kept, is the value.
        let rest = text.trim_start()[first.len()..].trim();
        if rest.is_empty() {
            return Err(format!("{what} {first}: must be of the form name=value"));
        }
        return Ok(vec![(first.clone(), rest.to_string())]);
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{what} names can not be blank")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "syntax error - can't find = in \"{w}\". Must be of the form: name=value"
            )),
        })
        .collect()
}

/// `ARG` arguments: `NAME` or `NAME=default`, several allowed.
pub fn arg_decls(text: &str, escape: char) -> Result<Vec<(String, Option<String>)>, String> {
    let words = raw_words(text, escape);
    if words.is_empty() {
        return Err("ARG requires at least one argument".into());
    }
    words
        .into_iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (w, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("ARG {name:?}: a name is letters, digits and _"));
            }
            Ok((name, default))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("A".into(), "x".into()),
            ("EMPTY".into(), "".into()),
            ("SP".into(), "a b".into()),
        ]
    }

    fn w(s: &str) -> String {
        process_word(s, '\\', &env()).unwrap()
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(w("$A"), "x");
        assert_eq!(w("${A}y"), "xy");
        assert_eq!(w("$Ay"), "");
        assert_eq!(w("pre-$A-post"), "pre-x-post");
        assert_eq!(w("$NOPE"), "");
        assert_eq!(w("a$"), "a$");
        assert_eq!(w("$ $"), "$ $");
    }

    #[test]
    fn default_and_alternative_forms() {
        assert_eq!(w("${NOPE:-d}"), "d");
        assert_eq!(w("${EMPTY:-d}"), "d");
        assert_eq!(w("${EMPTY-d}"), "");
        assert_eq!(w("${A:-d}"), "x");
        assert_eq!(w("${A:+r}"), "r");
        assert_eq!(w("${EMPTY:+r}"), "");
        assert_eq!(w("${EMPTY+r}"), "r");
        assert_eq!(w("${NOPE:+r}"), "");
        assert_eq!(w("${NOPE:-$A}"), "x");
        assert_eq!(w("${NOPE:-${A:+nested}}"), "nested");
    }

    #[test]
    fn required_variable_fails_with_its_message() {
        let e = process_word("${NOPE:?set it}", '\\', &env()).unwrap_err();
        assert_eq!(e, "NOPE: set it");
        assert_eq!(w("${A:?x}"), "x");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A b\""), "x b");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("\"a\\\"b\""), "a\"b");
        assert_eq!(w("\"a\\nb\""), "a\\nb");
        assert_eq!(w("a\\ b"), "a b");
        assert_eq!(process_word("`$A", '`', &env()).unwrap(), "$A");
        assert_eq!(process_word("C:\\dir", '`', &env()).unwrap(), "C:\\dir");
    }

    #[test]
    fn heredoc_bodies_keep_quotes() {
        let e = env();
        assert_eq!(
            process_word_raw_quotes("echo \"$A\" 'x' \\$A\n", '\\', &e).unwrap(),
            "echo \"x\" 'x' $A\n"
        );
    }

    #[test]
    fn bad_substitutions_are_errors() {
        for bad in ["${A", "${}", "${A:=x}", "'open", "\"open"] {
            assert!(process_word(bad, '\\', &env()).is_err(), "{bad}");
        }
    }

    #[test]
    fn splitting_keeps_quoted_spaces_and_empty_quotes() {
        let e = env();
        assert_eq!(
            process_words("a \"b c\" $SP ''", '\\', &e).unwrap(),
            vec!["a", "b c", "a b", ""]
        );
        assert!(process_words("   ", '\\', &e).unwrap().is_empty());
    }

    #[test]
    fn name_value_pairs() {
        let pairs = name_values("A=1 B=\"two words\" C=a\\ b", '\\', "ENV").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into()),
                ("C".into(), "a\\ b".into())
            ]
        );
        assert_eq!(
            name_values("KEY some value  here", '\\', "ENV").unwrap(),
            vec![("KEY".into(), "some value  here".into())]
        );
        assert!(name_values("A=1 B", '\\', "ENV").is_err());
        assert!(name_values("=1", '\\', "LABEL").is_err());
        assert!(name_values("ALONE", '\\', "ENV").is_err());
    }

    #[test]
    fn arg_declarations() {
        assert_eq!(
            arg_decls("A B=2 C=\"x y\"", '\\').unwrap(),
            vec![
                ("A".into(), None),
                ("B".into(), Some("2".into())),
                ("C".into(), Some("\"x y\"".into()))
            ]
        );
        assert!(arg_decls("A-B=1", '\\').is_err());
    }
}
