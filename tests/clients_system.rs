//! System endpoints as Docker clients use them (issue 12): `events` replaying history with
//! `since`/`until`, and API versions outside the daemon's range refused like dockerd.

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api, Docker};
use common::Wharf;

#[test]
fn events_since_and_until_replay_what_happened() {
    let w = Wharf::new();
    w.ok(&["ps"]);
    let t0 = chrono_now() - 1;
    w.ok(&["volume", "create", "ev1"]);
    w.ok(&["volume", "rm", "ev1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let t1 = chrono_now();
    w.ok(&["volume", "create", "ev2"]);
    // A window in the past: replayed, then the stream ends.
    let (since, until) = (t0.to_string(), t1.to_string());
    let out = w.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(out, "create ev1\ndestroy ev1\n", "{out}");
    // The docker CLI sees the same, and filters apply to the replay.
    let d = Docker::new(&w);
    let out = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=destroy",
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(out, "destroy ev1\n", "{out}");
    // Since alone: the replay, then the live stream (ended here by until in the future).
    let later = (chrono_now() + 1).to_string();
    let out = w.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &later,
        "--format",
        "{{.Actor.ID}}",
    ]);
    assert_eq!(out, "ev1\nev1\nev2\n", "{out}");
    w.ok(&["volume", "rm", "ev2"]);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn api_versions_outside_the_range_are_refused_like_dockerd() {
    let w = Wharf::new();
    w.ok(&["ps"]);
    let (code, body) = api(&w, "GET", "/v1.12/version", None);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("client version 1.12 is too old. Minimum supported API version is 1.24"),
        "{body}"
    );
    let (code, body) = api(&w, "GET", "/v9.1/containers/json", None);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("client version 9.1 is too new. Maximum supported API version is"),
        "{body}"
    );
    let (code, _) = api(&w, "GET", "/v1.41/containers/json", None);
    assert_eq!(code, 200);
    // Versions and architectures as Go spells them.
    let (_, body) = api(&w, "GET", "/version", None);
    assert!(!body.contains("x86_64"), "{body}");
}

#[test]
fn disk_usage_and_container_sizes_as_the_docker_cli_shows_them() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.busybox_image("other", &["LABEL x=y"]);
    w.ok(&["volume", "create", "dfv"]);
    w.ok(&[
        "run",
        "--name",
        "dfc",
        "-v",
        "dfv:/data",
        "box",
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /f; echo x > /data/x",
    ]);
    // inspect -s: the writable layer and it over the image.
    let sizes = w.inspect("dfc", "{{.SizeRw}} {{.SizeRootFs}}");
    assert_eq!(
        w.ok(&["inspect", "-s", "-f", "{{.SizeRw}}", "dfc"]).trim(),
        "3000"
    );
    assert_eq!(sizes, "<no value> <no value>", "sizes only with -s");
    let root_fs: i64 = w
        .ok(&["inspect", "-s", "-f", "{{.SizeRootFs}}", "dfc"])
        .trim()
        .parse()
        .unwrap();
    assert!(root_fs > 3000, "{root_fs}");
    // The summary, the same through the docker CLI.
    let d = Docker::new(&w);
    let trim = |s: String| s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    let ours = trim(w.ok(&["system", "df"]));
    assert_eq!(ours, trim(d.ok(&["system", "df"])));
    let lines: Vec<&str> = ours.lines().collect();
    assert!(
        lines[0].starts_with("TYPE") && lines[0].ends_with("RECLAIMABLE"),
        "{ours}"
    );
    assert!(
        lines[1].starts_with("Images") && lines[1].contains(" 2 ") && lines[1].contains(" 1 "),
        "{ours}"
    );
    assert!(
        lines[2].starts_with("Containers") && lines[2].contains("3kB (100%)"),
        "{ours}"
    );
    assert!(
        lines[3].starts_with("Local Volumes") && lines[3].ends_with("0B (0%)"),
        "{ours}"
    );
    assert!(lines[4].starts_with("Build Cache"), "{ours}");
    // Every object with -v.
    let verbose = w.ok(&["system", "df", "-v"]);
    for want in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
        "dfv           1         2B",
        "\"sh -c head -c 3000 …\"",
    ] {
        assert!(verbose.contains(want), "{want:?} missing:\n{verbose}");
    }
    // ps -s, and a template that names .Size, show the sizes as the docker CLI does.
    let sized = w.ok(&["ps", "-a", "--format", "{{.Names}} {{.Size}}"]);
    assert!(sized.starts_with("dfc 3kB (virtual "), "{sized}");
    assert_eq!(
        sized,
        d.ok(&["ps", "-a", "--format", "{{.Names}} {{.Size}}"])
    );
    let table = w.ok(&["ps", "-a", "-s"]);
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.trim_end().ends_with("SIZE"))
            && table.contains("3kB (virtual "),
        "{table}"
    );
    // container prune removes the stopped container and reports its writable layer.
    let id = w.inspect("dfc", "{{.Id}}");
    let pruned = w.ok(&["container", "prune", "-f"]);
    assert_eq!(
        pruned,
        format!("Deleted Containers:\n{id}\n\nTotal reclaimed space: 3kB\n")
    );
    w.ok(&["volume", "rm", "dfv"]);

    // The build cache: one entry per step, its uses counted, shared while a tagged image
    // holds it, reclaimable once none does, gone after `builder prune -a`.
    let ctx = w.dir.path().join("dfctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM box\nRUN head -c 5000 /dev/zero > /five\nRUN echo hi > /hi\n",
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap();
    w.ok(&["build", "-q", "-t", "dfbuilt", ctx]);
    w.ok(&["build", "-q", "-t", "dfbuilt", ctx]);
    let build_row = |df: &str| {
        df.lines()
            .find(|l| l.starts_with("Build Cache"))
            .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let ours = trim(w.ok(&["system", "df"]));
    assert_eq!(ours, trim(d.ok(&["system", "df"])));
    assert_eq!(build_row(&ours), "2 0 0B 0B", "{ours}");
    let verbose = w.ok(&["system", "df", "-v"]);
    assert_eq!(verbose, d.ok(&["system", "df", "-v"]));
    let entries: Vec<Vec<&str>> = verbose
        .lines()
        .filter(|l| l.contains(" regular "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(entries.len(), 2, "{verbose}");
    assert!(
        entries.iter().all(|e| e.last() == Some(&"true")),
        "{verbose}"
    );
    assert_eq!(entries[0][2], "5kB", "the first step's layer: {verbose}");
    assert!(verbose.contains("Build cache usage: 0B"), "{verbose}");
    // Built twice: each entry used twice (the second build a cache hit of both).
    assert!(
        verbose
            .lines()
            .filter(|l| l.contains(" regular "))
            .all(|l| l.contains(" 2 ")),
        "{verbose}"
    );
    w.ok(&["tag", "dfbuilt", "dfkeep"]);
    w.ok(&["rmi", "dfbuilt", "dfkeep"]);
    let ours = w.ok(&["system", "df"]);
    assert_eq!(build_row(&ours), "1 0 5kB 5kB", "{ours}");
    w.ok(&["builder", "prune", "-a", "-f"]);
    assert_eq!(build_row(&w.ok(&["system", "df"])), "0 0 0B 0B");
}
