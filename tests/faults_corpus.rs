//! Fault injection: a seeded corpus of hostile inputs. Mutated and hostile compose files run
//! under a memory-limited cgroup, malformed and oversized API bodies, and mutated image
//! archives each get one clear error in bounded time and memory, never a panic, and leave
//! the store as it was. `WHARF_FAULT_SEED=N` replays a run (each test prints its seed).

mod common;
#[path = "common/leaks.rs"]
mod leaks;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Wharf;
use leaks::{assert_clean, entries, Rng};

/// A memory cgroup (v1) that kills what exceeds `limit`, removed when dropped.
struct MemoryCage(PathBuf);

impl MemoryCage {
    fn new(limit: u64) -> Self {
        let dir = PathBuf::from(format!(
            "/sys/fs/cgroup/memory/wharf-corpus-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
        MemoryCage(dir)
    }

    /// `cmd` run inside the cage (the shell joins it, then becomes the command).
    fn command(&self, cmd: &Command) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec \"$@\"",
                self.0.display()
            ))
            .arg("sh")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    fn peak(&self) -> u64 {
        std::fs::read_to_string(self.0.join("memory.max_usage_in_bytes"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for MemoryCage {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A realistic file to mutate: anchors, merges, extensions, every common section.
const BASE: &str = r#"x-common: &common
  restart: unless-stopped
  environment:
    TZ: UTC
    LEVEL: ${LEVEL:-info}
services:
  web:
    <<: *common
    image: "nginx:1.25"
    ports: ["8080:80", "127.0.0.1:8443:443/tcp"]
    depends_on:
      api: {condition: service_healthy}
    volumes: [static:/usr/share/nginx/html:ro, ./conf:/etc/nginx/conf.d]
  api:
    <<: *common
    build: {context: ./api, args: [VERSION=2]}
    command: ["serve", "--port", "9000"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "localhost:9000/health"]
      interval: 5s
      retries: 3
    networks: {back: {aliases: [backend]}}
    deploy: {resources: {limits: {memory: 256m, cpus: "0.5"}}}
  db:
    image: postgres:16
    environment: [POSTGRES_PASSWORD=secret]
    volumes: [pg:/var/lib/postgresql/data]
    networks: [back]
networks:
  back: {internal: true}
volumes:
  static: {}
  pg: {driver: local}
"#;

const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!binary ",
    "\t",
    "\n",
    "'",
    "\"",
    "${",
    "$${X}",
    "${X:?boom}",
    "%",
    "|",
    ">",
    "? ",
    "\u{0}",
    "\u{feff}",
    "#",
    "99999999999999999999999",
    "-1",
    "0x",
    "~",
    "null",
    ".inf",
    "\\",
    "\r",
    "...",
    "---\n",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(b.len() as u64 + 1) as usize;
        match rng.below(5) {
            0 => {
                let end = (at + 1 + rng.below(20) as usize).min(b.len());
                b.drain(at..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len() as u64) as usize];
                b.splice(at..at, t.bytes());
            }
            2 => {
                let lines: Vec<&[u8]> = b.split(|c| *c == b'\n').collect();
                let i = rng.below(lines.len() as u64) as usize;
                let mut out = Vec::new();
                for (n, l) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    if n == i {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                    }
                }
                b = out;
            }
            3 if at < b.len() => b[at] = rng.below(256) as u8,
            _ => {
                // An indentation shift of one line.
                let start = b[..at]
                    .iter()
                    .rposition(|c| *c == b'\n')
                    .map_or(0, |p| p + 1);
                b.splice(start..start, *b"  ");
            }
        }
    }
    b
}

/// Hand-made hostile files: exhaustion by aliases, depth, width and size.
fn bombs() -> Vec<(&'static str, Vec<u8>)> {
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    laughs.push_str("services: {s: {image: x, command: *a9}}\n");
    let mut merges = String::from("x0: &m0 {k0: v}\n");
    for i in 1..30 {
        merges.push_str(&format!(
            "x{i}: &m{i} {{<<: [*m{}, *m{}], k{i}: v}}\n",
            i - 1,
            i - 1
        ));
    }
    merges.push_str("services: {s: {image: x, labels: *m29}}\n");
    let many: String = std::iter::once("services:\n".to_string())
        .chain((0..20_000).map(|i| format!("  s{i}: {{image: x}}\n")))
        .collect();
    vec![
        ("alias-bomb", laughs.into_bytes()),
        ("merge-bomb", merges.into_bytes()),
        (
            "deep-flow",
            format!("services: {}", "[".repeat(100_000)).into_bytes(),
        ),
        (
            "deep-block",
            (0..5000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "long-key",
            format!("services:\n  {}: {{image: x}}\n", "k".repeat(3 << 20)).into_bytes(),
        ),
        ("many-services", many.into_bytes()),
        (
            "invalid-utf8",
            b"services:\n  s:\n    image: \xff\xfe\n".to_vec(),
        ),
        ("nul", b"services:\n  s:\x00\n".to_vec()),
        ("self-merge", b"a: &a {<<: *a}\nservices: {}\n".to_vec()),
        ("empty", Vec::new()),
    ]
}

/// `wharf compose -f FILE config` in the cage: in bounded time, not killed, no panic; a
/// failure names the file.
fn check_config(w: &Wharf, cage: &MemoryCage, name: &str, file: &Path) -> bool {
    let mut base = w.command();
    base.args(["compose", "-f", file.to_str().unwrap(), "config", "-q"]);
    base.env("LEVEL", "debug");
    let mut child = cage
        .command(&base)
        .current_dir(file.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{name}: compose config hangs");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.signal().is_none(),
        "{name}: killed by {status:?} (out of memory?): {err}"
    );
    assert!(!err.contains("panicked"), "{name}: {err}");
    if !status.success() {
        let file_name = file.file_name().unwrap().to_string_lossy();
        assert!(
            err.contains(file_name.as_ref()),
            "{name}: the error does not name the file: {err}"
        );
        assert!(err.len() < 4096, "{name}: an error of {} bytes", err.len());
    }
    status.success()
}

#[test]
fn mutated_and_hostile_compose_files_get_clear_errors_in_bounded_memory() {
    let mut rng = Rng::from_env("compose_corpus");
    let w = Wharf::new();
    let cage = MemoryCage::new(256 << 20);
    let dir = w.dir.path().join("corpus");
    std::fs::create_dir_all(dir.join("api")).unwrap();
    let file = dir.join("compose.yaml");
    std::fs::write(&file, BASE).unwrap();
    assert!(
        check_config(&w, &cage, "base", &file),
        "the base file must load"
    );
    let (mut loaded, mut refused) = (0, 0);
    for i in 0..150 {
        let bytes = mutate(&mut rng, BASE.as_bytes());
        std::fs::write(&file, &bytes).unwrap();
        match check_config(
            &w,
            &cage,
            &format!("mutation {i}: {:?}", String::from_utf8_lossy(&bytes)),
            &file,
        ) {
            true => loaded += 1,
            false => refused += 1,
        }
    }
    for (name, bytes) in bombs() {
        std::fs::write(&file, &bytes).unwrap();
        let ok = check_config(&w, &cage, name, &file);
        // Big but legitimate, or empty: either answer is fine, as long as it comes in time.
        let may_load = ["many-services", "empty"].contains(&name);
        assert!(!ok || may_load, "{name} was accepted");
    }
    eprintln!(
        "mutations: {loaded} loaded, {refused} refused; peak memory {} MB",
        cage.peak() >> 20
    );
}

/// One raw HTTP/1.1 request over the daemon's socket; the status code (0: no answer).
fn raw_request(socket: &Path, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The daemon may refuse before it has read an oversized body: a write error is an answer.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

fn vm_hwm_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The store as files: what a refused request may not change.
fn store_listing(w: &Wharf) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["containers", "volumes", "layers", "blobs/sha256", "tmp"] {
        out.extend(entries(w, dir).into_iter().map(|e| format!("{dir}/{e}")));
    }
    out.sort();
    out
}

#[test]
fn malformed_and_oversized_api_bodies_are_refused_and_change_nothing() {
    let mut rng = Rng::from_env("api_corpus");
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["network", "create", "keep"]);
    let before = store_listing(&w);
    let pid = w.daemon_pid().unwrap();
    let hwm = vm_hwm_kb(pid);
    let endpoints = [
        ("POST", "/containers/create"),
        ("POST", "/containers/create?name=x"),
        ("POST", "/networks/create"),
        ("POST", "/volumes/create"),
        ("POST", "/exec/none/start"),
        ("POST", "/containers/none/exec"),
        ("POST", "/containers/none/update"),
        ("POST", "/networks/keep/connect"),
        ("POST", "/swarm/init"),
    ];
    let valid = br#"{"Image":"box","Cmd":["true"],"HostConfig":{"Memory":10000000,"PortBindings":{"80/tcp":[{"HostPort":"8080"}]}},"Labels":{"a":"b"},"Name":"v"}"#;
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"str\"".to_vec(),
        br#"{"Image":5}"#.to_vec(),
        br#"{"Image":"box","HostConfig":{"Memory":"lots"}}"#.to_vec(),
        br#"{"Image":"box","HostConfig":{"Memory":-5}}"#.to_vec(),
        br#"{"Image":"box","Cmd":["true"],"HostConfig":{"NetworkMode":"nonexistent"}}"#.to_vec(),
        br#"{"Name":"","Driver":"nosuch"}"#.to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        "[".repeat(100_000).into_bytes(),
        format!("{{\"Image\":\"{}\"}}", "a".repeat(1 << 20)).into_bytes(),
        vec![b' '; 8 << 20],
    ];
    for _ in 0..40 {
        let mut b = valid.to_vec();
        let at = rng.below(b.len() as u64) as usize;
        match rng.below(3) {
            0 => b.truncate(at),
            1 => b[at] = rng.below(256) as u8,
            _ => {
                b.insert(at, b"{}[]\",:\\"[rng.below(8) as usize]);
            }
        }
        bodies.push(b);
    }
    let mut created = Vec::new();
    for (method, path) in endpoints {
        for body in &bodies {
            let (code, answer) = raw_request(&w.socket(), method, path, body);
            let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).to_string();
            assert!(code != 0, "{path} {shown:?}: no answer: {answer}");
            assert!(code < 500 || code == 503, "{path} {shown:?}: {answer}");
            if (200..300).contains(&code) {
                // A mutation that is still valid: its object is removed below.
                created.push(answer);
            } else {
                assert!(answer.contains("\"message\""), "{path} {shown:?}: {answer}");
            }
        }
    }
    assert_eq!(w.daemon_pid(), Some(pid), "the daemon restarted");
    let ids = w.ok(&["ps", "-aq"]);
    for id in ids.lines() {
        w.ok(&["rm", "-f", id]);
    }
    for v in w.ok(&["volume", "ls", "-q"]).lines() {
        w.ok(&["volume", "rm", v]);
    }
    for n in w.ok(&["network", "ls", "--format", "{{.Name}}"]).lines() {
        if !["bridge", "host", "none", "keep"].contains(&n) {
            w.ok(&["network", "rm", n]);
        }
    }
    assert_eq!(store_listing(&w), before, "the store changed");
    let grown = vm_hwm_kb(pid).saturating_sub(hwm);
    eprintln!(
        "{} requests, {} valid; daemon peak RSS grew {grown} kB",
        endpoints.len() * bodies.len(),
        created.len()
    );
    assert!(grown < 64 << 10, "the daemon's peak RSS grew by {grown} kB");
    w.ok(&["network", "rm", "keep"]);
    assert_clean(&w, &[]);
}

