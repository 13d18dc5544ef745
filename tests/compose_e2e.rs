//! End-to-end compose tests on real containers: each test has its own engine (daemon, root)
//! and busybox image.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use compose_helpers::{cmd, engine, http_get, Proj, LOOP};

#[test]
fn health_chain_one_shot_and_noop_second_up() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  db:
    image: busybox
    command: {db}
    healthcheck:
      test: ["CMD", "test", "-f", "/data/db-ready"]
      interval: 1s
      retries: 5
    volumes: [shared:/data]
  migrate:
    image: busybox
    command: {migrate}
    volumes: [shared:/data]
    depends_on:
      db: {{condition: service_healthy}}
  api:
    image: busybox
    command: {api}
    healthcheck:
      test: ["CMD", "test", "-f", "/data/api-ready"]
      interval: 1s
      retries: 5
    volumes: [shared:/data]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
      db: {{condition: service_healthy}}
  web:
    image: busybox
    command: {web}
    volumes: [shared:/data]
    depends_on:
      api: {{condition: service_healthy}}
volumes:
  shared:
"#,
        db = cmd(&format!("touch /data/db-ready; {LOOP}")),
        migrate =
            cmd("test -f /data/db-ready || exit 7; sleep 0.3; touch /data/migrated; echo migrated"),
        api = cmd(&format!(
            "test -f /data/migrated || exit 9; touch /data/api-ready; {LOOP}"
        )),
        web = cmd(&format!(
            "test -f /data/api-ready || exit 11; echo web-up; {LOOP}"
        )),
    );
    let p = Proj::new(&w, "chain", &yaml);
    let (_, err) = p.ok(&["up", "-d"]);
    assert!(err.contains("Container chain-db-1  Healthy"), "{err}");
    assert!(err.contains("Container chain-migrate-1  Exited"), "{err}");
    assert_eq!(
        w.inspect("chain-db-1", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert_eq!(p.state("chain-migrate-1"), "exited");
    assert_eq!(w.inspect("chain-migrate-1", "{{.State.ExitCode}}"), "0");
    assert_eq!(p.state("chain-api-1"), "running");
    assert_eq!(p.state("chain-web-1"), "running");
    let (logs, _) = p.ok(&["logs", "migrate", "web"]);
    assert!(logs.contains("migrate  | migrated"), "{logs}");
    assert!(logs.contains("web      | web-up"), "{logs}");
    // labels as docker compose writes them
    let labels: serde_json::Value =
        serde_json::from_str(&w.inspect("chain-web-1", "{{json .Config.Labels}}")).unwrap();
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.project"], "chain");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert!(
        labels["com.docker.compose.config-hash"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );

    // the second up changes nothing
    let before = p.ids();
    let start = Instant::now();
    let (_, err) = p.ok(&["up", "-d"]);
    let took = start.elapsed();
    assert_eq!(p.ids(), before);
    for word in ["Created", "Started", "Recreate", "Stopped", "Removed"] {
        assert!(!err.contains(word), "second up did {word}: {err}");
    }
    eprintln!("no-op up -d took {took:?}");

    // ps
    let (ps, _) = p.ok(&["ps", "--services"]);
    assert_eq!(ps.lines().collect::<Vec<_>>(), vec!["api", "db", "web"]);
    let (ps, _) = p.ok(&["ps", "-a", "--format", "json"]);
    let rows: Vec<serde_json::Value> = ps
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert!(rows
        .iter()
        .any(|r| r["Service"] == "migrate" && r["ExitCode"] == 0));

    p.ok(&["down", "-v"]);
    assert!(p.ids().is_empty());
    assert!(p.volumes().is_empty());
}

#[test]
fn config_and_env_file_changes_recreate_only_what_needs_it() {
    let w = engine();
    let yaml = |x: &str| {
        format!(
            r#"
services:
  a:
    image: busybox
    command: {c}
    environment:
      X: "{x}"
  b:
    image: busybox
    command: {c}
    env_file: [b.env]
  c:
    image: busybox
    command: {c}
    depends_on: [b]
"#,
            c = cmd(LOOP)
        )
    };
    let p = Proj::new(&w, "recreate", &yaml("1"));
    p.write("b.env", "B=one\n");
    p.ok(&["up", "-d"]);
    let v0 = p.ids();
    assert_eq!(v0.len(), 3);

    // a's config changes: only a is recreated
    p.write("compose.yaml", &yaml("2"));
    let (_, err) = p.ok(&["up", "-d"]);
    assert!(err.contains("Container recreate-a-1  Recreated"), "{err}");
    let v1 = p.ids();
    assert_ne!(v1["recreate-a-1"], v0["recreate-a-1"]);
    assert_eq!(v1["recreate-b-1"], v0["recreate-b-1"]);
    assert_eq!(v1["recreate-c-1"], v0["recreate-c-1"]);
    assert_eq!(
        p.ok(&["exec", "-T", "a", "sh", "-c", "echo $X"]).0.trim(),
        "2"
    );

    // the env_file's content changes (not its path): b is recreated, its dependant is not
    p.write("b.env", "B=two\n");
    p.ok(&["up", "-d"]);
    let v2 = p.ids();
    assert_eq!(v2["recreate-a-1"], v1["recreate-a-1"]);
    assert_ne!(v2["recreate-b-1"], v1["recreate-b-1"]);
    assert_eq!(v2["recreate-c-1"], v1["recreate-c-1"]);
    assert_eq!(
        p.ok(&["exec", "-T", "b", "sh", "-c", "echo $B"]).0.trim(),
        "two"
    );
    for c in ["recreate-a-1", "recreate-b-1", "recreate-c-1"] {
        assert_eq!(p.state(c), "running");
    }
    p.ok(&["down"]);
    assert!(p.ids().is_empty());
}

#[test]
fn wait_flag_and_unhealthy_dependency() {
    let w = engine();
    let sick = format!(
        r#"
services:
  sick:
    image: busybox
    command: {c}
    healthcheck:
      test: ["CMD-SHELL", "echo probe-says-no; exit 1"]
      interval: 1s
      retries: 1
  app:
    image: busybox
    command: {c}
    depends_on:
      sick: {{condition: service_healthy}}
"#,
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "health", &sick);
    let (_, _, err) = p.fails(&["up", "-d"]);
    assert!(err.contains("health-sick-1"), "{err}");
    assert!(err.contains("sick"), "{err}");
    assert!(err.contains("unhealthy"), "{err}");
    assert!(err.contains("probe-says-no"), "{err}");
    // the dependant was created, not started
    assert_eq!(p.state("health-app-1"), "created");

    // fixed: the next up completes what is there
    let fixed = sick.replace("echo probe-says-no; exit 1", "exit 0");
    p.write("compose.yaml", &fixed);
    let (_, _) = p.ok(&["up", "-d", "--wait"]);
    assert_eq!(
        w.inspect("health-sick-1", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert_eq!(p.state("health-app-1"), "running");

    // --wait on a service that never becomes healthy fails, naming it
    let never = format!(
        r#"
services:
  slow:
    image: busybox
    command: {c}
    healthcheck:
      test: ["CMD-SHELL", "echo not-yet; exit 1"]
      interval: 1s
      retries: 100
"#,
        c = cmd(LOOP)
    );
    let q = Proj::new(&w, "never", &never);
    let start = Instant::now();
    let (_, _, err) = q.fails(&["up", "-d", "--wait", "--wait-timeout", "2"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(err.contains("timeout"), "{err}");
    p.ok(&["down"]);
    q.ok(&["down"]);
    assert!(p.ids().is_empty() && q.ids().is_empty());
}

#[test]
fn run_rm_and_exit_code_from() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  db:
    image: busybox
    command: {loop_}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  tool:
    image: busybox
    command: ["echo", "default"]
    environment:
      GREETING: hello
    depends_on:
      db: {{condition: service_healthy}}
  tests:
    image: busybox
    command: {tests}
    depends_on: [db]
"#,
        loop_ = cmd(LOOP),
        tests = cmd("echo running-tests; sleep 0.5; exit 5"),
    );
    let p = Proj::new(&w, "oneoff", &yaml);
    let (out, _) = p.ok(&["run", "--rm", "tool", "sh", "-c", "echo $GREETING from run"]);
    assert_eq!(out.trim(), "hello from run");
    // the dependency was started and is healthy; the one-off container is gone
    assert_eq!(
        w.inspect("oneoff-db-1", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert!(
        p.ids().keys().all(|n| !n.contains("-run-")),
        "{:?}",
        p.ids()
    );
    let out = p.output(&[
        "run",
        "--rm",
        "-e",
        "CODE=3",
        "tool",
        "sh",
        "-c",
        "exit $CODE",
    ]);
    assert_eq!(out.status.code(), Some(3));

    // attached up with --exit-code-from: the exit code of that service, everything stopped
    let out = p.output(&["up", "--exit-code-from", "tests", "tests", "db"]);
    let so = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("tests  | running-tests"), "{so}");
    assert!(so.contains("tests exited with code 5"), "{so}");
    assert_eq!(p.state("oneoff-db-1"), "exited");
    p.ok(&["down"]);
    assert!(p.ids().is_empty());
}

#[test]
fn ctrl_c_in_attached_mode_stops_everything() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  talker:
    image: busybox
    command: {talker}
  stubborn:
    image: busybox
    command: {stubborn}
    stop_grace_period: 1s
"#,
        talker = cmd(
            "trap 'echo got-term; exit 0' TERM; echo talker-up; while true; do sleep 0.1; done"
        ),
        stubborn = cmd("echo stubborn-up; sleep 1000"),
    );
    let p = Proj::new(&w, "ctrlc", &yaml);
    let mut child = p
        .cmd(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // wait for both services' first lines
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(seen.iter().any(|l: &String| l.contains("talker-up"))
        && seen.iter().any(|l| l.contains("stubborn-up")))
    {
        assert!(Instant::now() < deadline, "no output: {seen:?}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(l);
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.push(l);
    }
    assert_eq!(status.code(), Some(130), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("got-term")), "{seen:?}");
    // nothing keeps running after the CLI exits
    assert_eq!(p.state("ctrlc-talker-1"), "exited");
    assert_eq!(p.state("ctrlc-stubborn-1"), "exited");
    p.ok(&["down"]);
}

#[test]
fn scale_and_orphans() {
    let w = engine();
    let two = format!(
        "services:\n  web:\n    image: busybox\n    command: {c}\n  worker:\n    image: busybox\n    command: {c}\n",
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "scaling", &two);
    p.ok(&["up", "-d", "--scale", "web=3"]);
    let ids = p.ids();
    assert!(ids.contains_key("scaling-web-3"), "{ids:?}");
    assert_eq!(ids.len(), 4);
    let (ps, _) = p.ok(&["ps", "-q", "web"]);
    assert_eq!(ps.lines().count(), 3);
    let (out, _) = p.ok(&["exec", "-T", "--index", "2", "web", "hostname"]);
    assert!(!out.trim().is_empty());
    p.ok(&["up", "-d", "--scale", "web=1"]);
    let after = p.ids();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after["scaling-web-1"], ids["scaling-web-1"]);

    // worker leaves the file: an orphan, removed only with --remove-orphans
    let one = format!(
        "services:\n  web:\n    image: busybox\n    command: {c}\n",
        c = cmd(LOOP)
    );
    p.write("compose.yaml", &one);
    let (_, err) = p.ok(&["up", "-d"]);
    assert!(
        err.contains("orphan") && err.contains("scaling-worker-1"),
        "{err}"
    );
    assert!(p.ids().contains_key("scaling-worker-1"));
    p.ok(&["up", "-d", "--remove-orphans"]);
    assert!(!p.ids().contains_key("scaling-worker-1"));
    p.ok(&["down"]);
    assert!(p.ids().is_empty());
}

#[test]
fn down_v_leaves_nothing() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  app:
    image: busybox
    command: {c}
    volumes:
      - data:/data
      - /anon
      - ./host:/host
    secrets: [token]
    configs:
      - source: settings
        target: /etc/app.conf
  side:
    image: busybox
    command: {c}
    volumes_from: [app]
volumes:
  data:
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    content: "mode=test"
"#,
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "leak", &yaml);
    p.write("token.txt", "s3cret");
    p.ok(&["up", "-d"]);
    let (out, _) = p.ok(&[
        "exec",
        "-T",
        "app",
        "cat",
        "/run/secrets/token",
        "/etc/app.conf",
    ]);
    assert_eq!(out, "s3cretmode=test");
    // volumes_from: side sees app's volumes
    p.ok(&["exec", "-T", "app", "sh", "-c", "echo shared > /data/f"]);
    assert_eq!(
        p.ok(&["exec", "-T", "side", "cat", "/data/f"]).0.trim(),
        "shared"
    );
    assert!(p.dir.join("host").is_dir(), "bind source created");
    assert_eq!(p.volumes(), vec!["leak_data".to_string()]);
    p.ok(&["down", "-v"]);
    assert!(p.ids().is_empty());
    let all_volumes = w.ok(&["volume", "ls", "-q"]);
    assert!(all_volumes.trim().is_empty(), "volumes left: {all_volumes}");
    let all = w.ok(&["ps", "-aq"]);
    assert!(all.trim().is_empty(), "containers left: {all}");
    let nets = w.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("leak_"), "networks left: {nets}");
    // down again: nothing to do, still fine
    p.ok(&["down", "-v"]);
}

