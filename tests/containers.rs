//! Containers end to end: real namespaces, cgroups, supervision, logs, exec, volumes.

mod common;

use std::time::Duration;

use common::Wharf;

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    assert_eq!(w.ok(&["run", "--rm", "box", "echo", "hello"]), "hello\n");
    let (code, _) = w.fails(&["run", "--rm", "box", "sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    let (code, err) = w.fails(&["run", "--rm", "box", "nosuchcommand"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    let (code, err) = w.fails(&["run", "--rm", "box", "/etc/passwd"]);
    assert_eq!(code, 126, "{err}");
    let (code, err) = w.fails(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(code, 125);
    // Missing locally, it is pulled first (as the docker CLI does), which fails offline.
    assert!(
        err.contains("Unable to find image 'nosuchimage' locally")
            && err.contains("Pulling from library/nosuchimage")
            && err.contains("Error response from daemon"),
        "{err}"
    );
    // --rm removed every container.
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

#[test]
fn env_user_workdir_and_entrypoint_follow_docker() {
    let w = Wharf::new();
    w.busybox_image("box", &["ENV GREETING=hi FROM=image", "WORKDIR /srv"]);
    let out = w.ok(&[
        "run",
        "--rm",
        "-e",
        "FROM=cli",
        "-u",
        "nobody",
        "box",
        "sh",
        "-c",
        "echo $GREETING $FROM; id -u; id -g; pwd",
    ]);
    assert_eq!(out, "hi cli\n65534\n65534\n/srv\n");
    let out = w.ok(&[
        "run",
        "--rm",
        "-u",
        "www",
        "-w",
        "/tmp",
        "box",
        "sh",
        "-c",
        "id -G; pwd",
    ]);
    assert_eq!(out, "33 50\n/tmp\n");
    let out = w.ok(&["run", "--rm", "--entrypoint", "echo", "box", "a", "b"]);
    assert_eq!(out, "a b\n");
    let (_, err) = w.fails(&["run", "--rm", "-u", "nosuchuser", "box", "true"]);
    assert!(err.contains("unable to find user nosuchuser"), "{err}");
    let out = w.ok(&[
        "run",
        "--rm",
        "--hostname",
        "myhost",
        "box",
        "sh",
        "-c",
        "hostname; cat /etc/hostname",
    ]);
    assert_eq!(out, "myhost\nmyhost\n");
}

#[test]
fn containers_are_isolated() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // Only the container's own processes are visible.
    let ps = w.ok(&[
        "run",
        "--rm",
        "box",
        "sh",
        "-c",
        "ls /proc | grep -c '^[0-9]'",
    ]);
    assert!(ps.trim().parse::<i32>().unwrap() <= 3, "{ps}");
    // Docker's default capability set, no more.
    let caps = w.ok(&[
        "run",
        "--rm",
        "box",
        "sh",
        "-c",
        "grep CapEff /proc/self/status",
    ]);
    assert_eq!(
        caps.split_whitespace().nth(1),
        Some("00000000a80425fb"),
        "{caps}"
    );
    let caps = w.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "box",
        "sh",
        "-c",
        "grep CapEff /proc/self/status",
    ]);
    assert_eq!(
        caps.split_whitespace().nth(1),
        Some("0000000000000000"),
        "{caps}"
    );
    // No host mounts, masked /proc paths, read-only /sys, seccomp on, no_new_privs.
    let mounts = w.ok(&["run", "--rm", "box", "cat", "/proc/mounts"]);
    let targets: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let allowed = [
        "/",
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
    ];
    for t in &targets {
        assert!(
            allowed.contains(t) || t.starts_with("/proc/") || t.starts_with("/sys/"),
            "unexpected mount {t}: {mounts}"
        );
    }
    let status = w.ok(&[
        "run",
        "--rm",
        "box",
        "sh",
        "-c",
        "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status",
    ]);
    assert!(status.contains("Seccomp:\t2"), "{status}");
    // Docker's default: no_new_privs only with --security-opt no-new-privileges.
    assert!(status.contains("NoNewPrivs:\t0"), "{status}");
    let (_, err) = w.fails(&[
        "run",
        "--rm",
        "box",
        "sh",
        "-c",
        "echo x > /sys/kernel/profiling",
    ]);
    assert!(
        err.contains("Read-only") || err.contains("read-only"),
        "{err}"
    );
    // Masked: /proc/interrupts reads empty.
    assert!(!std::fs::read_to_string("/proc/interrupts")
        .unwrap()
        .is_empty());
    assert_eq!(w.ok(&["run", "--rm", "box", "cat", "/proc/interrupts"]), "");
    // Seccomp refuses new namespaces without CAP_SYS_ADMIN; --privileged lifts it.
    let (_, err) = w.fails(&["run", "--rm", "box", "sh", "-c", "mount -t tmpfs none /mnt"]);
    assert!(
        err.contains("denied") || err.contains("not permitted"),
        "{err}"
    );
    w.ok(&[
        "run",
        "--rm",
        "--privileged",
        "box",
        "sh",
        "-c",
        "mkdir -p /mnt && mount -t tmpfs none /mnt",
    ]);
    // Read-only root filesystem.
    let (_, err) = w.fails(&["run", "--rm", "--read-only", "box", "touch", "/x"]);
    assert!(err.contains("Read-only"), "{err}");
    w.ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "box",
        "touch",
        "/scratch/x",
    ]);
    // The host network is not visible with --network none.
    let links = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "box",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(links.trim(), "lo");
}

