//! Fault injection: `kill -9` of the daemon at seeded random points of `compose up` of 20
//! services and of `import`, `load` and `commit`. Whatever point it dies at, the next command's
//! daemon converges: the project has exactly its 20 containers, an image is whole or absent,
//! no layer is orphaned, and the leak audit finds nothing once everything is removed.
//! `WHARF_FAULT_SEED=N` replays a run (each test prints its seed).

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;
#[path = "common/leaks.rs"]
mod leaks;
#[path = "common/registry.rs"]
mod registry;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Wharf;
use compose_helpers::{cmd, engine, Proj, LOOP};
use leaks::{all_ids, assert_clean, entries, Rng};
use registry::{layered_image, Registry};

fn kill_daemon(w: &Wharf) {
    if let Some(pid) = w.daemon_pid() {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // Gone once its pid cannot be signalled (or is a zombie of nobody we know).
        let start = Instant::now();
        while unsafe { libc::kill(pid, 0) } == 0 && start.elapsed() < Duration::from_secs(5) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.contains(") Z") {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Wait for a client whose daemon was killed: it must end (with any status) in bounded time.
fn reap(mut child: Child, what: &str) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: the client hangs after its daemon died"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Start `cmd`, kill the daemon at a random point within `span_ms`, and wait for the
/// client to give up; returns when the kill came.
fn killed_during(
    w: &Wharf,
    mut cmd: std::process::Command,
    rng: &mut Rng,
    span_ms: u64,
) -> Duration {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let at = Duration::from_millis(rng.below(span_ms));
    std::thread::sleep(at);
    kill_daemon(w);
    reap(child, &format!("{cmd:?}"));
    at
}

/// Twenty services in a dependency graph over two networks, with a named volume and a
/// published port: every kind of object `up` makes.
fn twenty_services(port: u32) -> String {
    let mut yaml = String::from("services:\n");
    for i in 1..=20 {
        yaml.push_str(&format!(
            "  s{i:02}:\n    image: busybox\n    command: {}\n",
            cmd(LOOP)
        ));
        yaml.push_str("    stop_grace_period: 1s\n");
        if i > 1 {
            yaml.push_str(&format!("    depends_on: [s{:02}]\n", (i - 1) / 2 + 1));
        }
        let net = if i % 2 == 0 { "back" } else { "front" };
        yaml.push_str(&format!("    networks: [{net}]\n"));
        if i == 1 {
            yaml.push_str(&format!(
                "    ports: [\"127.0.0.1:{port}:80\"]\n    volumes: [\"data:/data\"]\n"
            ));
        }
    }
    yaml.push_str("networks:\n  front: {}\n  back: {}\nvolumes:\n  data: {}\n");
    yaml
}

#[test]
fn the_daemon_killed_at_seeded_points_of_up_of_20_services_converges_and_leaks_nothing() {
    let mut rng = Rng::from_env("up_of_20");
    let w = engine();
    let p = Proj::new(&w, "kill20", &twenty_services(23000 + w.slot));
    // One undisturbed up and down first: the kills then fall inside the time an up takes.
    let start = Instant::now();
    p.ok(&["up", "-d"]);
    let span = start.elapsed().as_millis() as u64;
    let mut ever: Vec<String> = p.ids().into_values().collect();
    p.ok(&["down", "-v"]);
    for round in 0..4 {
        let at = killed_during(&w, p.cmd(&["up", "-d"]), &mut rng, span);
        // The next up starts a daemon, which adopts what survived; it converges.
        p.ok(&["up", "-d"]);
        let ids = p.ids();
        assert_eq!(ids.len(), 20, "round {round} (killed at {at:?}): {ids:?}");
        for i in 1..=20 {
            let name = format!("kill20-s{i:02}-1");
            assert!(
                ids.contains_key(&name),
                "round {round}: {name} missing: {ids:?}"
            );
            assert_eq!(p.state(&name), "running", "round {round}: {name}");
        }
        assert_eq!(
            all_ids(&w).len(),
            20,
            "round {round}: a container outside the project"
        );
        ever.extend(ids.into_values());
        p.ok(&["down", "-v"]);
        assert!(p.ids().is_empty());
        assert!(p.volumes().is_empty());
        assert_clean(&w, &ever);
    }
}

/// After a kill at any point, `name` is either a whole image (its every layer readable: it
/// saves) or absent; and once it is removed and the daemon restarted, no layer, blob or
/// temporary copy is left in the store.
fn whole_or_absent(w: &Wharf, name: &str) -> bool {
    let listed = w.ok(&["images", "-q", name]);
    if listed.trim().is_empty() {
        return false;
    }
    let out = w.dir.path().join("check.tar");
    w.ok(&["save", "-o", out.to_str().unwrap(), name]);
    std::fs::remove_file(out).unwrap();
    true
}

fn store_is_empty(w: &Wharf, what: &str) {
    for dir in ["layers", "tmp", "blobs/sha256"] {
        let left = entries(w, dir);
        assert!(left.is_empty(), "{what}: {dir}/ keeps {left:?}");
    }
}

/// What the committed container writes: 100 MB that does not compress.
const WRITE: &str = "head -c 100000000 /dev/urandom > /big";

#[test]
fn the_daemon_killed_mid_import_load_or_commit_leaves_images_whole_or_absent() {
    let mut rng = Rng::from_env("import_load_commit");
    let w = engine();
    let rootfs = common::big_rootfs_tar(w.dir.path(), 8);
    let archive = w.dir.path().join("big.tar");
    w.ok(&["import", rootfs.to_str().unwrap(), "big:src"]);
    w.ok(&["save", "-o", archive.to_str().unwrap(), "big:src"]);
    w.ok(&["rmi", "big:src"]);
    // How long each takes undisturbed, so the kills fall inside it.
    let mut spans = Vec::new();
    for args in [
        vec!["import", rootfs.to_str().unwrap(), "timing:1"],
        vec!["load", "-q", "-i", archive.to_str().unwrap()],
    ] {
        let start = Instant::now();
        w.ok(&args);
        spans.push(start.elapsed().as_millis() as u64);
    }
    w.ok(&["run", "--name", "writer", "busybox", "sh", "-c", WRITE]);
    let start = Instant::now();
    w.ok(&["commit", "writer", "timing:2"]);
    spans.push(start.elapsed().as_millis() as u64);
    w.ok(&["rm", "writer"]);
    w.ok(&["rmi", "timing:1", "timing:2", "big:src"]);
    let (mut whole, mut absent) = (0, 0);
    for round in 0..6 {
        let op = round % 3;
        let name = format!("victim:{round}");
        let mut c = w.command();
        match op {
            0 => c.args(["import", rootfs.to_str().unwrap(), &name]),
            1 => c.args(["load", "-q", "-i", archive.to_str().unwrap()]),
            _ => {
                w.ok(&["run", "--name", "writer", "busybox", "sh", "-c", WRITE]);
                c.args(["commit", "writer", &name])
            }
        };
        let at = killed_during(&w, c, &mut rng, spans[op]);
        let what = format!("round {round} (op {op}, killed at {at:?})");
        // `load` names the image it loads big:src.
        let loaded = if op == 1 { "big:src" } else { name.as_str() };
        if whole_or_absent(&w, loaded) {
            whole += 1;
            w.ok(&["rmi", "-f", loaded]);
        } else {
            absent += 1;
        }
        if op == 2 {
            w.ok(&["rm", "-f", "writer"]);
        }
        // Restarted, the daemon collects what no image holds.
        w.ok(&["daemon", "stop"]);
        w.ok(&["images"]);
        let others = w.ok(&["images", "-q"]);
        assert_eq!(others.trim().lines().count(), 1, "{what}: {others}");
    }
    eprintln!("spans {spans:?} ms; whole {whole}, absent {absent}");
    w.ok(&["rmi", "-f", "busybox"]);
    w.ok(&["daemon", "stop"]);
    w.ok(&["images"]);
    store_is_empty(&w, "after every image was removed");
    assert_clean(&w, &[]);
}

#[test]
fn the_daemon_killed_mid_pull_or_build_leaves_images_whole_or_absent() {
    let mut rng = Rng::from_env("pull_build");
    let source = Wharf::new();
    let archive = layered_image(&source, "layered:1", 4, 8192);
    let reg = Registry::start(31500 + source.slot as u16);
    reg.push(&archive, "kill/layered:1");
    let image = format!("{}/kill/layered:1", reg.addr);
    let pulled_layers = source.inspect("layered:1", "{{range .RootFS.Layers}}{{println .}}{{end}}");
    let w = engine();
    let ctx = w.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(&archive, ctx.join("big")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY big /big\nRUN cat /big /big > /twice\n",
    )
    .unwrap();
    let build = |tag: &str| {
        vec![
            "build".to_string(),
            "--no-cache".into(),
            "-q".into(),
            "-t".into(),
            tag.to_string(),
            ctx.display().to_string(),
        ]
    };
    // Undisturbed first, so the kills fall inside each one's span.
    let start = Instant::now();
    w.ok(&["pull", &image]);
    let pull_span = start.elapsed().as_millis() as u64;
    w.ok(&["rmi", &image]);
    let start = Instant::now();
    let args = build("timing:1");
    w.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let build_span = start.elapsed().as_millis() as u64;
    w.ok(&["rmi", "timing:1"]);
    for round in 0..6 {
        let (name, args, span) = if round % 2 == 0 {
            (
                image.clone(),
                vec!["pull".to_string(), "-q".into(), image.clone()],
                pull_span,
            )
        } else {
            let tag = format!("built:{round}");
            (tag.clone(), build(&tag), build_span)
        };
        let mut c = w.command();
        c.args(&args);
        let at = killed_during(&w, c, &mut rng, span);
        let what = format!("round {round} ({args:?}, killed at {at:?})");
        // The next daemon removes the build's step containers; nothing else is left.
        w.ok(&["images", "-q"]);
        assert_eq!(w.ok(&["ps", "-aq"]), "", "{what}: a step container is left");
        if whole_or_absent(&w, &name) {
            w.ok(&["rmi", "-f", &name]);
        }
        // And the same command then completes.
        w.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        w.ok(&["rmi", "-f", &name]);
    }
    w.ok(&["builder", "prune", "-a", "-f"]);
    w.ok(&["rmi", "-f", "busybox"]);
    w.ok(&["daemon", "stop"]);
    w.ok(&["images"]);
    // What stays: only the layers of an unfinished pull, held for their lease so the next
    // pull resumes; never a layer nothing accounts for, nor a temporary copy.
    for dir in entries(&w, "layers") {
        assert!(
            pulled_layers.contains(&dir),
            "layer {dir} is neither an image's nor a pull's: {:?}",
            entries(&w, "layers")
        );
    }
    let tmp = entries(&w, "tmp");
    assert!(tmp.is_empty(), "tmp/ keeps {tmp:?}");
    assert_clean(&w, &[]);
}
