//! Exec as Docker clients drive it (issue 12): the detach keys docker-py sends from its
//! config file, spelled `detachKeys` (Go takes JSON keys in any case).

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api_json, Docker};
use common::Wharf;

#[test]
fn exec_takes_detach_keys_spelled_as_docker_py_does() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "cat",
        "--network",
        "none",
        "box",
        "cat",
    ]);
    let body = r#"{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true,"Tty":true,"detachKeys":"ctrl-x"}"#;
    let exec = api_json(&w, "POST", "/containers/cat/exec", Some(body), 201);
    let path = format!("/exec/{}/start", exec["Id"].as_str().unwrap());
    let limit = std::time::Duration::from_secs(10);
    let (_, out, closed) =
        clients::hijack(&w, &path, r#"{"Tty":true}"#, &[b"hi\n", b"\x18"], limit);
    assert!(closed, "ctrl-x detaches: {out:?}");
    // The default keys no longer detach this exec: ctrl-p ctrl-q pass through.
    let exec = api_json(&w, "POST", "/containers/cat/exec", Some(body), 201);
    let path = format!("/exec/{}/start", exec["Id"].as_str().unwrap());
    let short = std::time::Duration::from_secs(2);
    let (_, _, closed) = clients::hijack(&w, &path, r#"{"Tty":true}"#, &[b"\x10\x11"], short);
    assert!(
        !closed,
        "ctrl-p ctrl-q must not detach an exec with ctrl-x keys"
    );
}

/// The fds of `ls /proc/self/fd` in a container, beyond stdio and `ls`'s own directory.
fn stray_fds(listing: &str) -> Vec<String> {
    listing
        .split_whitespace()
        .filter(|fd| !["0", "1", "2", "3"].contains(fd))
        .map(str::to_string)
        .collect()
}

/// Run `cmd` under `script`, so that the docker CLI's stdin is a terminal (`-it` needs one).
fn on_a_terminal(cmd: &str) -> String {
    let out = std::process::Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script(1) runs");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[test]
fn terminals_are_the_containers_own_and_no_host_descriptor_leaks() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let probe = "tty; test -e \"$(tty)\" && echo exists; ls /proc/self/fd";
    for out in [
        w.ok(&[
            "run",
            "--rm",
            "-t",
            "--network",
            "none",
            "box",
            "sh",
            "-c",
            probe,
        ]),
        d.ok(&[
            "run",
            "--rm",
            "-t",
            "--network",
            "none",
            "box",
            "sh",
            "-c",
            probe,
        ]),
    ] {
        let out = out.replace('\r', "");
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("/dev/pts/0"), "{out}");
        assert_eq!(lines.next(), Some("exists"), "{out}");
        assert!(stray_fds(lines.next().unwrap_or("")).is_empty(), "{out}");
    }
    // Without a terminal, nothing past stdio either.
    let listing = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "box",
        "ls",
        "/proc/self/fd",
    ]);
    assert!(stray_fds(&listing).is_empty(), "{listing}");

    w.ok(&[
        "run",
        "-d",
        "--name",
        "ttyc",
        "--network",
        "none",
        "box",
        "sleep",
        "600",
    ]);
    for out in [
        w.ok(&["exec", "-t", "ttyc", "sh", "-c", probe]),
        d.ok(&["exec", "-t", "ttyc", "sh", "-c", probe]),
    ] {
        let out = out.replace('\r', "");
        let mut lines = out.lines();
        let tty = lines.next().unwrap_or("");
        assert!(tty.starts_with("/dev/pts/"), "{out}");
        assert_eq!(lines.next(), Some("exists"), "{out}");
        assert!(stray_fds(lines.next().unwrap_or("")).is_empty(), "{out}");
    }
    let listing = w.ok(&["exec", "ttyc", "ls", "/proc/self/fd"]);
    assert!(stray_fds(&listing).is_empty(), "{listing}");
    assert_eq!(
        w.ok(&["exec", "ttyc", "sh", "-c", "tty || true"]).trim(),
        "not a tty"
    );

    // Interactive, as a user types it: the docker CLI with a terminal on its stdin.
    let prefix = format!(
        "env DOCKER_HOST=unix://{} DOCKER_CONFIG={} DOCKER_CLI_HINTS=false {}",
        w.socket().display(),
        d.config.display(),
        clients::DOCKER
    );
    let run = on_a_terminal(&format!(
        "{prefix} run --rm -it --network none box sh -c tty"
    ));
    assert!(run.contains("/dev/pts/0"), "{run:?}");
    let exec = on_a_terminal(&format!(
        "{prefix} exec -it ttyc sh -c 'test -e $(tty) && tty'"
    ));
    assert!(exec.contains("/dev/pts/"), "{exec:?}");
    w.ok(&["rm", "-f", "ttyc"]);
}

/// docker-py (Debian's, the one inside docker-compose 1.29) takes the raw socket after reading
/// the 101 through a buffered reader: an exec's output that came too early was lost to it.
#[test]
fn docker_py_gets_every_execs_output() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "pyexec",
        "--network",
        "none",
        "box",
        "sleep",
        "600",
    ]);
    let script = r#"
import sys, docker
c = docker.APIClient(base_url="unix://" + sys.argv[1])
lost = [i for i in range(100) if c.exec_start(c.exec_create("pyexec", ["echo", "out"])) != b"out\n"]
print(len(lost))
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, &w.socket().display().to_string()])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "0", "execs whose output docker-py lost");
    w.ok(&["rm", "-f", "pyexec"]);
}
