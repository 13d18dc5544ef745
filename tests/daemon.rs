//! The daemon: auto-start, API basics, `daemon stop` leaving containers running, `kill -9`
//! losing nothing, and the real docker CLI as a client.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Wharf;

#[test]
fn api_answers_versioned_and_unversioned_paths() {
    let w = Wharf::new();
    w.ok(&["version"]);
    let sock = w.socket();
    let curl = |path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-i",
                "--unix-socket",
                sock.to_str().unwrap(),
                &format!("http://wharf{path}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let ping = curl("/_ping");
    assert!(
        ping.contains("200 OK") && ping.to_ascii_lowercase().contains("api-version: 1.49"),
        "{ping}"
    );
    assert!(curl("/v1.43/version").contains("\"ApiVersion\":\"1.49\""));
    let missing = curl("/v1.49/containers/nosuch/json");
    assert!(
        missing.contains("404") && missing.contains(r#"{"message":"No such container: nosuch"}"#),
        "{missing}"
    );
    // Image inspect in the shape of the version asked for: ContainerConfig only below 1.45.
    w.busybox_image("box", &[]);
    let old = curl("/v1.41/images/box/json");
    assert!(old.contains(r#""ContainerConfig":{"#), "{old}");
    let new = curl("/v1.49/images/box/json");
    assert!(
        new.contains("200 OK") && !new.contains("ContainerConfig"),
        "{new}"
    );
    let bad = Command::new("curl")
        .args([
            "-s",
            "--unix-socket",
            sock.to_str().unwrap(),
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{not json",
            "http://wharf/containers/create",
        ])
        .output()
        .unwrap();
    let bad = String::from_utf8_lossy(&bad.stdout);
    assert!(bad.contains("invalid JSON in request body"), "{bad}");
    // The socket is root-only (0660).
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o660
    );
}

#[test]
fn containers_survive_daemon_stop_and_kill() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["run", "-d", "--name", "steady", "box", "sleep", "300"]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "brief",
        "box",
        "sh",
        "-c",
        "sleep 1; exit 42",
    ]);
    let steady_pid = w.inspect("steady", "{{.State.Pid}}");
    // kill -9 the daemon: containers keep running.
    let daemon = w.daemon_pid().expect("daemon pid");
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        std::path::Path::new(&format!("/proc/{steady_pid}")).exists(),
        "the container died with the daemon"
    );
    // The next command starts a new daemon, which finds both: one running, one exited with 42.
    assert_eq!(
        w.inspect("steady", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {steady_pid}")
    );
    assert_eq!(
        w.inspect("brief", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 42"
    );
    // The new daemon follows the running one: a stop is seen and recorded.
    w.ok(&["stop", "-t", "1", "steady"]);
    assert_eq!(w.inspect("steady", "{{.State.Status}}"), "exited");
    // `daemon stop` leaves containers running.
    w.ok(&["start", "steady"]);
    let pid = w.inspect("steady", "{{.State.Pid}}");
    w.ok(&["daemon", "stop"]);
    assert!(!w.socket().exists());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(w.inspect("steady", "{{.State.Status}}"), "running");
    w.ok(&["rm", "-f", "steady", "brief"]);
}

#[test]
fn the_docker_cli_works_against_wharf() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let cfg = w.dir.path().join("docker-config");
    let docker = |args: &[&str]| {
        Command::new("/usr/local/bin/docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", w.socket().display()))
            .env("DOCKER_CONFIG", &cfg)
            .env("DOCKER_CLI_HINTS", "false")
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(ok(&["run", "--rm", "box", "echo", "hello"]), "hello\n");
    assert_eq!(
        docker(&["run", "--rm", "box", "sh", "-c", "exit 5"])
            .status
            .code(),
        Some(5)
    );
    assert_eq!(
        docker(&["run", "--rm", "box", "nosuch"]).status.code(),
        Some(127)
    );
    ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "box",
        "sh",
        "-c",
        "echo started; sleep 300",
    ]);
    let ps = ok(&["ps", "-a"]);
    assert!(ps.contains("web") && ps.contains("Up "), "{ps}");
    let images = ok(&["images"]);
    assert!(
        images.contains("box") && images.contains("latest"),
        "{images}"
    );
    let start = std::time::Instant::now();
    while !ok(&["logs", "web"]).contains("started") {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        ok(&["exec", "web", "sh", "-c", "echo in-exec"]),
        "in-exec\n"
    );
    assert_eq!(
        docker(&["exec", "web", "sh", "-c", "exit 4"]).status.code(),
        Some(4)
    );
    ok(&["stop", "-t", "1", "web"]);
    ok(&["rm", "web"]);
    assert_eq!(ok(&["ps", "-aq"]), "");
}
