//! Compose test helpers: a project directory with its compose file, run with the private
//! engine of a [`Wharf`].

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::common::Wharf;

pub struct Proj<'a> {
    pub w: &'a Wharf,
    pub dir: PathBuf,
    pub name: String,
}

impl<'a> Proj<'a> {
    /// A project `name` whose `compose.yaml` is `yaml`.
    pub fn new(w: &'a Wharf, name: &str, yaml: &str) -> Proj<'a> {
        let dir = w.dir.path().join(format!("proj-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        Proj {
            w,
            dir,
            name: name.to_string(),
        }
    }

    /// Write a file of the project (its directories made as needed).
    pub fn write(&self, file: &str, content: &str) {
        let path = self.dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// `wharf compose -p NAME --progress plain ARGS` in the project directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.w.command();
        c.current_dir(&self.dir)
            .args(["compose", "-p", &self.name, "--progress", "plain"])
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running wharf compose")
    }

    /// Run and require success; returns (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.output(args);
        let so = String::from_utf8_lossy(&out.stdout).to_string();
        let se = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "wharf compose {args:?} failed ({:?}):\nstdout: {so}\nstderr: {se}",
            out.status.code()
        );
        (so, se)
    }

    /// Run and require failure; returns (exit code, stdout, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.output(args);
        let so = String::from_utf8_lossy(&out.stdout).to_string();
        let se = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success(),
            "wharf compose {args:?} unexpectedly succeeded:\nstdout: {so}\nstderr: {se}"
        );
        (out.status.code().unwrap_or(-1), so, se)
    }

    /// The project's containers: name → id (stopped ones too).
    pub fn ids(&self) -> BTreeMap<String, String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let out = self.w.ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &label,
            "--format",
            "{{.Names}} {{.ID}}",
        ]);
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, i)| (n.to_string(), i.to_string()))
            .collect()
    }

    /// The project's volumes.
    pub fn volumes(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        self.w
            .ok(&["volume", "ls", "-q", "--filter", &label])
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn state(&self, container: &str) -> String {
        self.w.inspect(container, "{{.State.Status}}")
    }
}

/// A busybox image with more applets than the default one (`nslookup`, `httpd`...), as `name`.
pub fn busybox_image(w: &Wharf, name: &str) {
    w.busybox_image(name, &[]);
}

/// A service command that runs until stopped and ends at once on SIGTERM.
pub const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

/// A private engine with the busybox image.
pub fn engine() -> Wharf {
    let w = Wharf::new();
    w.busybox_image("busybox", &[]);
    w
}

/// `script` as a compose `command:` in the flow syntax (`["sh", "-c", "..."]`).
pub fn cmd(script: &str) -> String {
    format!(
        "[\"sh\", \"-c\", {}]",
        serde_json::to_string(script).unwrap()
    )
}

/// `GET path` over HTTP/1.0 on 127.0.0.1:`port`, waiting (bounded) for the server to listen:
/// `up -d` returns when the process has started, not when it has bound its port.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut s = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => assert!(std::time::Instant::now() < deadline, "port {port}: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}
