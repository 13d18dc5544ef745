//! Go-style durations (`1m30s`) and Docker byte sizes (`512m`), as compose writes them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A duration, printed like Go (`1m30s`, `500ms`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// Parse `1h2m3s`, `1.5s`, `250ms`, `10us`, `5ns`; a bare number is seconds.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let t = s.trim();
        let err =
            || format!("invalid duration {s:?}: expected a duration such as 10s, 1m30s or 500ms");
        if t.is_empty() {
            return Err(err());
        }
        if let Ok(secs) = t.parse::<f64>() {
            return if secs >= 0.0 {
                Ok(Duration(std::time::Duration::from_secs_f64(secs)))
            } else {
                Err(err())
            };
        }
        let mut total: f64 = 0.0;
        let mut rest = t;
        while !rest.is_empty() {
            let n_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(err)?;
            if n_end == 0 {
                return Err(err());
            }
            let n: f64 = rest[..n_end].parse().map_err(|_| err())?;
            rest = &rest[n_end..];
            let u_end = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..u_end];
            rest = &rest[u_end..];
            let mult = match unit {
                "h" => 3600e9,
                "m" => 60e9,
                "s" => 1e9,
                "ms" => 1e6,
                "us" | "µs" => 1e3,
                "ns" => 1.0,
                _ => return Err(err()),
            };
            total += n * mult;
        }
        Ok(Duration(std::time::Duration::from_nanos(
            total.round() as u64
        )))
    }
}

impl TryFrom<String> for Duration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Duration::parse(&s)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        if ns == 0 {
            return f.write_str("0s");
        }
        if ns < 1_000 {
            return write!(f, "{ns}ns");
        }
        if ns < 1_000_000 {
            return write!(f, "{}us", trim_frac(ns as f64 / 1e3));
        }
        if ns < 1_000_000_000 {
            return write!(f, "{}ms", trim_frac(ns as f64 / 1e6));
        }
        let h = ns / 3_600_000_000_000;
        let m = (ns / 60_000_000_000) % 60;
        let s_ns = ns % 60_000_000_000;
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{}s", trim_frac(s_ns as f64 / 1e9)));
        f.write_str(&out)
    }
}

fn trim_frac(x: f64) -> String {
    let s = format!("{x:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl From<Duration> for String {
    fn from(d: Duration) -> String {
        d.to_string()
    }
}

/// A size in bytes; parsed from `512m`, `1.5g`, `100k`, `2gb`, `1024` (bytes).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Docker's grammar ([`crate::util::bytesize::parse_bytes`]): binary units, and a size
    /// past what the kernel can hold refused rather than capped.
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        match crate::util::bytesize::parse_bytes(s) {
            Ok(n) if n >= 0 => Ok(ByteSize(n as u64)),
            _ => Err(format!(
                "invalid size {s:?}: expected a byte size such as 512m, 1g or 1024"
            )),
        }
    }
}
