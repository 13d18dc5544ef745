//! Load: 100 parallel `run -d` on one bridge, then 100 parallel `exec`s and 100 parallel
//! `rm -f`: every command succeeds and the leak audit finds nothing afterwards.

mod common;
#[path = "common/leaks.rs"]
mod leaks;

use common::Wharf;
use leaks::{all_ids, assert_clean};

/// Run `wharf ARGS(i)` for i in 0..n at once; returns each one's stdout, failing on any error.
fn all_at_once(w: &Wharf, n: usize, args: impl Fn(usize) -> Vec<String>) -> Vec<String> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            w.command()
                .args(args(i))
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "command {i} {:?}: {}",
                args(i),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect()
}

#[test]
fn a_hundred_parallel_runs_execs_and_removals_leave_nothing() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["network", "create", "par"]);
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let ids = all_at_once(&w, 100, |i| {
        strs(&[
            "run",
            "-d",
            "--network",
            "par",
            "--name",
            &format!("p{i}"),
            "box",
            "sleep",
            "600",
        ])
    });
    assert_eq!(all_ids(&w).len(), 100);
    let said = all_at_once(&w, 100, |i| strs(&["exec", &format!("p{i}"), "hostname"]));
    for (i, h) in said.iter().enumerate() {
        assert_eq!(h, &ids[i][..12], "exec {i} ran elsewhere");
    }
    all_at_once(&w, 100, |i| strs(&["rm", "-f", &format!("p{i}")]));
    assert!(all_ids(&w).is_empty());
    w.ok(&["network", "rm", "par"]);
    assert_clean(&w, &ids);
}
