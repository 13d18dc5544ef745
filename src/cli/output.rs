//! Terminal output: Docker-shaped tables (columns padded like Go's tabwriter), `--format json`
//! and Go-template-like formats (`{{.Names}}`, `table {{.ID}}\t{{.Status}}`, `{{json .}}`).

use std::collections::BTreeMap;
use std::io::Write;

/// One row: field name (as in Docker templates) → rendered value.
pub type Row = BTreeMap<String, String>;

/// A table: the columns shown by default (header, field) and the rows.
pub struct Table<'a> {
    pub columns: &'a [(&'a str, &'a str)],
    pub rows: Vec<Row>,
}

/// Print like Docker's tabwriter (`minwidth 10, padding 3`): each column is as wide as its
/// widest cell plus 3, and at least 10.
pub fn print_columns(
    out: &mut impl Write,
    header: &[String],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                let width = (widths[i] + 3).max(10);
                s.push_str(&" ".repeat(width - c.chars().count()));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header))?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

/// Render a Go-like template against a row.
pub fn render_template(template: &str, row: &Row) -> String {
    let template = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = rest[start + 2..start + end].trim();
        out.push_str(&eval(expr, row));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn eval(expr: &str, row: &Row) -> String {
    let words: Vec<&str> = expr.split_whitespace().collect();
    match words.as_slice() {
        ["json", "."] => serde_json::to_string(row).unwrap_or_default(),
        ["json", field] => serde_json::to_string(
            row.get(field.trim_start_matches('.'))
                .unwrap_or(&String::new()),
        )
        .unwrap_or_default(),
        [".Label", key] | ["index", ".Labels", key] => {
            let key = key.trim_matches('"');
            row.get("Labels")
                .and_then(|ls| {
                    ls.split(',')
                        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                        .map(String::from)
                })
                .unwrap_or_default()
        }
        [field] => {
            let field = field.trim_start_matches('.');
            row.get(field).cloned().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// Print rows as Docker would for `--format` (or the default table when None).
pub fn print_table(table: &Table, format: Option<&str>) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        None | Some("table") => {
            let header: Vec<String> = table.columns.iter().map(|(h, _)| h.to_string()).collect();
            let rows: Vec<Vec<String>> = table
                .rows
                .iter()
                .map(|r| {
                    table
                        .columns
                        .iter()
                        .map(|(_, f)| r.get(*f).cloned().unwrap_or_default())
                        .collect()
                })
                .collect();
            print_columns(&mut out, &header, &rows)
        }
        Some("json") => {
            for r in &table.rows {
                writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())?;
            }
            Ok(())
        }
        Some(f) if f.starts_with("table ") => {
            let tpl = &f[6..];
            let cells: Vec<&str> = tpl.split("\\t").flat_map(|s| s.split('\t')).collect();
            let header: Vec<String> = cells
                .iter()
                .map(|c| {
                    let field = c
                        .trim()
                        .trim_start_matches("{{")
                        .trim_end_matches("}}")
                        .trim()
                        .trim_start_matches('.');
                    table
                        .columns
                        .iter()
                        .find(|(_, f)| *f == field)
                        .map(|(h, _)| h.to_string())
                        .unwrap_or_else(|| field.to_ascii_uppercase())
                })
                .collect();
            let rows: Vec<Vec<String>> = table
                .rows
                .iter()
                .map(|r| cells.iter().map(|c| render_template(c, r)).collect())
                .collect();
            print_columns(&mut out, &header, &rows)
        }
        Some(f) => {
            for r in &table.rows {
                writeln!(out, "{}", render_template(f, r))?;
            }
            Ok(())
        }
    }
}

/// Render a JSON document with a template (for `inspect -f`): `{{.State.Status}}`, `{{json .Config}}`.
pub fn render_json_template(template: &str, doc: &serde_json::Value) -> String {
    let template = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = rest[start + 2..start + end].trim();
        let (as_json, path) = match expr.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let value = lookup(doc, path);
        out.push_str(&match (as_json, value) {
            (true, v) => serde_json::to_string(&v).unwrap_or_default(),
            (false, serde_json::Value::String(s)) => s,
            (false, serde_json::Value::Null) => "<no value>".into(),
            (false, serde_json::Value::Array(a)) => {
                format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" "))
            }
            (false, serde_json::Value::Object(m)) => {
                format!(
                    "map[{}]",
                    m.iter()
                        .map(|(k, v)| format!("{k}:{}", plain(v)))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
            (false, v) => v.to_string(),
        });
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lookup(doc: &serde_json::Value, path: &str) -> serde_json::Value {
    if path == "." {
        return doc.clone();
    }
    let mut cur = doc;
    for part in path.trim_start_matches('.').split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return serde_json::Value::Null,
        }
    }
    cur.clone()
}

/// "5 seconds ago" from a unix timestamp.
pub fn ago(unix: i64) -> String {
    let secs = chrono::Utc::now().timestamp() - unix;
    format!(
        "{} ago",
        crate::engine::container::view::human_duration(secs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let mut row = Row::new();
        row.insert("Names".into(), "web".into());
        row.insert("Status".into(), "Up 1 second".into());
        row.insert("Labels".into(), "a=1,b=2".into());
        assert_eq!(
            render_template("{{.Names}}: {{.Status}}", &row),
            "web: Up 1 second"
        );
        assert_eq!(render_template("{{.Label \"b\"}}", &row), "2");
        assert!(render_template("{{json .}}", &row).contains("\"Names\":\"web\""));
        let doc =
            serde_json::json!({"State": {"Status": "running", "ExitCode": 0}, "Args": ["a", "b"]});
        assert_eq!(
            render_json_template("{{.State.Status}} {{.State.ExitCode}}", &doc),
            "running 0"
        );
        assert_eq!(
            render_json_template("{{json .State}}", &doc),
            r#"{"ExitCode":0,"Status":"running"}"#
        );
        assert_eq!(render_json_template("{{.Args}}", &doc), "[a b]");
    }

    #[test]
    fn columns_are_padded_like_docker() {
        let mut out = Vec::new();
        print_columns(
            &mut out,
            &["A".into(), "BB".into()],
            &[vec!["xxxx".into(), "y".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A         BB\nxxxx      y\n"
        );
        let mut out = Vec::new();
        print_columns(
            &mut out,
            &["CONTAINER ID".into(), "X".into()],
            &[vec!["0123456789ab".into(), "y".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CONTAINER ID   X\n0123456789ab   y\n"
        );
    }
}
