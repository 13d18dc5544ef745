//! The compose commands that wrap a container command or a convergence: `scale`, `volumes`,
//! `stats`, `commit`, `export`, `attach`, `version`, on real containers.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use compose_helpers::{cmd, engine, Proj, LOOP};

#[test]
fn scale_volumes_stats_commit_export_attach_and_version() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  web:
    image: busybox
    command: {c}
    volumes: [data:/data]
  db:
    image: busybox
    command: {c}
    volumes: [dbdata:/var/db]
  talker:
    image: busybox
    command: {talk}
volumes:
  data:
  dbdata:
"#,
        c = cmd(LOOP),
        talk = cmd("trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done"),
    );
    let p = Proj::new(&w, "cmds", &yaml);
    p.ok(&["up", "-d"]);

    // scale up and down, the others untouched
    let before = p.ids();
    p.ok(&["scale", "web=3"]);
    let ids = p.ids();
    for n in 1..=3 {
        assert_eq!(p.state(&format!("cmds-web-{n}")), "running");
    }
    assert_eq!(ids["cmds-db-1"], before["cmds-db-1"]);
    p.ok(&["scale", "web=1"]);
    assert!(!p.ids().contains_key("cmds-web-2"));
    let (_, _, err) = p.fails(&["scale", "nope=2"]);
    assert!(err.contains("no such service: nope"), "{err}");

    // ps and ls take templates over docker compose's field names
    let (out, _) = p.ok(&["ps", "--format", "{{.Name}} {{.Service}} {{.State}}"]);
    assert_eq!(
        out,
        "cmds-db-1 db running\ncmds-talker-1 talker running\ncmds-web-1 web running\n"
    );
    let (out, _) = p.ok(&["ps", "--format", "table {{.Service}}\t{{.Status}}"]);
    assert!(out.starts_with("SERVICE"), "{out}");
    let (out, _) = p.ok(&["ls", "--format", "{{.Name}}: {{.Status}}"]);
    assert_eq!(out, "cmds: running(3)\n");

    // volumes: the project's, or one service's
    let (out, _) = p.ok(&["volumes"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("DRIVER") && lines[0].contains("VOLUME NAME"),
        "{out}"
    );
    assert!(
        out.contains("cmds_data") && out.contains("cmds_dbdata"),
        "{out}"
    );
    let (out, _) = p.ok(&["volumes", "-q", "web"]);
    assert_eq!(out, "cmds_data\n");

    // stats of the project's containers only
    let (out, _) = p.ok(&["stats", "--no-stream", "--format", "{{.Name}}"]);
    let mut names: Vec<&str> = out.lines().collect();
    names.sort();
    assert_eq!(names, ["cmds-db-1", "cmds-talker-1", "cmds-web-1"], "{out}");
    let (out, _) = p.ok(&["stats", "--no-stream", "--format", "{{.Name}}", "db"]);
    assert_eq!(out, "cmds-db-1\n");

    // commit and export a service's container
    p.ok(&["exec", "-T", "web", "sh", "-c", "echo committed > /marker"]);
    p.ok(&["commit", "web", "cmds-snap:1"]);
    let out = w.ok(&["run", "--rm", "cmds-snap:1", "cat", "/marker"]);
    assert_eq!(out, "committed\n");
    let tar = p.dir.join("web.tar");
    p.ok(&["export", "-o", tar.to_str().unwrap(), "web"]);
    let mut a = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    let has_marker = a
        .entries()
        .unwrap()
        .any(|e| e.unwrap().path().unwrap().to_str() == Some("marker"));
    assert!(has_marker);

    // attach follows the container's output until it ends
    let mut child = p
        .cmd(&["attach", "--no-stdin", "talker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "tick\n");
    p.ok(&["stop", "-t", "1", "talker"]);
    assert!(child.wait().unwrap().success());

    // version needs no engine
    let (out, _) = p.ok(&["version", "--short"]);
    assert_eq!(out.trim(), env!("CARGO_PKG_VERSION"));
    p.ok(&["down", "-v"]);
    w.ok(&["rmi", "cmds-snap:1"]);
}