#[test]
fn resource_limits_are_applied() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // /dev/shm: --shm-size, else Docker's 64 MiB.
    let shm = |extra: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(extra);
        a.extend(["box", "grep", " /dev/shm ", "/proc/mounts"]);
        w.ok(&a)
    };
    assert!(shm(&["--shm-size", "32m"]).contains("size=32768k"));
    assert!(shm(&[]).contains("size=65536k"));
    let id = w.ok(&[
        "run",
        "-d",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "box",
        "sleep",
        "60",
    ]);
    let id = id.trim();
    let layout_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let read = |ctrl: &str, file: &str| {
        let p = if layout_v2 {
            format!("/sys/fs/cgroup/wharf/{id}/{file}")
        } else {
            format!("/sys/fs/cgroup/{ctrl}/wharf/{id}/{file}")
        };
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .trim()
            .to_string()
    };
    if layout_v2 {
        assert_eq!(read("memory", "memory.max"), (64 << 20).to_string());
        assert_eq!(read("cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(
            read("memory", "memory.limit_in_bytes"),
            (64 << 20).to_string()
        );
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    }
    assert_eq!(read("pids", "pids.max"), "50");
    // Invalid values are refused with the flag named.
    let (code, err) = w.fails(&["run", "--memory", "12q", "box", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("--memory") && err.contains("12q"), "{err}");
    let (_, err) = w.fails(&["run", "--restart", "sometimes", "box", "true"]);
    assert!(err.contains("invalid restart policy"), "{err}");
    w.ok(&["rm", "-f", id]);
}

#[test]
fn restart_policy_counts_and_backoff() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "box",
        "sh",
        "-c",
        "exit 1",
    ]);
    // Like dockerd, wait returns at the first exit; the restarts follow.
    assert_eq!(w.ok(&["wait", "flaky"]).trim(), "1");
    assert_eq!(
        w.wait_for(
            "flaky",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            "2 exited 1",
            Duration::from_secs(20)
        ),
        "2 exited 1"
    );
    // Success ends on-failure; a manual stop ends always.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        "box",
        "true",
    ]);
    assert_eq!(w.ok(&["wait", "fine"]).trim(), "0");
    assert_eq!(w.inspect("fine", "{{.RestartCount}}"), "0");
    w.ok(&[
        "run",
        "-d",
        "--name",
        "forever",
        "--restart",
        "always",
        "box",
        "sh",
        "-c",
        "sleep 0.1",
    ]);
    let start = std::time::Instant::now();
    while w
        .inspect("forever", "{{.RestartCount}}")
        .parse::<i32>()
        .unwrap()
        < 2
    {
        assert!(start.elapsed() < Duration::from_secs(10), "no restarts");
        std::thread::sleep(Duration::from_millis(50));
    }
    w.ok(&["stop", "-t", "1", "forever"]);
    assert_eq!(w.inspect("forever", "{{.State.Status}}"), "exited");
}