/// A small saved image, then mutated copies of it (bytes flipped, truncated, a block
/// repeated): each loads whole or fails with an error, and a failure stores nothing.
#[test]
fn mutated_image_archives_load_whole_or_not_at_all() {
    let mut rng = Rng::from_env("archive_corpus");
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let good = w.dir.path().join("good.tar");
    w.ok(&["save", "-o", good.to_str().unwrap(), "box"]);
    w.ok(&["rmi", "box"]);
    let bytes = std::fs::read(&good).unwrap();
    let before = store_listing(&w);
    let file = w.dir.path().join("mutated.tar");
    let (mut loaded, mut refused) = (0, 0);
    for i in 0..40 {
        let mut b = bytes.clone();
        let at = rng.below(b.len() as u64) as usize;
        match rng.below(3) {
            0 => b.truncate(at),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let j = rng.below(b.len() as u64) as usize;
                    b[j] ^= 1 << rng.below(8);
                }
            }
            _ => {
                let block = (at / 512) * 512;
                let copy: Vec<u8> = b[block..(block + 512).min(b.len())].to_vec();
                b.splice(block..block, copy);
            }
        }
        std::fs::write(&file, &b).unwrap();
        let out = w.output(&["load", "-q", "-i", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "case {i}: {err}");
        assert!(w.daemon_pid().is_some(), "case {i}: the daemon is gone");
        if out.status.success() {
            loaded += 1;
            // Whole: every layer reads back.
            w.ok(&[
                "save",
                "-o",
                w.dir.path().join("back.tar").to_str().unwrap(),
                "box",
            ]);
            w.ok(&["rmi", "-f", "box"]);
        } else {
            refused += 1;
            assert!(
                !err.trim().is_empty(),
                "case {i}: a failure without a message"
            );
        }
        assert_eq!(w.ok(&["images", "-q"]), "", "case {i}");
        assert_eq!(store_listing(&w), before, "case {i}: the store changed");
    }
    eprintln!("archives: {loaded} loaded whole, {refused} refused");
    assert_clean(&w, &[]);
}
