//! What the performance work changed, as behaviour: the phase trace of a `run --rm` (every
//! phase present, in order), the spare supervisor (waiting, and gone with its daemon), the
//! CLI's parallel `rm -f` (names printed in the order given, errors named), and containers
//! running at the daemon's starting priority while the engine runs above it. The figures are
//! in bench/ (trace.sh, scale.sh, teardown.sh), never here.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Wharf;

/// `wharf ARGS` with the phase trace written to `trace` (the daemon it starts traces too).
fn traced(w: &Wharf, trace: &Path, args: &[&str]) -> String {
    let out = w
        .command()
        .env("WHARF_TRACE", trace)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wharf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `wharf __trace ARGS` (a helper of the binary's, without the global options).
fn trace_report(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("__trace")
        .args(args)
        .output()
        .unwrap()
}

/// Field `n` (0-based, counted after the command name) of /proc/PID/stat.
fn stat_field(pid: i32, n: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(") ").unwrap();
    rest.split(' ').nth(n).unwrap().to_string()
}

const NICE: usize = 16;
const PPID: usize = 1;

fn own_nice() -> i32 {
    stat_field(std::process::id() as i32, NICE).parse().unwrap()
}

#[test]
fn the_trace_of_run_rm_has_every_phase_in_order() {
    let w = Wharf::new();
    let trace = w.dir.path().join("trace");
    let tar = w.dir.path().join("rootfs.tar");
    common::busybox_rootfs_tar(&tar, &[]);
    traced(&w, &trace, &["import", tar.to_str().unwrap(), "box"]);
    std::fs::write(&trace, "").unwrap();
    traced(
        &w,
        &trace,
        &["run", "--rm", "--network", "none", "box", "true"],
    );
    // The daemon's last lines (the removal's end) may follow the CLI's exit.
    let start = Instant::now();
    while !std::fs::read_to_string(&trace)
        .unwrap()
        .contains("\tremove\t")
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = trace_report(&[trace.to_str().unwrap()]);
    assert!(report.status.success(), "{report:?}");
    let out = String::from_utf8_lossy(&report.stdout).to_string();
    let rows: Vec<(String, String)> = out
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[2].to_string(), f[3].to_string())
        })
        .collect();
    let at = |process: &str, phase: &str| {
        rows.iter()
            .position(|(p, n)| p == process && n == phase)
            .unwrap_or_else(|| panic!("no {process} {phase} phase in:\n{out}"))
    };
    // One container's life, across the four processes, in the order it happens.
    let order = [
        ("cli", "parse"),
        ("daemon", "create"),
        ("daemon", "db"),
        ("daemon", "start"),
        ("daemon", "supervisor"),
        ("supervisor", "cgroup"),
        ("supervisor", "clone"),
        ("init", "released"),
        ("init", "namespaces"),
        ("init", "rootfs"),
        ("init", "process"),
        ("init", "seccomp"),
        ("init", "execve"),
        ("supervisor", "exited"),
        ("supervisor", "record"),
        ("daemon", "exit"),
        ("daemon", "remove"),
    ];
    let positions: Vec<usize> = order.iter().map(|(p, n)| at(p, n)).collect();
    for (i, pair) in positions.windows(2).enumerate() {
        assert!(
            pair[0] < pair[1],
            "{:?} should come before {:?}:\n{out}",
            order[i],
            order[i + 1]
        );
    }
    // Each API request is a phase on both sides.
    assert!(out.contains("method=POST path=/containers/create"), "{out}");
    assert!(out.contains("method=POST path=/v1."), "{out}");
    // A CLI that is not traced writes nothing (its daemon, started traced, still does).
    let cli_lines = || {
        std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("cli\t"))
            .count()
    };
    let before = cli_lines();
    w.ok(&["ps", "-a"]);
    assert_eq!(cli_lines(), before);
}