#[test]
fn bad_input_creates_nothing() {
    let w = engine();
    // an unknown key: the error names the file and the key
    let p = Proj::new(
        &w,
        "bad",
        "services:\n  web:\n    image: busybox\n    volumes: [data:/data]\n    restrat: always\nvolumes:\n  data:\n",
    );
    let (_, _, err) = p.fails(&["up", "-d"]);
    assert!(err.contains("compose.yaml"), "{err}");
    assert!(
        err.contains("services.web") && err.contains("restrat"),
        "{err}"
    );
    assert!(p.ids().is_empty());
    assert!(p.volumes().is_empty());

    // an image that is not present and cannot be pulled: names the service and the image
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: busybox\n    volumes: [data:/data]\n  ghost:\n    image: example.invalid/nope:1\nvolumes:\n  data:\n",
    );
    let (_, _, err) = p.fails(&["up", "-d"]);
    assert!(
        err.contains("ghost") && err.contains("example.invalid/nope:1"),
        "{err}"
    );
    assert!(p.ids().is_empty(), "{:?}", p.ids());
    assert!(p.volumes().is_empty());

    // a build section without a Dockerfile: a clear error naming the service, nothing created
    p.write("compose.yaml", "services:\n  app:\n    build: .\n");
    let (_, _, err) = p.fails(&["up", "-d"]);
    assert!(
        err.contains("service \"app\"") && err.contains("Dockerfile"),
        "{err}"
    );
    assert!(p.ids().is_empty());

    // --dry-run prints the plan and creates nothing
    p.write("compose.yaml", "services:\n  web:\n    image: busybox\n");
    let (out, _) = p.ok(&["--dry-run", "up", "-d"]);
    assert!(out.contains("create container bad-web-1"), "{out}");
    assert!(p.ids().is_empty());
}