#[test]
fn healthcheck_runs_first_probe_at_start_and_transitions() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // Interval 30 s: only an immediate first probe can make it healthy within the limit.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "h",
        "--health-cmd",
        "test -f /tmp/ready",
        "--health-interval",
        "30s",
        "--health-retries",
        "1",
        "box",
        "sh",
        "-c",
        "touch /tmp/ready; sleep 60",
    ]);
    assert_eq!(
        w.wait_for(
            "h",
            "{{.State.Health.Status}}",
            "healthy",
            Duration::from_secs(5)
        ),
        "healthy"
    );
    let ps = w.ok(&["ps"]);
    assert!(ps.contains("(healthy)"), "{ps}");
    // A failing probe: unhealthy after `retries` failures, with the probe's output kept.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "sick",
        "--health-cmd",
        "echo broken; exit 1",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "box",
        "sleep",
        "60",
    ]);
    assert_eq!(
        w.wait_for(
            "sick",
            "{{.State.Health.Status}}",
            "unhealthy",
            Duration::from_secs(5)
        ),
        "unhealthy"
    );
    let log = w.inspect("sick", "{{json .State.Health.Log}}");
    assert!(log.contains("broken"), "{log}");
    w.ok(&["rm", "-f", "h", "sick"]);
}

#[test]
fn logs_exec_and_lifecycle() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "-e",
        "A=1",
        "box",
        "sh",
        "-c",
        "echo one; echo two >&2; echo three; sleep 60",
    ]);
    let got = w.wait_for(
        "talker",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(5),
    );
    assert_eq!(got, "running");
    // Logs may take a moment to be written after start.
    let start = std::time::Instant::now();
    let mut out;
    loop {
        out = w.output(&["logs", "talker"]);
        if String::from_utf8_lossy(&out.stdout).contains("three")
            || start.elapsed() > Duration::from_secs(5)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\nthree\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "two\n");
    // stdout and stderr are separate pipes: only the order within a stream is defined.
    let tail = w.output(&["logs", "--tail", "1", "talker"]);
    let last = format!(
        "{}{}",
        String::from_utf8_lossy(&tail.stdout),
        String::from_utf8_lossy(&tail.stderr)
    );
    assert!(last == "three\n" || last == "two\n", "{last}");
    let ts = w.ok(&["logs", "-t", "talker"]);
    assert!(
        ts.lines()
            .all(|l| l.len() > 31 && l.as_bytes()[4] == b'-' && l.contains('T')),
        "{ts}"
    );
    // exec: output, env, exit code, user.
    assert_eq!(w.ok(&["exec", "talker", "sh", "-c", "echo $A"]), "1\n");
    assert_eq!(
        w.ok(&[
            "exec",
            "-e",
            "B=2",
            "-u",
            "nobody",
            "talker",
            "sh",
            "-c",
            "echo $B; id -u"
        ]),
        "2\n65534\n"
    );
    let (code, _) = w.fails(&["exec", "talker", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    // pause freezes every process; unpause thaws them.
    w.ok(&["pause", "talker"]);
    assert!(w.ok(&["ps"]).contains("(Paused)"));
    assert_eq!(w.inspect("talker", "{{.State.Status}}"), "paused");
    w.ok(&["unpause", "talker"]);
    assert_eq!(w.inspect("talker", "{{.State.Status}}"), "running");
    let top = w.ok(&["top", "talker"]);
    assert!(top.contains("sleep 60"), "{top}");
    assert!(top.starts_with("UID") && top.contains("STIME"), "{top}");
    // ps options go to the host's ps, as dockerd passes them; rows are the container's only.
    let top = w.ok(&["top", "talker", "-o", "pid,comm"]);
    let lines: Vec<&str> = top.lines().collect();
    assert!(lines[0].split_whitespace().eq(["PID", "COMMAND"]), "{top}");
    assert!(lines[1..].iter().any(|l| l.ends_with("sleep")), "{top}");
    assert!(!top.contains("wharf"), "a host process is listed: {top}");
    // stop / start / restart / rename / kill / rm.
    w.ok(&["stop", "-t", "1", "talker"]);
    assert_eq!(w.inspect("talker", "{{.State.Status}}"), "exited");
    w.ok(&["start", "talker"]);
    assert_eq!(w.inspect("talker", "{{.State.Running}}"), "true");
    // A start right after a stop is never undone by the end of the supervisor before it
    // (whose hang-up can be handled after the new start).
    for _ in 0..10 {
        w.ok(&["restart", "-t", "0", "talker"]);
        assert_eq!(w.ok(&["exec", "talker", "echo", "up"]), "up\n");
        assert_eq!(w.inspect("talker", "{{.State.Running}}"), "true");
    }
    w.ok(&["rename", "talker", "speaker"]);
    w.ok(&["kill", "speaker"]);
    assert_eq!(w.inspect("speaker", "{{.State.ExitCode}}"), "137");
    let (_, err) = w.fails(&["rm", "nosuch"]);
    assert!(err.contains("No such container: nosuch"), "{err}");
    w.ok(&["run", "-d", "--name", "busy", "box", "sleep", "60"]);
    let (_, err) = w.fails(&["rm", "busy"]);
    assert!(err.contains("container is running"), "{err}");
    let (_, err) = w.fails(&["run", "--name", "busy", "box", "true"]);
    assert!(err.contains("already in use"), "{err}");
    w.ok(&["rm", "-f", "busy", "speaker"]);
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

#[test]
fn stdin_is_forwarded_with_interactive() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let mut child = w
        .command()
        .args([
            "run",
            "-i",
            "--rm",
            "box",
            "sh",
            "-c",
            "sleep 0.2; cat; echo done",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from stdin\ndone\n");
}

#[test]
fn named_volumes_are_filled_from_the_image_and_persist() {
    let w = Wharf::new();
    let tar = w.dir.path().join("seeded.tar");
    common::busybox_rootfs_tar(&tar, &[("data/seed.txt", b"seeded\n")]);
    w.ok(&[
        "import",
        "-c",
        r#"CMD ["sh"]"#,
        "-c",
        "VOLUME /data",
        tar.to_str().unwrap(),
        "seeded",
    ]);
    w.ok(&[
        "run",
        "--rm",
        "-v",
        "store:/data",
        "seeded",
        "sh",
        "-c",
        "cat /data/seed.txt; echo more > /data/new.txt",
    ]);
    assert_eq!(
        w.ok(&[
            "run",
            "--rm",
            "-v",
            "store:/data",
            "seeded",
            "cat",
            "/data/new.txt",
            "/data/seed.txt"
        ]),
        "more\nseeded\n"
    );
    let ls = w.ok(&["volume", "ls"]);
    assert!(ls.contains("local") && ls.contains("store"), "{ls}");
    let mountpoint = w.inspect("store", "{{.Mountpoint}}");
    assert!(std::path::Path::new(&mountpoint).join("new.txt").exists());
    // An anonymous volume for the image's VOLUME, removed with rm -v.
    w.ok(&["run", "--name", "anon", "seeded", "ls", "/data"]);
    let mounts: serde_json::Value =
        serde_json::from_str(&w.inspect("anon", "{{json .Mounts}}")).unwrap();
    let anon = mounts[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64);
    assert!(w.ok(&["volume", "ls", "-q"]).contains(&anon));
    w.ok(&["rm", "-v", "anon"]);
    assert!(!w.ok(&["volume", "ls", "-q"]).contains(&anon));
    // In-use volumes cannot be removed; bind mounts; --mount with a missing source is refused.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "-v",
        "store:/data",
        "seeded",
        "sleep",
        "60",
    ]);
    let (_, err) = w.fails(&["volume", "rm", "store"]);
    assert!(err.contains("volume is in use"), "{err}");
    w.ok(&["rm", "-f", "user"]);
    w.ok(&["volume", "rm", "store"]);
    let host_dir = w.dir.path().join("bind");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("f"), "from host\n").unwrap();
    let bind = format!("{}:/mnt/h:ro", host_dir.display());
    assert_eq!(
        w.ok(&["run", "--rm", "-v", &bind, "seeded", "cat", "/mnt/h/f"]),
        "from host\n"
    );
    w.fails(&["run", "--rm", "-v", &bind, "seeded", "touch", "/mnt/h/g"]);
    let missing = format!("type=bind,source={}/nope,target=/x", w.dir.path().display());
    let (code, err) = w.fails(&["run", "--rm", "--mount", &missing, "seeded", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("bind source path does not exist"), "{err}");
}

#[test]
fn init_signals_ulimits_and_tty() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // --init: PID 1 is the reaping init, the command is its child, and SIGTERM reaches it.
    let out = w.ok(&[
        "run",
        "--rm",
        "--init",
        "box",
        "sh",
        "-c",
        "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let mut lines = out.lines();
    assert_ne!(lines.next(), Some("1"), "{out}");
    w.ok(&[
        "run", "-d", "--name", "sleepy", "--init", "box", "sleep", "60",
    ]);
    let start = std::time::Instant::now();
    w.ok(&["stop", "-t", "20", "sleepy"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "SIGTERM did not reach the command through --init"
    );
    assert_eq!(w.inspect("sleepy", "{{.State.ExitCode}}"), "143");
    // --stop-signal: the container's own choice of signal.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "trap",
        "--stop-signal",
        "USR1",
        "box",
        "sh",
        "-c",
        "trap 'exit 9' USR1; while true; do sleep 0.1; done",
    ]);
    w.wait_for(
        "trap",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    w.ok(&["stop", "-t", "20", "trap"]);
    assert_eq!(w.inspect("trap", "{{.State.ExitCode}}"), "9");
    // --ulimit
    assert_eq!(
        w.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=123:456",
            "box",
            "sh",
            "-c",
            "ulimit -n; ulimit -H -n"
        ]),
        "123\n456\n"
    );
    // -t: the container gets a terminal.
    let out = w.ok(&[
        "run",
        "--rm",
        "-t",
        "box",
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo tty",
    ]);
    assert_eq!(out.trim(), "tty");
    w.ok(&["rm", "sleepy", "trap"]);
}

