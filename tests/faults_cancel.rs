//! Work stops when its client goes away: an `import` or a `commit` whose client is killed
//! mid-way registers nothing, leaves no temporary copy, and the daemon goes idle at once.
//! (`load` and `pull` have theirs in faults.rs and registry_faults.rs.)

mod common;
#[path = "common/leaks.rs"]
mod leaks;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Wharf;
use leaks::{cpu_ticks, entries};

/// Start `args`, kill the client once `started` holds, then require the store to hold no
/// temporary copy and no new image within 10 s, and the daemon to use (almost) no CPU in
/// the second after.
fn killed_client_stops_the_work(w: &Wharf, args: &[&str], started: impl Fn() -> bool) {
    let images_before = w.ok(&["images", "-q"]);
    let mut client = w
        .command()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !started() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{args:?}: never started"
        );
        assert!(client.try_wait().unwrap().is_none(), "{args:?} ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(client.id() as i32, libc::SIGKILL) };
    let _ = client.wait();
    let killed = Instant::now();
    let in_flight = |w: &Wharf| {
        entries(w, "tmp").len()
            + entries(w, "layers")
                .iter()
                .filter(|e| e.starts_with(".tmp-"))
                .count()
    };
    while in_flight(w) > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "{args:?}: still working: tmp {:?}, layers {:?}",
            entries(w, "tmp"),
            entries(w, "layers")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = w.daemon_pid().unwrap();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(
        used <= 5,
        "{args:?}: the daemon kept working ({used} ticks)"
    );
    assert_eq!(
        w.ok(&["images", "-q"]),
        images_before,
        "{args:?} registered an image"
    );
}

#[test]
fn an_import_whose_client_is_killed_stops_and_leaves_nothing() {
    let w = Wharf::new();
    w.ok(&["images"]);
    let rootfs = common::big_rootfs_tar(w.dir.path(), 24);
    killed_client_stops_the_work(&w, &["import", rootfs.to_str().unwrap(), "big:1"], || {
        entries(&w, "layers").iter().any(|e| e.starts_with(".tmp-"))
    });
}

#[test]
fn a_commit_whose_client_is_killed_stops_and_leaves_nothing() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&[
        "run",
        "--name",
        "writer",
        "box",
        "sh",
        "-c",
        "head -c 400000000 /dev/urandom > /big",
    ]);
    killed_client_stops_the_work(&w, &["commit", "writer", "big:1"], || {
        entries(&w, "tmp").iter().any(|e| e.starts_with("commit-"))
    });
    w.ok(&["rm", "writer"]);
}