#[test]
fn top_level_commands_and_logs_follow_across_restarts() {
    let w = engine();
    let yaml = format!(
        "name: toplevel\nservices:\n  app:\n    image: busybox\n    command: {c}\n",
        c = cmd(&format!(
            "n=$$(cat /tmp/n 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > /tmp/n; echo started-$$n; {LOOP}"
        ))
    );
    let p = Proj::new(&w, "ignored", &yaml);
    let mut up = w.command();
    up.current_dir(&p.dir)
        .args(["up", "-d", "--progress", "plain"]);
    assert!(up.output().unwrap().status.success());
    assert_eq!(
        p.w.inspect("toplevel-app-1", "{{.State.Status}}"),
        "running"
    );

    // logs -f keeps following after a restart
    let mut follow = w.command();
    follow
        .current_dir(&p.dir)
        .args(["compose", "logs", "-f", "--no-log-prefix"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = follow.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "started-1");
    let mut restart = w.command();
    restart.current_dir(&p.dir).args(["compose", "restart"]);
    assert!(restart.output().unwrap().status.success());
    let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        second.starts_with("started-") && second != first,
        "{first} / {second}"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();

    let mut down = w.command();
    down.current_dir(&p.dir)
        .args(["down", "--progress", "plain"]);
    assert!(down.output().unwrap().status.success());
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]

fn service_names_resolve_across_services() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  server:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
  client:
    image: busybox
    command: {c}
    depends_on: [server]
"#,
        c = cmd(&format!(
            "wget -q -O /tmp/page http://server:8080/etc/passwd && {LOOP}"
        ))
    );
    let p = Proj::new(&w, "dns", &yaml);
    p.ok(&["up", "-d"]);
    let (out, _) = p.ok(&[
        "exec",
        "-T",
        "client",
        "wget",
        "-q",
        "-O",
        "-",
        "http://server:8080/etc/group",
    ]);
    assert!(out.contains("root"), "{out}");
    p.ok(&["down"]);
    // the project network is gone too
    assert!(!w
        .output(&["network", "inspect", "dns_default"])
        .status
        .success());
}

