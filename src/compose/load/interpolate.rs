//! Phase 2: variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, nested, `$$`).

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, V};

/// Why a template could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${VAR:?msg}` / `${VAR?msg}` with VAR missing.
    Required { variable: String, message: String },
    /// A `$` that starts no valid expression.
    Invalid { reason: String },
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}
fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Substitute the variables in `template`, looking them up with `lookup`.
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::with_capacity(template.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        // as compose v2: a `$` that starts neither `$$`, a name nor `${` is a literal `$`
        // (`$(date)`, `5$`, `$1`); only a malformed `${...` is an error
        let Some(&next) = chars.get(i + 1) else {
            out.push('$');
            i += 1;
            continue;
        };
        if next == '$' {
            out.push('$');
            i += 2;
        } else if is_name_start(next) {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && is_name_char(chars[j]) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            out.push_str(&lookup(&name).unwrap_or_default());
            i = j;
        } else if next == '{' {
            // find the matching brace, allowing nested ${...}
            let mut depth = 1;
            let mut j = i + 2;
            while j < chars.len() {
                if chars[j] == '$' && chars.get(j + 1) == Some(&'{') {
                    depth += 1;
                    j += 2;
                    continue;
                }
                if chars[j] == '}' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(TemplateError::Invalid {
                    reason: "missing closing }".into(),
                });
            }
            let inner: String = chars[i + 2..j].iter().collect();
            out.push_str(&braced(&inner, lookup)?);
            i = j + 1;
        } else {
            out.push('$');
            i += 1;
        }
    }
    Ok(out)
}

