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