#[test]
fn wordpress_example_config_is_golden() {
    // `wharf config` needs no engine
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(root.join("examples/wordpress"))
        .args(["--run-root", "/nonexistent/wharf-run", "config"])
        .env_remove("WHARF_HOST")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .env_remove("DB_PASSWORD")
        .env_remove("DB_ROOT_PASSWORD")
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden_path = root.join("tests/data/compose-e2e/wordpress.config.yaml");
    if std::env::var_os("WHARF_BLESS").is_some() {
        std::fs::write(&golden_path, got.as_bytes()).unwrap();
    }
    let want = std::fs::read_to_string(&golden_path).unwrap();
    assert_eq!(
        got,
        want,
        "set WHARF_BLESS=1 to update {}",
        golden_path.display()
    );
    // the services, in start order
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(root.join("examples/wordpress"))
        .args([
            "--run-root",
            "/nonexistent/wharf-run",
            "compose",
            "config",
            "--services",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "db\nwordpress\n");
}

#[test]
fn daemon_killed_mid_up_then_next_up_completes() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  slow:
    image: busybox
    command: {slow}
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      retries: 20
  app:
    image: busybox
    command: {c}
    depends_on:
      slow: {{condition: service_healthy}}
"#,
        slow = cmd(&format!("sleep 2; touch /tmp/ok; {LOOP}")),
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "crash", &yaml);
    let child = p
        .cmd(&["up", "-d"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the daemon dies while `up` waits for slow to be healthy
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.ids().contains_key("crash-app-1") {
        assert!(Instant::now() < deadline, "app never created");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = w.daemon_pid().expect("daemon pid");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "up survived its daemon");
    // the next up starts a daemon again and completes the project
    p.ok(&["up", "-d"]);
    assert_eq!(
        w.inspect("crash-slow-1", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert_eq!(p.state("crash-app-1"), "running");
    p.ok(&["down"]);
    assert!(p.ids().is_empty());
}

#[test]
fn network_mode_service_and_published_ports() {
    let w = engine();
    let port = 21000 + w.slot;
    let yaml = format!(
        r#"
services:
  server:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    init: true
    ports: ["127.0.0.1:{port}:8080"]
  sidecar:
    image: busybox
    network_mode: "service:server"
    command: {c}
"#,
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "netmode", &yaml);
    p.ok(&["up", "-d"]);
    // the sidecar shares the server's network namespace: localhost is the server
    let sidecar_reaches_server = || {
        let (out, _) = p.ok(&[
            "exec",
            "-T",
            "sidecar",
            "wget",
            "-q",
            "-O",
            "-",
            "http://127.0.0.1:8080/group",
        ]);
        assert!(out.contains("root:x:0:"), "{out}");
    };
    sidecar_reaches_server();
    let (out, _) = p.ok(&["port", "server", "8080"]);
    assert_eq!(out.trim(), format!("127.0.0.1:{port}"));
    // and the published port answers on the host
    let body = http_get(port as u16, "/passwd");
    assert!(body.contains("root:x:0:0"), "{body}");
    // the server replaced alone: the next `up` replaces the sidecar holding its old namespace
    let before = p.ids();
    p.ok(&["up", "-d", "--no-deps", "--force-recreate", "server"]);
    let (out, _) = p.ok(&["up", "-d"]);
    let after = p.ids();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.iter().all(|(name, id)| before.get(name) != Some(id)),
        "{before:?} {after:?} {out}"
    );
    sidecar_reaches_server();
    let (out, _) = p.ok(&["up", "-d"]);
    assert_eq!(p.ids(), after, "a second up is a no-op: {out}");
    p.ok(&["down"]);
    assert!(p.ids().is_empty());
}

#[test]
fn build_sections_are_built_and_up_build_recreates_only_what_changed() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  app:
    build:
      context: ./app
      args: {{GREETING: hello}}
    command: {c}
  worker:
    build:
      context: ./worker
      dockerfile_inline: |
        FROM busybox
        RUN echo worker > /who
    command: {c}
  db:
    image: busybox
    command: {c}
"#,
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "builds", &yaml);
    p.write(
        "app/Dockerfile",
        "FROM busybox\nARG GREETING\nCOPY . /src/\nRUN echo \"$GREETING\" > /greeting\n",
    );
    p.write("app/msg", "v1\n");
    p.write("app/.dockerignore", "*.log\n");
    p.write("app/debug.log", "not sent\n");
    p.write("worker/.keep", "");
    // up builds the images it lacks (build-only services are named <project>-<service>)
    let (_, err) = p.ok(&["up", "-d"]);
    assert!(err.contains("Image builds-app  Built"), "{err}");
    let (out, _) = p.ok(&["exec", "-T", "app", "cat", "/src/msg", "/greeting"]);
    assert_eq!(out, "v1\nhello\n");
    let (out, _) = p.ok(&["exec", "-T", "worker", "cat", "/who"]);
    assert_eq!(out, "worker\n");
    // .dockerignore kept the log out of the context
    p.fails(&["exec", "-T", "app", "test", "-e", "/src/debug.log"]);
    p.ok(&["exec", "-T", "app", "test", "-e", "/src/Dockerfile"]);
    let ids = p.ids();
    // nothing changed: --build rebuilds from the cache into the same images, recreates nothing
    p.ok(&["up", "-d", "--build"]);
    assert_eq!(p.ids(), ids);
    // one source file changed: only app gets a new image and a new container
    p.write("app/msg", "v2\n");
    p.ok(&["up", "-d", "--build"]);
    let after = p.ids();
    assert_ne!(after["builds-app-1"], ids["builds-app-1"]);
    assert_eq!(after["builds-worker-1"], ids["builds-worker-1"]);
    assert_eq!(after["builds-db-1"], ids["builds-db-1"]);
    let (out, _) = p.ok(&["exec", "-T", "app", "cat", "/src/msg"]);
    assert_eq!(out, "v2\n");
    // compose build: --no-cache, and a failing build names the service and the step
    p.ok(&["build", "--no-cache", "app"]);
    p.write("app/Dockerfile", "FROM busybox\nRUN exit 3\n");
    let (_, _, err) = p.fails(&["build", "app"]);
    assert!(
        err.contains("service \"app\"") && err.contains("exit 3"),
        "{err}"
    );
    p.ok(&["down", "--rmi", "local"]);
    let images = w.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("builds-"), "{images}");
}

