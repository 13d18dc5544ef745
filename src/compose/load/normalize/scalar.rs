//! Scalar casts with compose's leniency (`"yes"` is a boolean, `"8"` an integer), and the
//! list and mapping shapes (`list_or_dict`) that many keys share. Each error names the key
//! path and what was expected.

use crate::compose::error::{ComposeError, Result};
use crate::compose::model::{ByteSize, Duration};
use crate::compose::value::{fmt_float, KeyPath, Node, V};

use super::Map;

pub(crate) fn to_bool(n: &Node, p: &KeyPath) -> Result<bool> {
    match &n.v {
        V::Bool(b) => Ok(*b),
        V::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(true),
            "false" | "no" | "n" | "off" | "0" | "" => Ok(false),
            _ => Err(ComposeError::value(
                n.pos.clone(),
                p,
                s.clone(),
                "a boolean (true or false)",
            )),
        },
        _ => Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.scalar_string().unwrap_or_else(|| n.kind().into()),
            "a boolean (true or false)",
        )),
    }
}

pub(super) fn to_int(n: &Node, p: &KeyPath) -> Result<i64> {
    match &n.v {
        V::Int(i) => Ok(*i),
        V::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        V::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| ComposeError::value(n.pos.clone(), p, s.clone(), "an integer")),
        _ => Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.scalar_string().unwrap_or_else(|| n.kind().into()),
            "an integer",
        )),
    }
}

pub(super) fn to_uint(n: &Node, p: &KeyPath) -> Result<i64> {
    let i = to_int(n, p)?;
    if i < 0 {
        return Err(ComposeError::value(
            n.pos.clone(),
            p,
            i.to_string(),
            "a non-negative integer",
        ));
    }
    Ok(i)
}

pub(super) fn to_float(n: &Node, p: &KeyPath) -> Result<f64> {
    match &n.v {
        V::Int(i) => Ok(*i as f64),
        V::Float(f) => Ok(*f),
        V::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| ComposeError::value(n.pos.clone(), p, s.clone(), "a number")),
        _ => Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a number")),
    }
}

pub(crate) fn to_string(n: &Node, p: &KeyPath) -> Result<String> {
    match &n.v {
        V::Str(s) => Ok(s.clone()),
        V::Int(_) | V::Float(_) | V::Bool(_) => Ok(n.scalar_string().unwrap()),
        _ => Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a string")),
    }
}

pub(super) fn duration(n: &Node, p: &KeyPath) -> Result<Node> {
    let s = to_string(n, p)?;
    let d = Duration::parse(&s).map_err(|_| {
        ComposeError::value(
            n.pos.clone(),
            p,
            s,
            "a duration such as 10s, 1m30s or 500ms",
        )
    })?;
    Ok(n.derive(V::Str(d.to_string())))
}

pub(super) fn bytes(n: &Node, p: &KeyPath) -> Result<Node> {
    let b = match &n.v {
        V::Int(i) if *i >= 0 => *i as u64,
        _ => {
            let s = to_string(n, p)?;
            ByteSize::parse(&s)
                .map_err(|_| {
                    ComposeError::value(n.pos.clone(), p, s, "a byte size such as 512m, 1g or 1024")
                })?
                .0
        }
    };
    Ok(n.derive(V::Int(b as i64)))
}

pub(super) fn octal(n: &Node, p: &KeyPath) -> Result<i64> {
    match &n.v {
        V::Int(i) => Ok(*i),
        V::Str(s) => i64::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| {
            ComposeError::value(n.pos.clone(), p, s.clone(), "a file mode such as 0440")
        }),
        _ => Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.kind(),
            "a file mode such as 0440",
        )),
    }
}

/// The items of a list-valued key, or an error saying what was expected.
pub(super) fn seq<'a>(n: &'a Node, p: &KeyPath, expected: &str) -> Result<&'a Vec<Node>> {
    n.as_seq()
        .ok_or_else(|| ComposeError::value(n.pos.clone(), p, n.kind(), expected))
}

pub(crate) fn string_list(n: &Node, p: &KeyPath) -> Result<Node> {
    let items = match &n.v {
        V::Seq(s) => s.clone(),
        V::Null => vec![],
        _ => vec![n.clone()],
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        out.push(it.derive(V::Str(to_string(it, &p.index(i))?)));
    }
    Ok(n.derive(V::Seq(out)))
}

/// `list_or_dict` → mapping of strings (`KEY=VAL` items; a null value becomes "").
pub(super) fn string_map(n: &Node, p: &KeyPath) -> Result<Node> {
    let mut out = Map::new();
    match &n.v {
        V::Map(m) => {
            for (k, v) in m {
                let s = if v.is_null() {
                    String::new()
                } else {
                    to_string(v, &p.key(k))?
                };
                let mut nn = v.derive(V::Str(s));
                nn.key_pos = v.key_pos.clone();
                out.insert(k.clone(), nn);
            }
        }
        V::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let s = to_string(it, &p.index(i))?;
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                out.insert(k.trim().to_string(), it.derive(V::Str(v.to_string())));
            }
        }
        V::Null => {}
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a list of KEY=VALUE or a mapping",
            ))
        }
    }
    Ok(n.derive(V::Map(out)))
}

/// Render a float the way the model prints it.
pub fn float_string(f: f64) -> String {
    fmt_float(f)
}