#[test]
fn ps_filters_formats_and_events() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&[
        "run", "-d", "--name", "a1", "-l", "tier=web", "box", "sleep", "60",
    ]);
    w.ok(&[
        "run", "-d", "--name", "b1", "-l", "tier=db", "box", "sleep", "60",
    ]);
    w.ok(&["run", "--name", "c1", "box", "true"]);
    assert_eq!(
        w.ok(&["ps", "--filter", "label=tier=web", "--format", "{{.Names}}"]),
        "a1\n"
    );
    assert_eq!(
        w.ok(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}} {{.State}}"
        ]),
        "c1 exited\n"
    );
    assert_eq!(w.ok(&["ps", "--filter", "name=b", "-q"]).lines().count(), 1);
    let json = w.ok(&["ps", "--format", "json"]);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v["Names"].is_string() && v["Status"].as_str().unwrap().starts_with("Up"),
            "{line}"
        );
    }
    let table = w.ok(&["ps"]);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("CONTAINER ID   IMAGE     COMMAND"),
        "{header}"
    );
    assert!(header.ends_with("NAMES"), "{header}");
    // Events: a start and a die, streamed and filtered.
    let mut events = w
        .command()
        .args([
            "events",
            "--filter",
            "container=e1",
            "--format",
            "{{.Action}} {{.Time}} {{.Scope}}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    w.ok(&["run", "--name", "e1", "box", "true"]);
    std::thread::sleep(Duration::from_millis(300));
    events.kill().unwrap();
    let out = events.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for a in ["create", "start", "die"] {
        let line = lines.lines().find(|l| l.starts_with(&format!("{a} ")));
        let fields: Vec<&str> = line.unwrap_or_default().split(' ').collect();
        // {{.Time}} is the event's Unix time, as docker's template field names it.
        let time: i64 = fields.get(1).and_then(|t| t.parse().ok()).unwrap_or(0);
        assert!((now - time).abs() < 60, "{a}: {lines}");
        assert_eq!(fields.get(2), Some(&"local"), "{lines}");
    }
    w.ok(&["rm", "-f", "a1", "b1", "c1", "e1"]);
}
