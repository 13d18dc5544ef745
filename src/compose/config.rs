//! `wharf config`: the normalised project rendered as YAML or JSON, and the `--services`,
//! `--volumes`, `--hash` helpers.

use serde_json::Value as J;

use crate::compose::error::Result;
use crate::compose::model::Project;

/// Output format of `wharf config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConfigFormat {
    #[default]
    Yaml,
    Json,
}

/// Render the normalised project (keys sorted, stable).
pub fn render_config(project: &Project, format: ConfigFormat) -> String {
    let mut v = serde_json::to_value(project).expect("project serialises");
    // a literal `$` reloads as itself only when written `$$`
    escape_dollars(&mut v);
    render_value(&v, format)
}

/// For `--no-interpolate`: strings as loaded (their `$` still start references).
pub fn render_config_uninterpolated(project: &Project, format: ConfigFormat) -> String {
    render_value(
        &serde_json::to_value(project).expect("project serialises"),
        format,
    )
}

fn escape_dollars(v: &mut J) {
    match v {
        J::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        J::Array(a) => a.iter_mut().for_each(escape_dollars),
        J::Object(m) => m.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

fn render_value(v: &J, format: ConfigFormat) -> String {
    match format {
        ConfigFormat::Json => {
            let mut s = serde_json::to_string_pretty(v).expect("json");
            s.push('\n');
            s
        }
        ConfigFormat::Yaml => to_yaml(v),
    }
}

/// `--services`: the enabled services in start order (dependencies first, ties by name).
pub fn service_names(project: &Project) -> Vec<String> {
    match crate::compose::graph::ServiceGraph::build(project) {
        Ok(g) => g.start_order(),
        Err(_) => project.services.keys().cloned().collect(),
    }
}

/// `--volumes`: the top-level volume keys.
pub fn volume_names(project: &Project) -> Vec<String> {
    project.volumes.keys().cloned().collect()
}

/// `--hash SERVICE,...` (or `*`): `service hash` lines.
/// Every profile a service names, enabled or not (`config --profiles`).
pub fn profile_names(project: &Project) -> Vec<String> {
    let all = project
        .services
        .values()
        .chain(project.disabled_services.values());
    let set: std::collections::BTreeSet<String> =
        all.flat_map(|s| s.profiles.iter().cloned()).collect();
    set.into_iter().collect()
}

/// The image of each service (`config --images`).
pub fn image_names(project: &Project) -> Vec<String> {
    project
        .services
        .iter()
        .map(|(n, s)| crate::compose::plan::service_image(project, n, s))
        .collect()
}

pub fn render_hashes(project: &Project, services: &[String]) -> Result<String> {
    let mut out = String::new();
    let all = services.is_empty() || services.iter().any(|s| s == "*");
    for name in project.services.keys() {
        if all || services.contains(name) {
            let h = crate::compose::plan::hash::service_hash(project, name)?;
            out.push_str(&format!("{name} {h}\n"));
        }
    }
    Ok(out)
}

/// Render a JSON value as block-style YAML.
pub fn to_yaml(v: &J) -> String {
    let mut out = String::new();
    match v {
        J::Object(m) if m.is_empty() => out.push_str("{}\n"),
        J::Array(a) if a.is_empty() => out.push_str("[]\n"),
        J::Object(_) | J::Array(_) => emit(v, 0, &mut out),
        _ => {
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
    out
}

fn emit(v: &J, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        J::Object(m) => {
            for (k, val) in m {
                out.push_str(&pad);
                out.push_str(&quote_str(k));
                out.push(':');
                inline_or_block(val, indent, out);
            }
        }
        J::Array(a) => {
            for item in a {
                out.push_str(&pad);
                out.push('-');
                match item {
                    J::Object(m) if !m.is_empty() => {
                        // first key on the dash line
                        let mut first = true;
                        for (k, val) in m {
                            if first {
                                out.push(' ');
                                first = false;
                            } else {
                                out.push_str(&" ".repeat(indent + 2));
                            }
                            out.push_str(&quote_str(k));
                            out.push(':');
                            inline_or_block(val, indent + 2, out);
                        }
                    }
                    J::Array(inner) if !inner.is_empty() => {
                        out.push('\n');
                        emit(item, indent + 2, out);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {}
    }
}

fn inline_or_block(val: &J, indent: usize, out: &mut String) {
    match val {
        J::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit(val, indent + 2, out);
        }
        J::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit(val, indent + 2, out);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar(val));
            out.push('\n');
        }
    }
}

fn scalar(v: &J) -> String {
    match v {
        J::Null => "null".into(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => quote_str(s),
        J::Object(_) => "{}".into(),
        J::Array(_) => "[]".into(),
    }
}

/// Quote a string when a YAML reader (1.1 or 1.2) could read it as something else.
fn quote_str(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let ambiguous_word = matches!(
        lower.as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    let numberish = s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with('.')
        || (s.contains(':')
            && s.chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '.'));
    let special_start = s.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`', ' ',
    ]);
    let special_inner = s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.ends_with(' ')
        || s.chars().any(|c| c.is_control());
    if ambiguous_word || numberish || special_start || special_inner {
        serde_json::to_string(s).expect("string")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_rendering() {
        let v = serde_json::json!({
            "a": {"b": [1, "x", {"k": "v", "l": ["p"]}], "e": {}, "f": []},
            "s": ["yes", "8080", "a: b", "", "-x", "ok", "1:2"],
        });
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "a:\n  b:\n    - 1\n    - x\n    - k: v\n      l:\n        - p\n  e: {}\n  f: []\ns:\n  - \"yes\"\n  - \"8080\"\n  - \"a: b\"\n  - \"\"\n  - \"-x\"\n  - ok\n  - \"1:2\"\n"
        );
        // it reads back as the same value
        let back = crate::compose::load::yaml::parse_file(&y, "t")
            .unwrap()
            .to_json();
        assert_eq!(back, v);
    }
}
