//! Pulls that survive the network, against a real registry (Debian's docker-registry on
//! 127.0.0.1) behind a fault-injecting front: a connection cut mid-blob is resumed with a
//! `Range` request, a 429 (with `Retry-After`) and a 503 are waited out, and a `wharf pull`
//! stopped with Ctrl-C stops the daemon's transfer, registers nothing and leaves its finished
//! layers for the next pull, which fetches only the rest (across a daemon restart too).

mod common;
#[path = "common/registry.rs"]
mod registry;

use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Wharf;
use registry::{daemon_json, layered_image, Front, Registry, Seen};

fn blob_gets(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter()
        .filter(|s| s.method() == "GET" && s.path().contains("/blobs/sha256:"))
        .filter(|s| s.event() != "start")
        .collect()
}

#[test]
fn a_pull_resumes_a_cut_blob_with_range_and_waits_out_429_and_503() {
    let source = Wharf::new();
    let archive = layered_image(&source, "cut:1", 2, 1024);
    let reg = Registry::start(30000 + source.slot as u16);
    reg.push(&archive, "faults/cut:1");
    let front = Front::start(30250 + source.slot as u16, &reg.addr, source.dir.path());
    let image = format!("{}/faults/cut:1", front.addr);
    front.set(serde_json::json!({
        "drop_blob_once": true,
        "status_once": { "match": "/manifests/", "status": 429, "retry_after": "1" },
    }));

    let w = Wharf::new();
    w.ok(&["version"]);
    let start = Instant::now();
    let out = w.ok(&["pull", &image]);
    let took = start.elapsed();
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(
        w.inspect(&image, "{{.Id}}"),
        source.inspect("cut:1", "{{.Id}}")
    );
    // The 429 was answered and its Retry-After waited for.
    let seen = front.take();
    assert!(
        seen.iter()
            .any(|s| s.event() == "injected" && s.path().contains("/manifests/")),
        "{seen:?}"
    );
    assert!(took >= Duration::from_secs(1), "{took:?}");
    // The cut blob was asked for again from where it stopped, and got a 206.
    let cut = seen
        .iter()
        .find(|s| s.event() == "dropped")
        .unwrap_or_else(|| panic!("no blob was cut: {seen:?}"));
    let size = cut.0["size"].as_u64().unwrap();
    let resumed: Vec<_> = blob_gets(&seen)
        .into_iter()
        .filter(|s| s.path() == cut.path() && s.range().is_some())
        .collect();
    assert_eq!(resumed.len(), 1, "{seen:?}");
    assert_eq!(resumed[0].0["status"], 206, "{seen:?}");
    let from: u64 = resumed[0]
        .range()
        .unwrap()
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(from > 0 && from <= size / 2, "range {from} of {size}");

    // A 503 on a blob (no Retry-After): asked again after a backoff.
    w.ok(&["rmi", &image]);
    front.set(serde_json::json!({
        "status_once": { "match": "/blobs/sha256:", "status": 503 },
    }));
    w.ok(&["pull", &image]);
    let seen = front.take();
    assert!(seen.iter().any(|s| s.event() == "injected"), "{seen:?}");
    assert_eq!(
        w.inspect(&image, "{{.Id}}"),
        source.inspect("cut:1", "{{.Id}}")
    );
}

#[test]
fn ctrl_c_stops_the_daemons_transfer_and_the_next_pull_fetches_only_the_rest() {
    let source = Wharf::new();
    // Five layers: busybox and four of random bytes.
    let archive = layered_image(&source, "stopped:1", 4, 512);
    let reg = Registry::start(30500 + source.slot as u16);
    reg.push(&archive, "faults/stopped:1");
    let front = Front::start(30750 + source.slot as u16, &reg.addr, source.dir.path());
    let image = format!("{}/faults/stopped:1", front.addr);
    // One layer at a time; the config and two layers are served, the third hangs mid-way.
    front.set(serde_json::json!({ "stall_after": 3 }));
    let w = Wharf::new();
    daemon_json(&w, serde_json::json!({ "max-concurrent-downloads": 1 }));
    w.ok(&["version"]);

    let mut pull = w
        .command()
        .args(["pull", &image])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = pull.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut complete = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while complete < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("two layers never completed");
        complete += line.ends_with(": Pull complete") as usize;
    }
    let stalled = || front.seen().iter().any(|s| s.event() == "stalled");
    while !stalled() {
        assert!(
            Instant::now() < deadline,
            "no download hung: {:?}",
            front.seen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ctrl-C.
    unsafe { libc::kill(pull.id() as i32, libc::SIGINT) };
    assert!(!pull.wait().unwrap().success());
    // The daemon lets go of the registry at once.
    let gone = Instant::now() + Duration::from_secs(5);
    while !front.seen().iter().any(|s| s.event() == "client-gone") {
        assert!(
            Instant::now() < gone,
            "the daemon kept downloading: {:?}",
            front.seen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, err) = w.fails(&["inspect", &image]);
    assert!(err.to_lowercase().contains("no such"), "{err}");
    // Its partial download is removed (a moment after it let go of the connection).
    let partial = || -> Vec<String> {
        std::fs::read_dir(w.root.join("tmp"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| n.starts_with("pull-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let removed = Instant::now() + Duration::from_secs(2);
    while !partial().is_empty() {
        assert!(Instant::now() < removed, "{:?}", partial());
        std::thread::sleep(Duration::from_millis(20));
    }

    // A new daemon (its start collects garbage), and the pull again: the two layers that
    // were finished are not fetched again.
    w.ok(&["daemon", "stop"]);
    front.set(serde_json::json!({}));
    front.take();
    let out = w.ok(&["pull", &image]);
    assert_eq!(out.matches("Already exists").count(), 2, "{out}");
    let seen = front.take();
    let fetched = blob_gets(&seen);
    // The config and the three layers that were missing.
    assert_eq!(fetched.len(), 4, "{seen:?}");
    assert_eq!(
        w.inspect(&image, "{{.Id}}"),
        source.inspect("stopped:1", "{{.Id}}")
    );
    assert_eq!(
        w.ok(&["run", "--rm", &image, "sh", "-c", "ls /data | wc -l"])
            .trim(),
        "4"
    );
}
