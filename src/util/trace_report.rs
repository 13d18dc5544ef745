//! `wharf __trace FILE...`: the phase trace ([`super::trace`]) as a table. Each file is one
//! run; a phase is the n-th span of that name in that process, so the same phase lines up
//! across runs, and the table gives the median of its start (from the run's first line) and of
//! its length. Phases are listed by median start, nested by depth.

use std::collections::HashMap;

/// One line of a trace file.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub process: String,
    pub name: String,
    pub start: u64,
    pub end: u64,
    pub depth: usize,
    pub detail: String,
}

/// The lines of one trace file; malformed lines are an error naming the line.
pub fn parse(text: &str) -> Result<Vec<Span>, String> {
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let f: Vec<&str> = line.splitn(7, '\t').collect();
        let bad = || {
            format!(
                "line {}: expected `process pid name start_ns end_ns depth detail`, found {line:?}",
                n + 1
            )
        };
        if f.len() < 6 {
            return Err(bad());
        }
        let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
        out.push(Span {
            process: f[0].to_string(),
            name: f[2].to_string(),
            start: num(f[3])?,
            end: num(f[4])?,
            depth: num(f[5])? as usize,
            detail: f.get(6).unwrap_or(&"").to_string(),
        });
    }
    Ok(out)
}

/// A phase across runs.
#[derive(Debug, Clone)]
pub struct Phase {
    pub process: String,
    pub name: String,
    pub depth: usize,
    pub detail: String,
    /// Median start, ms from the first line of its run.
    pub start_ms: f64,
    /// Median length, ms.
    pub dur_ms: f64,
    /// In how many runs it appears.
    pub runs: usize,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The phases of `runs` (one span list per run), ordered by median start.
pub fn phases(runs: &[Vec<Span>]) -> Vec<Phase> {
    type Key = (String, String, usize);
    let mut seen: HashMap<Key, (Phase, Vec<f64>, Vec<f64>)> = HashMap::new();
    for run in runs {
        let Some(t0) = run.iter().map(|s| s.start).min() else {
            continue;
        };
        let mut spans: Vec<&Span> = run.iter().collect();
        spans.sort_by_key(|s| (s.start, s.depth));
        let mut count: HashMap<(String, String), usize> = HashMap::new();
        for s in spans {
            let n = count
                .entry((s.process.clone(), s.name.clone()))
                .or_default();
            let key = (s.process.clone(), s.name.clone(), *n);
            *n += 1;
            let entry = seen.entry(key).or_insert_with(|| {
                (
                    Phase {
                        process: s.process.clone(),
                        name: s.name.clone(),
                        depth: s.depth,
                        detail: s.detail.clone(),
                        start_ms: 0.0,
                        dur_ms: 0.0,
                        runs: 0,
                    },
                    Vec::new(),
                    Vec::new(),
                )
            });
            entry.0.runs += 1;
            entry.1.push((s.start - t0) as f64 / 1e6);
            entry.2.push(s.end.saturating_sub(s.start) as f64 / 1e6);
        }
    }
    let mut out: Vec<Phase> = seen
        .into_values()
        .map(|(mut p, mut starts, mut durs)| {
            p.start_ms = median(&mut starts);
            p.dur_ms = median(&mut durs);
            p
        })
        .collect();
    out.sort_by(|a, b| {
        a.start_ms
            .total_cmp(&b.start_ms)
            .then(a.depth.cmp(&b.depth))
    });
    out
}

/// The table as printed.
pub fn render(phases: &[Phase], runs: usize) -> String {
    let mut out = format!(
        "{:>9} {:>9}  {:<10} phase (median of {runs} run{})\n",
        "start ms",
        "ms",
        "process",
        if runs == 1 { "" } else { "s" }
    );
    for p in phases {
        let mut name = format!("{}{}", "  ".repeat(p.depth), p.name);
        if !p.detail.is_empty() {
            name.push_str("  ");
            name.push_str(&p.detail);
        }
        out.push_str(&format!(
            "{:>9.3} {:>9.3}  {:<10} {name}\n",
            p.start_ms, p.dur_ms, p.process
        ));
    }
    out
}

/// Entry point: the exit code.
pub fn main(files: &[std::ffi::OsString]) -> i32 {
    if files.is_empty() {
        eprintln!("usage: wharf __trace FILE... (trace files written with WHARF_TRACE=FILE)");
        return 2;
    }
    let mut runs = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| parse(&t));
        match parsed {
            Ok(spans) => runs.push(spans),
            Err(e) => {
                eprintln!("wharf: {}: {e}", f.to_string_lossy());
                return 1;
            }
        }
    }
    print!("{}", render(&phases(&runs), runs.len()));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_line_up_across_runs_by_name_and_occurrence() {
        let a = parse("cli\t1\tcli\t100\t900\t0\t\ncli\t1\trequest\t200\t300\t1\tGET /a\ncli\t1\trequest\t400\t700\t1\tPOST /b\n").unwrap();
        let b = parse("cli\t2\tcli\t1000\t1800\t0\t\ncli\t2\trequest\t1100\t1300\t1\tGET /a\ncli\t2\trequest\t1300\t1400\t1\tPOST /b\n").unwrap();
        let p = phases(&[a, b]);
        let names: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.detail.as_str()))
            .collect();
        assert_eq!(
            names,
            [("cli", ""), ("request", "GET /a"), ("request", "POST /b")]
        );
        // second request: 300 and 100 ns long, starting 300 ns after each run's first line
        assert_eq!(p[2].runs, 2);
        assert!((p[2].dur_ms - 0.0002).abs() < 1e-9);
        assert!((p[2].start_ms - 0.0003).abs() < 1e-9);
    }

    #[test]
    fn a_malformed_line_is_named() {
        let e = parse("cli\t1\tcli\tsoon\t2\t0\t\n").unwrap_err();
        assert!(e.starts_with("line 1: expected"), "{e}");
    }
}
