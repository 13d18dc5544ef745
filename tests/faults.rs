//! Fault injection: processes killed at bad moments (a container's supervisor, the daemon)
//! and hostile inputs. Each test asserts one clear outcome and that nothing of its engine is
//! left behind.

mod common;

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
}

#[test]
fn a_supervisor_whose_daemon_dies_before_the_release_ends_at_once() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let id = w.ok(&["run", "-d", "--name", "c", "box", "sleep", "1000"]);
    let id = id.trim().to_string();
    w.ok(&["stop", "-t", "0", "c"]);
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
}
