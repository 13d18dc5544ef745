//! Fault injection: processes killed at bad moments (a container's supervisor, the daemon)
//! and hostile inputs. Each test asserts one clear outcome and that nothing of its engine is
//! left behind.

mod common;
#[path = "common/leaks.rs"]
mod leaks;

use leaks::{cpu_ticks, entries};

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Wharf;

fn state_json(w: &Wharf, id: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(w.root.join("containers").join(id).join("state.json"))
        .expect("state.json");
    serde_json::from_str(&text).expect("state.json is JSON")
}

fn supervisor_pid(w: &Wharf, id: &str) -> i32 {
    state_json(w, id)["supervisor_pid"].as_i64().unwrap() as i32
}

/// A process that is gone or a zombie (its parent has not reaped it yet) runs no more.
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// The processes of a container's cgroup (v2 membership, where wharf keeps it).
fn cgroup_procs(id: &str) -> Vec<i32> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(|root| {
            PathBuf::from(root)
                .join("wharf")
                .join(id)
                .join("cgroup.procs")
        })
        .find(|p| p.exists())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

fn kill(pid: i32, sig: i32) {
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid}");
}

/// Wait (bounded) for a child to end.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_dead_supervisor_kills_its_container_records_137_and_restarts_it() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let once = w.ok(&["run", "-d", "--name", "once", "box", "sleep", "1000"]);
    let once = once.trim();
    let always = w.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "box",
        "sleep",
        "1000",
    ]);
    let always = always.trim();

    // No restart policy: the container is killed, exit 137 and FinishedAt are recorded, the
    // socket goes.
    let pid: i32 = w.inspect("once", "{{.State.Pid}}").parse().unwrap();
    let mut waiter = w
        .command()
        .args(["wait", "once"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    kill(supervisor_pid(&w, once), libc::SIGKILL);
    wait_exit(&mut waiter, Duration::from_secs(10)).expect("wait returns");
    let mut code = String::new();
    std::io::BufReader::new(waiter.stdout.take().unwrap())
        .read_line(&mut code)
        .unwrap();
    assert_eq!(code.trim(), "137");
    assert!(
        is_dead(pid),
        "the orphaned container process {pid} still runs"
    );
    let state = w.inspect("once", "{{.State.Status}} {{.State.ExitCode}}");
    assert_eq!(state, "exited 137");
    let finished = w.inspect("once", "{{.State.FinishedAt}}");
    assert!(!finished.starts_with("0001"), "FinishedAt {finished}");
    let socket = w.run_root.join("sup").join(format!("{}.sock", &once[..16]));
    assert!(!socket.exists(), "stale socket {}", socket.display());

    // A new start runs exactly one init.
    w.ok(&["start", "once"]);
    let procs = cgroup_procs(once);
    assert_eq!(
        procs.len(),
        1,
        "processes in the container's cgroup: {procs:?}"
    );

    // Restart policy always: the daemon restarts it (one init, a new pid).
    let old: i32 = w.inspect("always", "{{.State.Pid}}").parse().unwrap();
    kill(supervisor_pid(&w, always), libc::SIGKILL);
    let got = w.wait_for(
        "always",
        "{{.RestartCount}} {{.State.Status}}",
        "1 running",
        Duration::from_secs(10),
    );
    assert_eq!(got, "1 running");
    assert!(
        is_dead(old),
        "the orphaned container process {old} still runs"
    );
    let procs = cgroup_procs(always);
    assert_eq!(
        procs.len(),
        1,
        "processes in the container's cgroup: {procs:?}"
    );
    assert!(!procs.contains(&old));
    w.ok(&["rm", "-f", "once", "always"]);
    leaks::assert_clean(&w, &[once.to_string(), always.to_string()]);
}

#[test]
fn a_supervisor_whose_daemon_dies_before_the_release_ends_at_once() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let id = w.ok(&["run", "-d", "--name", "c", "box", "sleep", "1000"]);
    let id = id.trim().to_string();
    let state = w.root.join("containers").join(&id).join("state.json");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let first = state["supervisor_pid"].as_i64().unwrap();
    w.ok(&["stop", "-t", "0", "c"]);
    // `stop` returns once the container has stopped; its supervisor may still be tearing down
    // (as the daemon does before a new start, wait for it to end).
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{first}")).exists() {
        assert!(Instant::now() < deadline, "the first supervisor lingers");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Play the daemon's part up to the release, then die (close the supervisor's stdin).
    let config = w.root.join("containers").join(&id).join("supervisor.json");
    let mut sup = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("__supervise")
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(sup.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    drop(sup.stdin.take());
    let status = wait_exit(&mut sup, Duration::from_secs(5));
    assert!(
        status.is_some(),
        "the supervisor lingers after its daemon died"
    );
    assert!(cgroup_procs(&id).is_empty(), "{:?}", cgroup_procs(&id));

    // SIGTERM ends a supervisor waiting for its release just as promptly.
    let mut sup = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("__supervise")
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(sup.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    kill(sup.id() as i32, libc::SIGTERM);
    let status = wait_exit(&mut sup, Duration::from_secs(5));
    assert!(status.is_some(), "the supervisor ignores SIGTERM");
    assert!(cgroup_procs(&id).is_empty(), "{:?}", cgroup_procs(&id));
    w.ok(&["rm", "-f", "c"]);
    leaks::assert_clean(&w, &[id]);
}

/// A CLI that panicked exits with 101 (or 134 under panic=abort) and prints "panicked".
fn assert_clean_error(w: &Wharf, args: &[&str], want: &str) {
    let out = w.output(args);
    let err = String::from_utf8_lossy(&out.stderr);
    let shown: Vec<String> = args.iter().map(|a| a.chars().take(40).collect()).collect();
    // 1 for the CLI's errors, 125 for `run`'s (as docker's).
    assert!(
        matches!(out.status.code(), Some(1 | 125)),
        "wharf {shown:?}: {:?} {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "wharf {shown:?} panicked: {err}");
    assert!(err.contains(want), "wharf {shown:?}: {err}");
}

#[test]
fn names_with_spaces_or_100000_characters_give_errors_not_panics() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let long = "a".repeat(100_000);
    assert_clean_error(&w, &["inspect", "a b"], "No such object");
    assert_clean_error(&w, &["inspect", &long], "");
    assert_clean_error(&w, &["rm", "a b"], "No such container");
    assert_clean_error(&w, &["rm", &long], "");
    assert_clean_error(&w, &["logs", "a b"], "No such container");
    assert_clean_error(&w, &["image", "inspect", "test box"], "");
    assert_clean_error(&w, &["run", "--rm", "test box"], "");
    assert_clean_error(&w, &["run", "--rm", &long], "");
    assert_clean_error(
        &w,
        &["run", "--rm", "--name", "a b", "box", "true"],
        "Invalid container name",
    );
    let dir = w.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  web:\n    image: \"test box\"\n",
    )
    .unwrap();
    let file = dir.join("compose.yaml");
    assert_clean_error(
        &w,
        &["compose", "-f", file.to_str().unwrap(), "up", "-d"],
        "",
    );
}