fn braced(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let name_end = inner
        .char_indices()
        .find(|(_, c)| !is_name_char(*c))
        .map(|(i, _)| i)
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(TemplateError::Invalid {
            reason: format!("${{{inner}}} does not start with a variable name"),
        });
    }
    let rest = &inner[name_end..];
    let value = lookup(name);
    if rest.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    let (op, arg) = [":-", ":?", ":+", "-", "?", "+"]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|a| (*op, a)))
        .ok_or_else(|| TemplateError::Invalid {
            reason: format!("unknown operator in ${{{inner}}}: expected one of :- - :? ? :+ +"),
        })?;
    let set = value.is_some();
    let nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    match op {
        ":-" if !nonempty => substitute(arg, lookup),
        "-" if !set => substitute(arg, lookup),
        ":-" | "-" => Ok(value.unwrap_or_default()),
        ":?" | "?" => {
            if (op == ":?" && !nonempty) || (op == "?" && !set) {
                Err(TemplateError::Required {
                    variable: name.to_string(),
                    message: substitute(arg, lookup)?,
                })
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        ":+" if nonempty => substitute(arg, lookup),
        "+" if set => substitute(arg, lookup),
        _ => Ok(String::new()),
    }
}

/// Interpolate every string value of a tree (keys are left alone). A variable used without
/// a default (`$TAG`, `${TAG}`) that is not set gets one warning, at its first use.
pub fn interpolate_node(
    node: &mut Node,
    path: &KeyPath,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut unset = indexmap::IndexMap::new();
    interpolate_in(node, path, lookup, &mut unset)?;
    for (name, at) in unset {
        warnings.push(format!(
            "{at}: the {name:?} variable is not set. Defaulting to a blank string."
        ));
    }
    Ok(())
}

fn interpolate_in(
    node: &mut Node,
    path: &KeyPath,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut indexmap::IndexMap<String, String>,
) -> Result<()> {
    match &mut node.v {
        V::Str(s) if s.contains('$') => {
            for name in plain_references(s) {
                if lookup(&name).is_none() && !unset.contains_key(&name) {
                    let at = crate::compose::error::Location::from(node.pos.clone());
                    unset.insert(name, format!("{at}: {path}"));
                }
            }
            match substitute(s, lookup) {
                Ok(v) => *s = v,
                Err(e) => return Err(template_error(e, node.pos.clone(), path, s)),
            }
        }
        V::Seq(items) => {
            for (i, it) in items.iter_mut().enumerate() {
                interpolate_in(it, &path.index(i), lookup, unset)?;
            }
        }
        V::Map(m) => {
            for (k, v) in m.iter_mut() {
                interpolate_in(v, &path.key(k), lookup, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The variables a template uses without a default: `$NAME` and `${NAME}` (not `$$NAME`,
/// not `${NAME:-x}` and the other operators).
fn plain_references(template: &str) -> Vec<String> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        let braced = chars.get(i + 1) == Some(&'{');
        match chars.get(i + 1) {
            Some('$') => i += 2,
            Some(&c) if is_name_start(c) || braced => {
                let start = i + if braced { 2 } else { 1 };
                let mut j = start;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                if j > start && (!braced || chars.get(j) == Some(&'}')) {
                    out.push(chars[start..j].iter().collect());
                }
                i = j.max(i + 1);
            }
            _ => i += 1,
        }
    }
    out
}

pub(crate) fn template_error(
    e: TemplateError,
    pos: Option<crate::compose::value::Pos>,
    path: &KeyPath,
    template: &str,
) -> ComposeError {
    match e {
        TemplateError::Required { variable, message } => ComposeError::RequiredVariable {
            at: pos.into(),
            key: path.clone(),
            variable,
            message,
        },
        TemplateError::Invalid { reason } => ComposeError::InvalidTemplate {
            at: pos.into(),
            key: path.clone(),
            template: template.to_string(),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("inner".into()),
            _ => None,
        }
    }
    fn s(t: &str) -> String {
        substitute(t, &env).unwrap()
    }
    fn e(t: &str) -> TemplateError {
        substitute(t, &env).unwrap_err()
    }

    #[test]
    fn plain_forms() {
        assert_eq!(s("a $SET b"), "a value b");
        assert_eq!(s("${SET}x"), "valuex");
        assert_eq!(s("$SETx"), "");
        assert_eq!(s("${UNSET}"), "");
        assert_eq!(s("$$SET"), "$SET");
        assert_eq!(s("$${SET}"), "${SET}");
        assert_eq!(s("cost: 5$$"), "cost: 5$");
    }

    #[test]
    fn defaults() {
        assert_eq!(s("${UNSET:-d}"), "d");
        assert_eq!(s("${EMPTY:-d}"), "d");
        assert_eq!(s("${EMPTY-d}"), "");
        assert_eq!(s("${UNSET-d}"), "d");
        assert_eq!(s("${SET:-d}"), "value");
        assert_eq!(s("${UNSET:-}"), "");
        assert_eq!(s("${UNSET:-a:b-c}"), "a:b-c");
        assert_eq!(s("${UNSET:-${NESTED}}"), "inner");
        assert_eq!(s("${UNSET:-${ALSO:-deep ${SET}}}"), "deep value");
        assert_eq!(s("${UNSET:-$$}"), "$");
    }

    #[test]
    fn alternatives() {
        assert_eq!(s("${SET:+r}"), "r");
        assert_eq!(s("${EMPTY:+r}"), "");
        assert_eq!(s("${EMPTY+r}"), "r");
        assert_eq!(s("${UNSET+r}"), "");
        assert_eq!(s("${SET+${NESTED}}"), "inner");
    }

    #[test]
    fn required() {
        assert_eq!(s("${SET:?boom}"), "value");
        assert_eq!(s("${EMPTY?boom}"), "");
        assert_eq!(
            e("${EMPTY:?must be set}"),
            TemplateError::Required {
                variable: "EMPTY".into(),
                message: "must be set".into()
            }
        );
        assert_eq!(
            e("${UNSET?}"),
            TemplateError::Required {
                variable: "UNSET".into(),
                message: String::new()
            }
        );
        // the default of a required variable is not evaluated when not needed
        assert_eq!(s("${SET:-${X:?no}}"), "value");
    }

    #[test]
    fn invalid() {
        for t in ["${}", "${1A}", "${SET", "${SET:x}", "${SET!}", "a ${ b"] {
            assert!(matches!(e(t), TemplateError::Invalid { .. }), "{t}");
        }
    }

    #[test]
    fn unset_variables_without_default_are_found() {
        let refs = plain_references("$A ${B} $$C ${D:-x} ${E-x} $ ${F}x $(G) ${H:+$I}");
        assert_eq!(refs, ["A", "B", "F", "I"]);
    }

    #[test]
    fn a_dollar_that_starts_no_variable_is_literal() {
        for t in ["$", "a $ b", "$1", "$-", "$(date)", "5$", "$.x"] {
            assert_eq!(s(t), t);
        }
        assert_eq!(s("$(echo $SET)"), "$(echo value)");
    }

    #[test]
    fn node_errors_name_variable_and_key() {
        let mut n = crate::compose::load::yaml::parse_file(
            "services:\n  web:\n    image: ${TAG:?set TAG}\n",
            "c.yaml",
        )
        .unwrap();
        let err = interpolate_node(&mut n, &KeyPath::root(), &env, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "c.yaml:3:12: services.web.image: required variable TAG is missing a value: set TAG"
        );
        let mut n =
            crate::compose::load::yaml::parse_file("x:\n  - \"a${ b\"\n", "c.yaml").unwrap();
        let err = interpolate_node(&mut n, &KeyPath::root(), &env, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("x[0]") && err.contains("use $$"), "{err}");
    }
}