#[test]
fn a_trace_report_names_what_it_cannot_read() {
    let w = Wharf::new();
    let bad = w.dir.path().join("bad");
    std::fs::write(&bad, "cli\t1\tparse\tsoon\t2\t0\t\n").unwrap();
    let out = trace_report(&[bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1: expected `process pid name start_ns end_ns depth detail`"),
        "{err}"
    );
    let out = trace_report(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: wharf __trace FILE"));
}

/// The spare supervisors waiting for `daemon`: its children running `__supervise -`.
fn spares(daemon: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| Some(s.rsplit_once(") ")?.1.split(' ').nth(PPID)?.to_string()));
            cmdline.ends_with(b"__supervise\0-\0") && ppid == Some(daemon.to_string())
        })
        .collect()
}

#[test]
fn a_spare_supervisor_waits_and_goes_with_its_daemon() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // Each start takes the spare and another one is started behind it.
    for _ in 0..3 {
        assert_eq!(
            w.ok(&["run", "--rm", "--network", "none", "box", "echo", "hi"]),
            "hi\n"
        );
    }
    let daemon = w.daemon_pid().unwrap();
    let start = Instant::now();
    while spares(daemon).len() != 1 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let spare = spares(daemon);
    assert_eq!(spare.len(), 1, "one spare supervisor waits");
    // A container that fails to start does not leave its supervisor behind either.
    let (code, _) = w.fails(&["run", "--rm", "--network", "none", "box", "/nonexistent"]);
    assert_eq!(code, 127);
    w.ok(&["daemon", "stop"]);
    let start = Instant::now();
    while Path::new(&format!("/proc/{}", spare[0])).exists()
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // a zombie is gone too: its parent (the daemon) has exited, init reaps it
    let alive = std::fs::read_to_string(format!("/proc/{}/stat", spare[0]))
        .map(|_| stat_field(spare[0], 0) != "Z")
        .unwrap_or(false);
    assert!(!alive, "the spare supervisor outlived its daemon");
}

#[test]
fn rm_of_many_prints_names_in_order_and_names_the_missing() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // More than the CLI sends at once, some of them running.
    let mut names: Vec<String> = (0..60).map(|i| format!("many{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        if i % 10 == 0 {
            w.ok(&[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                n,
                "box",
                "sleep",
                "600",
            ]);
        } else {
            w.ok(&["create", "--network", "none", "--name", n, "box", "true"]);
        }
    }
    names.insert(30, "nosuchthing".into());
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    let out = w.output(&args);
    assert_eq!(out.status.code(), Some(1));
    let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let removed: Vec<String> = names
        .iter()
        .filter(|n| *n != "nosuchthing")
        .cloned()
        .collect();
    assert_eq!(printed, removed);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error response from daemon: No such container: nosuchthing"),
        "{err}"
    );
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

#[test]
fn containers_run_at_the_daemons_starting_priority_and_the_engine_above() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let mine = own_nice();
    // `cut` is the process reading its own stat: field 19 is its nice value.
    let nice_in = |args: &[&str]| -> i32 { w.ok(args).trim().parse().unwrap() };
    let field = "cut -d' ' -f19 /proc/self/stat";
    assert_eq!(
        nice_in(&["run", "--rm", "--network", "none", "box", "sh", "-c", field]),
        mine
    );
    let id = w.ok(&["run", "-d", "--network", "none", "box", "sleep", "600"]);
    let id = id.trim();
    assert_eq!(nice_in(&["exec", id, "sh", "-c", field]), mine);
    let daemon = w.daemon_pid().unwrap();
    let engine: i32 = stat_field(daemon, NICE).parse().unwrap();
    assert_eq!(
        engine,
        (mine - 10).max(-20),
        "the daemon runs 10 levels above"
    );
    // the container's supervisor (its init's parent) runs with the engine
    let init: i32 = w.inspect(id, "{{.State.Pid}}").parse().unwrap();
    let supervisor: i32 = stat_field(init, PPID).parse().unwrap();
    assert_eq!(stat_field(supervisor, NICE), engine.to_string());
    assert_eq!(stat_field(init, NICE), mine.to_string());
}