#[test]
fn ports_are_published_through_the_first_network_that_is_not_internal() {
    let w = engine();
    let port = 21500 + w.slot;
    let yaml = format!(
        r#"
services:
  server:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    init: true
    ports: ["127.0.0.1:{port}:8080"]
    networks: [aaa_internal, zzz_public]
  sealed:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    init: true
    ports: ["127.0.0.1:{}:8080"]
    networks: [aaa_internal]
    profiles: [sealed]
networks:
  aaa_internal:
    internal: true
  zzz_public: {{}}
"#,
        port + 1
    );
    let p = Proj::new(&w, "ports", &yaml);
    p.ok(&["up", "-d"]);
    // The networks sort by name, so the internal one comes first; the port still answers.
    assert!(http_get(port as u16, "/passwd").contains("root:x:0:0"));
    // and again after a restart (the ports come back on the same network)
    p.ok(&["restart", "server"]);
    assert!(http_get(port as u16, "/passwd").contains("root:x:0:0"));
    // A container whose only networks are internal cannot publish: a clear error, not silence.
    let out = p.output(&["--profile", "sealed", "up", "-d", "sealed"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("all of its networks are internal (ports_aaa_internal)"),
        "{err}"
    );
    p.ok(&["--profile", "sealed", "down"]);
    assert!(p.ids().is_empty());
}
