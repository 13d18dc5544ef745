//! Debian's docker-compose 1.29 (its own docker-py inside) as a client of `wharf daemon`
//! (issue 12): the everyday flow on a stack with a healthcheck-gated dependency, a named
//! volume, a custom network and a published port: `up -d` twice (the second changes nothing),
//! `up --scale`, `run`, `port`, `stop`/`start`, `restart`, `logs -f`, `down -v`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use common::Wharf;

const COMPOSE: &str = "/usr/bin/docker-compose";

// `init: true`: httpd as PID 1 would ignore the stop signal and wait out the timeout.
const STACK: &str = r#"version: "2.4"
services:
  db:
    image: box
    init: true
    command: sh -c 'echo db started; echo ready > /data/state; exec httpd -f -p 8080 -h /data'
    volumes:
      - dbdata:/data
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/state"]
      interval: 1s
      retries: 30
  web:
    image: box
    init: true
    command: sh -c 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www'
    depends_on:
      db:
        condition: service_healthy
    networks: [back]
    ports:
      - "127.0.0.1::80"
volumes:
  dbdata:
networks:
  back:
"#;

struct V1<'a> {
    w: &'a Wharf,
    dir: std::path::PathBuf,
}

impl V1<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(COMPOSE);
        c.current_dir(&self.dir)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.w.socket().display()),
            )
            .env("COMPOSE_PROJECT_NAME", "v1flow")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running docker-compose")
    }

    /// Run and require success; returns stdout and stderr (compose reports on stderr).
    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "docker-compose {args:?}: {text}");
        text
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5", &format!("http://{addr}{path}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn docker_compose_1_29_runs_the_everyday_flow() {
    if !std::path::Path::new(COMPOSE).exists() {
        panic!("{COMPOSE} is missing: scripts/test installs Debian's docker-compose");
    }
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["version"]); // the daemon, which docker-compose does not start
    let dir = w.dir.path().join("v1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), STACK).unwrap();
    let c = V1 { w: &w, dir };
    let ids = || w.ok(&["ps", "-aq", "--no-trunc"]);

    // up -d: web waits for db's health.
    c.ok(&["up", "-d"]);
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Health.Status}}", "v1flow_db_1"])
            .trim(),
        "healthy"
    );
    let addr = c.ok(&["port", "web", "80"]);
    let addr = addr.trim();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(http_get(addr, "/index.html").trim(), "hello");
    // The second up changes nothing.
    let before = ids();
    let again = c.ok(&["up", "-d"]);
    assert!(again.contains("v1flow_db_1 is up-to-date"), "{again}");
    assert!(again.contains("v1flow_web_1 is up-to-date"), "{again}");
    assert_eq!(ids(), before);

    // --scale: a second db, the first one kept.
    c.ok(&["up", "-d", "--no-recreate", "--scale", "db=2"]);
    let ps = c.ok(&["ps", "-q"]);
    assert_eq!(
        ps.lines().filter(|l| !l.trim().is_empty()).count(),
        3,
        "{ps}"
    );

    // run: a one-off container on the network, the volume's data by service name.
    let out = c.ok(&["run", "--rm", "web", "wget", "-qO-", "http://db:8080/state"]);
    assert!(out.contains("ready"), "{out}");

    // stop, start, restart.
    c.ok(&["stop", "web"]);
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Running}}", "v1flow_web_1"])
            .trim(),
        "false"
    );
    c.ok(&["start", "web"]);
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Running}}", "v1flow_web_1"])
            .trim(),
        "true"
    );
    let started = || w.ok(&["inspect", "-f", "{{.State.StartedAt}}", "v1flow_db_1"]);
    let first = started();
    c.ok(&["restart", "db"]);
    assert_ne!(started(), first);
    let addr = c.ok(&["port", "web", "80"]);
    assert_eq!(http_get(addr.trim(), "/index.html").trim(), "hello");

    // A changed service is recreated: docker-compose 1.29 reads the image's ContainerConfig
    // (which dockerd shows below API 1.45) to carry the old container's volumes over.
    let web_id = || w.ok(&["inspect", "-f", "{{.Id}}", "v1flow_web_1"]);
    let old_web = web_id();
    let changed = STACK.replace(
        "    command: sh -c 'mkdir",
        "    environment: [CHANGED=1]\n    command: sh -c 'mkdir",
    );
    assert_ne!(changed, STACK);
    std::fs::write(c.dir.join("docker-compose.yml"), changed).unwrap();
    let out = c.ok(&["up", "-d"]);
    assert!(out.contains("Recreating v1flow_web_1"), "{out}");
    assert_ne!(web_id(), old_web);
    let addr = c.ok(&["port", "web", "80"]);
    assert_eq!(http_get(addr.trim(), "/index.html").trim(), "hello");

    // logs -f: the log so far, then it follows until stopped.
    let mut follow = c
        .command(&["logs", "-f", "--no-color", "db"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let mut read = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        read.push(line);
        if read
            .last()
            .is_some_and(|l| l.contains("db_") && l.contains("db started"))
        {
            break;
        }
    }
    assert!(
        read.last().is_some_and(|l| l.contains("db started")),
        "logs -f shows the db containers' output: {read:?}"
    );
    assert!(
        follow.try_wait().unwrap().is_none(),
        "logs -f keeps following"
    );
    let _ = follow.kill();
    let _ = follow.wait();

    // down -v: nothing of the project is left.
    c.ok(&["down", "-v"]);
    assert_eq!(ids().trim(), "");
    let volumes = w.ok(&["volume", "ls", "-q"]);
    assert!(!volumes.contains("v1flow"), "{volumes}");
    let networks = w.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("v1flow"), "{networks}");
}
