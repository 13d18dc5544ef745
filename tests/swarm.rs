//! `wharf stack` against a real Docker Swarm: Debian's dockerd 20.10 in a network namespace of
//! the test's own (its iptables rules, bridges, ingress and overlay networks stay there), with
//! its own data and exec roots, `swarm init`ed, and a docker-registry in the same namespace
//! that `wharf push` fills. A three-service stack (overlay networks, a secret, a config, two
//! replicas, a global service, healthchecks) is deployed and checked through the API,
//! compared field by field with what the docker 28 CLI's `docker stack deploy` makes of the
//! same file, redeployed with one image changed, and removed without a trace.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{busybox_rootfs_tar, Wharf};
use serde_json::Value;

const DOCKER_CLI: &str = "/usr/local/bin/docker";
const REGISTRY: &str = "127.0.0.1:5000";

/// dockerd in swarm mode and a registry, in a network namespace of their own.
struct Swarm {
    netns: String,
    dir: tempfile::TempDir,
    dockerd: Option<Child>,
    registry: Option<Child>,
    cgroup_parent: String,
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("running a command")
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `program args` inside `netns`, its standard error to `stderr` (else dropped).
fn spawn_in(netns: &str, program: &str, args: &[&str], stderr: Option<std::fs::File>) -> Child {
    Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.map(Stdio::from).unwrap_or_else(Stdio::null))
        .spawn()
        .expect("nsenter")
}

impl Swarm {
    fn start() -> Swarm {
        let netns = format!("wharf-swarm-{}", std::process::id());
        let _ = run(Command::new("ip").args(["netns", "del", &netns]));
        ok(Command::new("ip").args(["netns", "add", &netns]));
        // a short path: containerd's sockets live under the exec root
        let dir = tempfile::Builder::new()
            .prefix("wsw-")
            .tempdir_in("/tmp")
            .unwrap();
        let mut swarm = Swarm {
            netns: netns.clone(),
            dir,
            dockerd: None,
            registry: None,
            cgroup_parent: format!("wharf-swarm-{}", std::process::id()),
        };
        let ns = netns.as_str();
        ok(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
        // the address the swarm advertises (a veth pair inside the namespace)
        ok(Command::new("ip").args([
            "-n", ns, "link", "add", "s0", "type", "veth", "peer", "name", "s1",
        ]));
        ok(Command::new("ip").args(["-n", ns, "addr", "add", "10.251.0.1/24", "dev", "s0"]));
        ok(Command::new("ip").args(["-n", ns, "link", "set", "s0", "up"]));
        ok(Command::new("ip").args(["-n", ns, "link", "set", "s1", "up"]));

        let d = swarm.dir.path().to_path_buf();
        let reg = d.join("registry.yml");
        std::fs::write(
            &reg,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {REGISTRY}\n",
                d.join("blobs").display()
            ),
        )
        .unwrap();
        swarm.registry = Some(spawn_in(
            ns,
            "docker-registry",
            &["serve", reg.to_str().unwrap()],
            None,
        ));
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let host = swarm.host();
        swarm.dockerd = Some(spawn_in(
            ns,
            "dockerd",
            &[
                "--data-root",
                d.join("data").to_str().unwrap(),
                "--exec-root",
                d.join("exec").to_str().unwrap(),
                "--pidfile",
                d.join("dockerd.pid").to_str().unwrap(),
                "-H",
                &host,
                "--cgroup-parent",
                &swarm.cgroup_parent,
            ],
            Some(log),
        ));
        let start = Instant::now();
        while !run(swarm.docker().arg("version")).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "dockerd did not start: {}",
                std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ok(swarm
            .docker()
            .args(["swarm", "init", "--advertise-addr", "10.251.0.1"]));
        swarm
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The docker 28 CLI against this swarm.
    fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER_CLI);
        c.arg("-H")
            .arg(self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_HOST");
        c
    }

    fn inspect(&self, kind: &str, name: &str) -> Value {
        let out = ok(self.docker().args([kind, "inspect", name]));
        serde_json::from_str::<Value>(&out).unwrap()[0].clone()
    }

    /// Names of objects of `kind` (service, network, secret, config) labelled with `stack`.
    fn labelled(&self, kind: &str, stack: &str) -> Vec<String> {
        let out = ok(self.docker().args([
            kind,
            "ls",
            "--filter",
            &format!("label=com.docker.stack.namespace={stack}"),
            "--format",
            "{{.Name}}",
        ]));
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v
    }

