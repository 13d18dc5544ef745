//! Client helpers for the compatibility tests: the real docker CLI and raw Engine API requests
//! (curl over the socket) against the private engine of a [`Wharf`].

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::common::Wharf;

pub const DOCKER: &str = "/usr/local/bin/docker";

/// The docker CLI pointed at one engine, with its own config directory.
pub struct Docker<'a> {
    pub w: &'a Wharf,
    pub config: PathBuf,
}

impl<'a> Docker<'a> {
    /// Also starts the engine's daemon (the docker CLI does not).
    pub fn new(w: &'a Wharf) -> Self {
        w.ok(&["version"]);
        let config = w.dir.path().join("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        Docker { w, config }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.w.socket().display()),
        )
        .env("DOCKER_CONFIG", &self.config)
        .env("DOCKER_CLI_HINTS", "false")
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null());
        c
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("running docker")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Run and require failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            !out.status.success(),
            "docker {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// Lines of stdout, sorted (for comparing lists whatever their order).
    pub fn lines(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = self.ok(args).lines().map(str::to_string).collect();
        v.sort();
        v
    }
}

/// One raw API request; returns (status, body).
pub fn api(w: &Wharf, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "60"])
        .arg("--unix-socket")
        .arg(w.socket())
        .args(["-X", method]);
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    let out = c
        .arg(format!("http://wharf{path}"))
        .output()
        .expect("running curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A raw API request that must answer `want`; returns the body as JSON (Null when empty).
pub fn api_json(
    w: &Wharf,
    method: &str,
    path: &str,
    body: Option<&str>,
    want: u16,
) -> serde_json::Value {
    let (code, text) = api(w, method, path, body);
    assert_eq!(code, want, "{method} {path}: {text}");
    if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }
}

/// A hijacked request (attach, exec start): send `input` after the 101 answer, then read
/// until the daemon closes the connection (bounded by `limit`). Returns (status line, the
/// stream bytes after the headers, whether the daemon closed it).
pub fn hijack(
    w: &Wharf,
    path: &str,
    body: &str,
    input: &[&[u8]],
    limit: std::time::Duration,
) -> (String, Vec<u8>, bool) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(w.socket()).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: wharf\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    // The headers first.
    let head_end = loop {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break data.len();
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(p) = data.windows(4).position(|x| x == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let mut out = data[head_end..].to_vec();
    // Input sent before the daemon wires the attach waits in the socket: nothing is lost.
    for chunk in input {
        let _ = s.write_all(chunk);
    }
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (head.lines().next().unwrap_or("").to_string(), out, closed)
}

/// Payloads of a multiplexed stream: (stream id, bytes) per frame.
pub fn frames(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while data.len() >= 8 {
        let n = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let end = (8 + n).min(data.len());
        out.push((data[0], data[8..end].to_vec()));
        data = &data[end..];
    }
    out
}

/// GET an endless stream (`stats`, `events`) and return what came until `enough` says so
/// (bounded by 20 s); the connection is dropped then.
pub fn read_stream(w: &Wharf, path: &str, enough: impl Fn(&str) -> bool) -> String {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(w.socket()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: wharf\r\n\r\n").unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !enough(&text) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    text
}