/// A tar with one regular file at `path`.
fn one_entry_tar(path: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = common::header();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // GNU long names: `append_data` writes the ././@LongLink entry itself.
    b.append_data(&mut h, path, &b"hi"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn deep_archive_paths_unpack_in_linear_time_or_are_refused_past_path_max() {
    let w = Wharf::new();
    let dir = w.dir.path();
    // Depth 2,000 (4,001 bytes, under PATH_MAX): unpacked, one mkdir per level.
    let deep = format!("{}f", "a/".repeat(2000));
    std::fs::write(dir.join("deep.tar"), one_entry_tar(&deep)).unwrap();
    w.ok(&["import", dir.join("deep.tar").to_str().unwrap(), "deep"]);
    // Depth 4,000: longer than PATH_MAX, refused with a clear error.
    let deeper = format!("{}f", "a/".repeat(4000));
    std::fs::write(dir.join("deeper.tar"), one_entry_tar(&deeper)).unwrap();
    let (_, err) = w.fails(&["import", dir.join("deeper.tar").to_str().unwrap(), "deeper"]);
    assert!(err.contains("PATH_MAX"), "{err}");
    assert!(err.len() < 1000, "the error repeats the whole path");
    let images = w.ok(&["images", "-q"]);
    assert_eq!(images.lines().count(), 1, "{images}");
}

/// A tar of entries (path, symlink target or file contents).
fn archive_of(entries: &[(&str, Result<&str, &[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, what) in entries {
        let mut h = common::header();
        h.set_mode(0o644);
        match what {
            Ok(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
            Err(data) if path.contains("..") => {
                // The tar crate refuses to write such a name: put it in the header itself.
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            Err(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A gzip-compressed archive cut in the middle of its stream.
fn truncated_gzip() -> Vec<u8> {
    use std::io::Write;
    let tar = archive_of(&[("manifest.json", Err(&[b'x'; 64 << 10]))]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes.truncate(bytes.len() / 2);
    bytes
}

/// An archive whose hard link points out of it (`../../etc/passwd`).
fn hard_link_out() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = common::header();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    h.set_mode(0o644);
    h.as_old_mut().linkname[..16].copy_from_slice(b"../../etc/passwd");
    h.as_old_mut().name[..13].copy_from_slice(b"manifest.json");
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn load_refuses_hostile_archives_with_clear_errors_and_stores_nothing() {
    let w = Wharf::new();
    let dir = w.dir.path();
    let deep = format!("{}manifest.json", "a/".repeat(2000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // Depth 2,000 in the outer archive: unpacked in linear time, then no manifest at the top.
        (
            "deep",
            archive_of(&[(&deep, Err(b"[]"))]),
            "neither a docker save archive",
        ),
        (
            "empty-manifest",
            archive_of(&[("manifest.json", Err(b"[]"))]),
            "lists none",
        ),
        (
            "empty-index",
            archive_of(&[("index.json", Err(br#"{"schemaVersion":2,"manifests":[]}"#))]),
            "lists none",
        ),
        (
            "symlink-out",
            archive_of(&[("manifest.json", Ok("/etc/passwd"))]),
            "points outside the archive",
        ),
        (
            "climbing",
            archive_of(&[("../manifest.json", Err(b"[]"))]),
            "would leave",
        ),
        (
            "garbage",
            (0..5000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
            "archive",
        ),
        ("truncated-gzip", truncated_gzip(), "archive"),
        ("hardlink-out", hard_link_out(), "would leave"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(format!("{name}.tar"));
        std::fs::write(&path, bytes).unwrap();
        let (_, err) = w.fails(&["load", "-i", path.to_str().unwrap()]);
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            err.len() < 1000,
            "{name}: the error repeats the whole path: {err}"
        );
    }
    assert_eq!(w.ok(&["images", "-q"]), "");
    assert_eq!(
        entries(&w, "tmp"),
        Vec::<String>::new(),
        "temporary copies left"
    );
}

/// A `docker save` archive of one image `big:1` whose only layer holds `files` files of 16 MB
/// of random bytes.
fn big_archive(dir: &std::path::Path, files: usize) -> PathBuf {
    use sha2::Digest;
    use std::io::{Read, Write};
    let layer_path = dir.join("layer.tar");
    let mut layer = tar::Builder::new(std::fs::File::create(&layer_path).unwrap());
    for i in 0..files {
        let mut h = common::header();
        h.set_size(16 << 20);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let data = std::fs::File::open("/dev/urandom").unwrap().take(16 << 20);
        layer
            .append_data(&mut h, format!("data/{i}"), data)
            .unwrap();
    }
    layer.into_inner().unwrap().flush().unwrap();
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(&layer_path).unwrap(), &mut hasher).unwrap();
    let diff_id = format!("sha256:{}", hex::encode(hasher.finalize()));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let manifest = serde_json::json!([
        {"Config": "config.json", "RepoTags": ["big:1"], "Layers": ["layer.tar"]}
    ]);
    let path = dir.join("big.tar");
    let mut outer = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        ("config.json", serde_json::to_vec(&config).unwrap()),
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
    ] {
        let mut h = common::header();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        outer.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    outer
        .append_path_with_name(&layer_path, "layer.tar")
        .unwrap();
    outer.into_inner().unwrap().flush().unwrap();
    std::fs::remove_file(&layer_path).unwrap();
    path
}

/// `load -q -i archive`, returned once the daemon unpacks a layer of it.
fn load_until_unpacking(w: &Wharf, archive: &std::path::Path) -> std::process::Child {
    let mut client = w
        .command()
        .args(["load", "-q", "-i", archive.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !entries(w, "layers").iter().any(|e| e.starts_with(".tmp-")) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no layer unpacking"
        );
        assert!(client.try_wait().unwrap().is_none(), "the load ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    client
}

#[test]
fn a_load_whose_client_is_killed_stops_and_leaves_nothing() {
    let w = Wharf::new();
    w.ok(&["images"]);
    let archive = big_archive(w.dir.path(), 24);
    // Kill the client once the daemon has received the archive and unpacks its layer.
    let mut client = load_until_unpacking(&w, &archive);
    kill(client.id() as i32, libc::SIGKILL);
    let _ = client.wait();
    let killed = Instant::now();
    // Its temporary directories go at once: the unpacking stopped.
    while !entries(&w, "tmp").is_empty() || !entries(&w, "layers").is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "still working: tmp {:?}, layers {:?}",
            entries(&w, "tmp"),
            entries(&w, "layers")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopped = killed.elapsed();
    let pid = w.daemon_pid().unwrap();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let idle = cpu_ticks(pid) - before;
    eprintln!("cleaned up {stopped:?} after the kill; daemon CPU in the next second: {idle} ticks");
    assert!(idle < 20, "the daemon keeps working: {idle} ticks in 1 s");
    assert_eq!(w.ok(&["images", "-q"]), "");
    // Nothing left for the next start either.
    w.ok(&["daemon", "stop"]);
    assert_eq!(w.ok(&["images", "-q"]), "");
    assert!(
        entries(&w, "layers").is_empty(),
        "{:?}",
        entries(&w, "layers")
    );
    let blobs = entries(&w, "blobs/sha256");
    assert!(blobs.is_empty(), "{blobs:?}");
}

#[test]
fn a_command_run_while_the_daemon_shuts_down_waits_and_starts_a_new_one() {
    use std::io::{Read, Write};
    let w = Wharf::new();
    w.ok(&["ps"]);
    let old = w.daemon_pid().unwrap();
    // A load whose client sends its body slowly keeps the old daemon busy after SIGTERM: it
    // stops answering but holds its lock until that request ends.
    let mut slow = std::os::unix::net::UnixStream::connect(w.socket()).unwrap();
    slow.write_all(
        b"POST /images/load HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n",
    )
    .unwrap();
    slow.write_all(&[0u8; 0x200]).unwrap();
    slow.write_all(b"\r\n").unwrap();
    let mut head = [0u8; 12];
    slow.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    kill(old, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!is_dead(old), "the old daemon did not wait for its request");
    let started = Instant::now();
    let mut ps = w
        .command()
        .args(["ps", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(ps.try_wait().unwrap().is_none(), "ps did not wait");
    drop(slow);
    let status = wait_exit(&mut ps, Duration::from_secs(15)).expect("ps hangs");
    let mut err = String::new();
    ps.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{err}");
    let new = w.daemon_pid().unwrap();
    assert_ne!(new, old);
    assert!(is_dead(old));
    eprintln!(
        "ps took {:?} (0.5 s of it the old daemon's request)",
        started.elapsed()
    );
}

/// Garbage collection (here after an `rmi`) while a load unpacks: the load's layers, not yet
/// registered, are left alone, and the collection happens once the load is done.
#[test]
fn garbage_collection_during_a_load_spares_its_layers_and_runs_after_it() {
    let w = Wharf::new();
    w.busybox_image("other", &[]);
    let archive = big_archive(w.dir.path(), 12);
    let client = load_until_unpacking(&w, &archive);
    w.ok(&["rmi", "other"]);
    let out = client.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The loaded image is whole; the removed one's layer went once the load ended.
    w.ok(&[
        "save",
        "-o",
        w.dir.path().join("back.tar").to_str().unwrap(),
        "big:1",
    ]);
    let layers: Vec<String> = entries(&w, "layers");
    assert_eq!(layers.len(), 1, "{layers:?}");
    leaks::assert_clean(&w, &[]);
}