    /// Running tasks of a service: id → image.
    fn running_tasks(&self, service: &str) -> BTreeMap<String, String> {
        let out = ok(self.docker().args([
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.CurrentState}} {{.Image}}",
        ]));
        out.lines()
            .filter(|l| l.contains(" Running "))
            .map(|l| {
                let mut f = l.split_whitespace();
                (f.next().unwrap().to_string(), f.last().unwrap().to_string())
            })
            .collect()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if let Some(mut dockerd) = self.dockerd.take() {
            let _ = run(self.docker().args(["swarm", "leave", "--force"]));
            unsafe { libc::kill(dockerd.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while dockerd.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(30) {
                    let _ = dockerd.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = dockerd.wait();
        }
        if let Some(mut registry) = self.registry.take() {
            let _ = registry.kill();
            let _ = registry.wait();
        }
        // whatever dockerd left mounted under its roots, then the namespace and cgroups
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let root = self.dir.path().display().to_string();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let _ = run(Command::new("umount").args(["-l", m]));
        }
        let _ = run(Command::new("ip").args(["netns", "del", &self.netns]));
        let cgroups = Path::new("/sys/fs/cgroup");
        for ctrl in std::fs::read_dir(cgroups).into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(ctrl.path().join(&self.cgroup_parent));
        }
        let _ = std::fs::remove_dir(cgroups.join(&self.cgroup_parent));
    }
}

/// wharf, run inside the swarm's namespace (so its daemon, started on first use, reaches the
/// registry there).
fn wharf_cmd(w: &Wharf, s: &Swarm, args: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{}", s.netns))
        .arg(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(&w.root)
        .arg("--run-root")
        .arg(&w.run_root)
        .args(args)
        .env("DOCKER_CONFIG", s.dir.path().join("docker-config"))
        .env_remove("WHARF_HOST")
        .env_remove("DOCKER_HOST");
    c
}

fn wharf(w: &Wharf, s: &Swarm, args: &[&str]) -> Output {
    run(&mut wharf_cmd(w, s, args))
}

fn wharf_ok(w: &Wharf, s: &Swarm, args: &[&str]) -> String {
    ok(&mut wharf_cmd(w, s, args))
}

/// `wharf stack deploy --detach=false` of `file` as `stack`, required to succeed.
fn deploy_and_wait(w: &Wharf, s: &Swarm, file: &str, stack: &str) -> String {
    let host = s.host();
    wharf_ok(
        w,
        s,
        &[
            "-H",
            &host,
            "stack",
            "deploy",
            "-c",
            file,
            "--detach=false",
            stack,
        ],
    )
}

/// `image:tag` from busybox with a label of its own (so each tag has its own digest), pushed
/// to the swarm's registry by wharf.
fn push_image(w: &Wharf, s: &Swarm, tag: &str) {
    let tar = w.dir.path().join(format!("{tag}.tar"));
    busybox_rootfs_tar(&tar, &[]);
    let name = format!("{REGISTRY}/box:{tag}");
    wharf_ok(
        w,
        s,
        &[
            "import",
            "-c",
            r#"CMD ["sh"]"#,
            "-c",
            &format!("LABEL version={tag}"),
            tar.to_str().unwrap(),
            &name,
        ],
    );
    wharf_ok(w, s, &["push", &name]);
}

const STACK: &str = r#"
services:
  web:
    image: 127.0.0.1:5000/box:1
    command: [sh, -c, "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["8080:8080"]
    networks: [front, back]
    environment:
      MODE: web
    healthcheck:
      test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 20
    deploy:
      replicas: 2
      labels: {tier: front}
      update_config: {parallelism: 1, order: start-first}
      resources: {limits: {memory: 64M}}
  api:
    image: 127.0.0.1:5000/box:1
    command: [sh, -c, "test -f /run/secrets/pw && test -f /app.conf && exec sleep 100000"]
    networks:
      back:
        aliases: [backend]
    secrets: [pw]
    configs: [{source: cfg, target: /app.conf}]
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, test, -f, /run/secrets/pw]
      interval: 1s
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 3}
  worker:
    image: 127.0.0.1:5000/box:1
    command: [sleep, "100000"]
    stop_signal: SIGKILL
    networks: [back]
    deploy:
      mode: global
      placement: {constraints: [node.role == manager]}
networks:
  front: {}
  back:
    labels: {purpose: internal}
secrets:
  pw:
    file: ./pw.txt
configs:
  cfg:
    file: ./app.conf
"#;

/// A service's spec as the swarm stores it, with the stack's name, the registry's digest and
/// the ids of secrets, configs and networks made neutral, for comparing two stacks.
fn neutral_spec(s: &Swarm, stack: &str, service: &str) -> Value {
    let mut spec = s.inspect("service", &format!("{stack}_{service}"))["Spec"].clone();
    let t = &mut spec["TaskTemplate"];
    for net in t["Networks"].as_array_mut().into_iter().flatten() {
        let id = net["Target"].as_str().unwrap().to_string();
        net["Target"] = s.inspect("network", &id)["Name"].clone();
    }
    for sec in t["ContainerSpec"]["Secrets"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        sec["SecretID"] = Value::Null;
    }
    for cfg in t["ContainerSpec"]["Configs"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        cfg["ConfigID"] = Value::Null;
    }
    let text = serde_json::to_string(&spec)
        .unwrap()
        .replace(&format!("\"{stack}_"), "\"STACK_")
        .replace(&format!("\"{stack}\""), "\"STACK\"");
    serde_json::from_str(&text).unwrap()
}

/// Every leaf where `a` and `b` differ, as `path: a != b`.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: wharf {a} != docker {b}")),
        _ => {}
    }
}

#[test]
fn a_stack_deploys_to_a_swarm_as_docker_deploys_it_updates_in_place_and_leaves_nothing() {
    let w = Wharf::new();
    let s = Swarm::start();
    push_image(&w, &s, "1");
    push_image(&w, &s, "2");
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("compose.yaml");
    std::fs::write(&file, STACK).unwrap();
    std::fs::write(project.path().join("pw.txt"), "hunter2").unwrap();
    std::fs::write(project.path().join("app.conf"), "level=debug\n").unwrap();
    let file = file.to_str().unwrap();
    let host = s.host();

    // wharf's own engine is no swarm: a clear refusal
    let out = wharf(&w, &s, &["stack", "deploy", "-c", file, "shop"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wharf's own engine"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = deploy_and_wait(&w, &s, file, "shop");
    for line in [
        "Creating network shop_back",
        "Creating network shop_front",
        "Creating secret shop_pw",
        "Creating config shop_cfg",
        "Creating service shop_web",
        "shop_web: converged",
        "shop_api: converged",
        "shop_worker: converged",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }

    // what the swarm holds, through the API
    assert_eq!(
        s.labelled("service", "shop"),
        ["shop_api", "shop_web", "shop_worker"]
    );
    assert_eq!(s.labelled("network", "shop"), ["shop_back", "shop_front"]);
    assert_eq!(s.labelled("secret", "shop"), ["shop_pw"]);
    assert_eq!(s.labelled("config", "shop"), ["shop_cfg"]);
    let back = s.inspect("network", "shop_back");
    assert_eq!(back["Driver"], "overlay");
    assert_eq!(back["Scope"], "swarm");
    assert_eq!(back["Labels"]["purpose"], "internal");
    let web = s.inspect("service", "shop_web");
    assert_eq!(web["Spec"]["Mode"]["Replicated"]["Replicas"], 2);
    assert_eq!(web["Spec"]["Labels"]["tier"], "front");
    assert_eq!(
        web["Spec"]["Labels"]["com.docker.stack.image"],
        "127.0.0.1:5000/box:1"
    );
    let image = web["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        image.starts_with("127.0.0.1:5000/box:1@sha256:"),
        "the image is pinned to the registry's digest: {image}"
    );
    assert_eq!(web["Endpoint"]["Ports"][0]["PublishedPort"], 8080, "{web}");
    assert_eq!(s.running_tasks("shop_web").len(), 2);
    assert_eq!(s.running_tasks("shop_api").len(), 1);
    assert_eq!(s.running_tasks("shop_worker").len(), 1);
    let api = s.inspect("service", "shop_api");
    let secret = &api["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0];
    assert_eq!(secret["SecretName"], "shop_pw");
    assert_eq!(secret["SecretID"], s.inspect("secret", "shop_pw")["ID"]);
    assert_eq!(
        api["Spec"]["TaskTemplate"]["Networks"][0]["Aliases"],
        serde_json::json!(["backend", "api"])
    );

    // wharf's views
    let ls = wharf_ok(&w, &s, &["-H", &host, "stack", "ls"]);
    assert!(
        ls.lines().any(|l| l.split_whitespace().eq(["shop", "3"])),
        "{ls}"
    );
    let services = wharf_ok(&w, &s, &["-H", &host, "stack", "services", "shop"]);
    assert!(
        services.lines().any(|l| l.contains("shop_web")
            && l.contains(" 2/2 ")
            && l.contains("*:8080->8080/tcp")),
        "{services}"
    );
    assert!(
        services
            .lines()
            .any(|l| l.contains("shop_worker") && l.contains("global") && l.contains(" 1/1 ")),
        "{services}"
    );
    let ps = wharf_ok(&w, &s, &["-H", &host, "stack", "ps", "shop"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("ID") && l.contains("DESIRED STATE")),
        "{ps}"
    );
    assert_eq!(
        ps.lines()
            .filter(|l| l.contains("Running   ") && l.contains("Running "))
            .count(),
        4,
        "{ps}"
    );

    // the docker CLI's stack deploy of the same file makes the same specs (on another
    // published port: a swarm's ingress port belongs to one service)
    let docker_file = project.path().join("docker.yaml");
    std::fs::write(
        &docker_file,
        STACK.replace("\"8080:8080\"", "\"8081:8080\""),
    )
    .unwrap();
    ok(s.docker().args([
        "stack",
        "deploy",
        "-c",
        docker_file.to_str().unwrap(),
        "dshop",
    ]));
    for svc in ["web", "api", "worker"] {
        let mut theirs = neutral_spec(&s, "dshop", svc);
        for p in theirs["EndpointSpec"]["Ports"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if p["PublishedPort"] == 8081 {
                p["PublishedPort"] = 8080.into();
            }
        }
        let mut diffs = Vec::new();
        differences(&neutral_spec(&s, "shop", svc), &theirs, svc, &mut diffs);
        assert!(diffs.is_empty(), "specs differ:\n{}", diffs.join("\n"));
    }
    ok(s.docker().args(["stack", "rm", "dshop"]));

    // one image changed: only that service's tasks are replaced
    let web_tasks = s.running_tasks("shop_web");
    let worker_tasks = s.running_tasks("shop_worker");
    let api_tasks = s.running_tasks("shop_api");
    let web_spec = s.inspect("service", "shop_web")["Spec"].clone();
    std::fs::write(
        project.path().join("compose.yaml"),
        STACK.replacen(
            "image: 127.0.0.1:5000/box:1\n    command: [sh, -c, \"test",
            "image: 127.0.0.1:5000/box:2\n    command: [sh, -c, \"test",
            1,
        ),
    )
    .unwrap();
    let out = deploy_and_wait(&w, &s, file, "shop");
    assert!(out.contains("Updating service shop_api (id: "), "{out}");
    assert_eq!(s.running_tasks("shop_web"), web_tasks);
    assert_eq!(s.running_tasks("shop_worker"), worker_tasks);
    assert_eq!(s.inspect("service", "shop_web")["Spec"], web_spec);
    let new_api = s.running_tasks("shop_api");
    assert_eq!(new_api.len(), 1);
    assert!(new_api.keys().all(|id| !api_tasks.contains_key(id)));
    assert!(new_api
        .values()
        .all(|i| i.starts_with("127.0.0.1:5000/box:2@sha256:")));

    // a task that fails is named with the swarm's error
    let bad = project.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "services:\n  crash:\n    image: 127.0.0.1:5000/box:1\n    command: [sh, -c, 'exit 3']\n    deploy:\n      restart_policy: {condition: none}\n",
    )
    .unwrap();
    let out = wharf(
        &w,
        &s,
        &[
            "-H",
            &host,
            "stack",
            "deploy",
            "-c",
            bad.to_str().unwrap(),
            "--detach=false",
            "bad",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad_crash.1"), "{err}");
    assert!(err.contains("non-zero exit (3)"), "{err}");
    wharf_ok(&w, &s, &["-H", &host, "stack", "rm", "bad"]);

    // rm leaves nothing of the stack
    let out = wharf_ok(&w, &s, &["-H", &host, "stack", "rm", "shop"]);
    assert!(out.contains("Removing service shop_web"), "{out}");
    assert!(out.contains("Removing network shop_front"), "{out}");
    for kind in ["service", "network", "secret", "config"] {
        // The node drops its copy of a removed overlay network a moment after the swarm
        // removed it (a busy machine: up to a few seconds): wait for that, bounded.
        let deadline = Instant::now() + Duration::from_secs(20);
        let left = |stack| loop {
            let left = s.labelled(kind, stack);
            if left.is_empty() || kind != "network" || Instant::now() > deadline {
                break left;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(left("shop").is_empty(), "{kind} left");
        assert!(left("bad").is_empty(), "{kind} of bad left");
    }
    // services go at once; a swarm drops its tasks' records a moment later, so tasks may
    // still be listed, but none of them running (what docker's rm waits for too)
    let out = wharf(&w, &s, &["-H", &host, "stack", "services", "shop"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Nothing found in stack: shop"), "{err}");
    let ps = wharf_ok(
        &w,
        &s,
        &[
            "-H",
            &host,
            "stack",
            "ps",
            "shop",
            "--format",
            "{{.CurrentState}}",
        ],
    );
    assert!(!ps.contains("Running"), "{ps}");
    assert!(!wharf_ok(&w, &s, &["-H", &host, "stack", "ls"]).contains("shop"));
}

#[test]
fn keys_a_swarm_cannot_take_are_named_with_their_lines() {
    let w = Wharf::new();
    let s = Swarm::start();
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("compose.yaml");
    // no image: refused before anything is made
    std::fs::write(&file, "services:\n  web:\n    build: .\n").unwrap();
    let file = file.to_str().unwrap();
    let out = wharf(
        &w,
        &s,
        &["-H", &s.host(), "stack", "deploy", "-c", file, "shop"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("compose.yaml:2"), "{err}");
    assert!(err.contains("services.web.image"), "{err}");
    for kind in ["service", "network", "secret", "config"] {
        assert!(s.labelled(kind, "shop").is_empty(), "{kind} created");
    }
    // keys without a swarm equivalent: each warned once with its line, the rest deployed
    std::fs::write(
        project.path().join("compose.yaml"),
        "services:\n  web:\n    image: 127.0.0.1:5000/none:1\n    build: .\n    privileged: true\n    depends_on: [db]\n  db:\n    image: 127.0.0.1:5000/none:1\n",
    )
    .unwrap();
    let out = wharf(
        &w,
        &s,
        &["-H", &s.host(), "stack", "deploy", "-c", file, "shop"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for (line, key) in [
        (4, "services.web.build"),
        (5, "services.web.privileged"),
        (6, "services.web.depends_on"),
    ] {
        let hits: Vec<&str> = err.lines().filter(|l| l.contains(key)).collect();
        assert_eq!(hits.len(), 1, "{key} once: {err}");
        assert!(
            hits[0].contains(&format!("compose.yaml:{line}")),
            "{}",
            hits[0]
        );
    }
    assert!(err.contains("could not be accessed on a registry"), "{err}");
    assert_eq!(s.labelled("service", "shop"), ["shop_db", "shop_web"]);
    wharf_ok(&w, &s, &["-H", &s.host(), "stack", "rm", "shop"]);
    assert!(s.labelled("network", "shop").is_empty());
}

#[test]
fn deploy_build_builds_on_wharf_pushes_and_the_swarm_runs_it() {
    let w = Wharf::new();
    let s = Swarm::start();
    push_image(&w, &s, "1");
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("app")).unwrap();
    std::fs::write(
        project.path().join("app/Dockerfile"),
        "FROM 127.0.0.1:5000/box:1\nARG FLAVOUR\nRUN echo \"built $FLAVOUR\" > /built\nCMD [\"sleep\", \"1000\"]\n",
    )
    .unwrap();
    let file = project.path().join("compose.yaml");
    std::fs::write(
        &file,
        "services:\n  app:\n    image: 127.0.0.1:5000/app:1\n    build:\n      context: ./app\n      args: {FLAVOUR: by-wharf}\n    healthcheck: {test: [CMD, grep, -q, built, /built], interval: 1s}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let host = s.host();
    let out = wharf(
        &w,
        &s,
        &[
            "-H",
            &host,
            "stack",
            "deploy",
            "-c",
            file,
            "--build",
            "--detach=false",
            "built",
        ],
    );
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}");
    assert!(stdout.contains("Creating service built_app"), "{stdout}");
    // with --build the key is carried over; without, it is named as left out
    assert!(!err.contains("services.app.build"), "{err}");
    let out = wharf(
        &w,
        &s,
        &["-H", &host, "stack", "deploy", "-c", file, "built"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("services.app.build"), "{err}");
    // the task runs the pushed image, pinned to its digest, with what the build made
    let tasks = s.running_tasks("built_app");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(tasks
        .values()
        .all(|i| i.starts_with("127.0.0.1:5000/app:1@sha256:")));
    let id = ok(s.docker().args([
        "ps",
        "-q",
        "--filter",
        "label=com.docker.swarm.service.name=built_app",
    ]));
    let built = ok(s.docker().args(["exec", id.trim(), "cat", "/built"]));
    assert_eq!(built.trim(), "built by-wharf");
    // `compose push` alone sends the same image again (nothing to upload, still a success)
    wharf_ok(&w, &s, &["compose", "-f", file, "push"]);
    wharf_ok(&w, &s, &["-H", &host, "stack", "rm", "built"]);
    assert!(s.labelled("service", "built").is_empty());
}
