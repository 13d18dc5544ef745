//! Registries for the tests: Debian's docker-registry on 127.0.0.1 (filled with skopeo from a
//! `wharf save` archive), a redirector (a CDN's 307s), a token-authenticating front, a
//! fault-injecting front (`front.py`), an HTTP proxy (`proxy.py`), and a daemon started with an environment and `/etc/hosts` names of the
//! test's own (its own mount namespace), as a user's daemon would have them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Wharf;

/// Wait until something accepts connections on `addr` (a server the test just spawned: it
/// gives no readiness signal of its own).
pub fn wait_for_listener(addr: &str, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed (and reaped) on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A docker-registry on 127.0.0.1, stopped on drop.
pub struct Registry {
    _child: Guard,
    _dir: tempfile::TempDir,
    pub addr: String,
}

impl Registry {
    pub fn start(port: u16) -> Registry {
        Self::start_with(port, None, None)
    }

    /// With `tls`: (certificate, key) PEM files; the registry then speaks HTTPS only. With
    /// `htpasswd`: a file of users; the registry then wants Basic authentication.
    pub fn start_with(port: u16, tls: Option<(&Path, &Path)>, htpasswd: Option<&Path>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let tls = tls
            .map(|(c, k)| {
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    c.display(),
                    k.display()
                )
            })
            .unwrap_or_default();
        let auth = htpasswd
            .map(|p| {
                format!(
                    "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                    p.display()
                )
            })
            .unwrap_or_default();
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n{tls}{auth}log:\n  level: error\n",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tests need Debian's docker-registry");
        let child = Guard(child);
        wait_for_listener(&addr, "the registry");
        Registry {
            _child: child,
            _dir: dir,
            addr,
        }
    }

    /// Push an archive made by `wharf save` under `name` (repo:tag).
    pub fn push(&self, archive: &Path, name: &str) {
        self.push_as(archive, name, None)
    }

    /// [`push`](Self::push) as `creds` (`user:password`).
    pub fn push_as(&self, archive: &Path, name: &str, creds: Option<&str>) {
        let mut skopeo = Command::new("skopeo");
        skopeo.args(["copy", "--dest-tls-verify=false"]);
        if let Some(c) = creds {
            skopeo.args(["--dest-creds", c]);
        }
        let out = skopeo
            .arg(format!("docker-archive:{}", archive.display()))
            .arg(format!("docker://{}/{name}", self.addr))
            .output()
            .expect("tests need skopeo");
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A server on 127.0.0.1 answering every request with a 307 to `target` (like Docker Hub's
/// redirects of blobs to a CDN), stopped on drop.
pub struct Redirector {
    _child: Guard,
    pub addr: String,
}

impl Redirector {
    pub fn start(port: u16, target: &str) -> Redirector {
        let script = r#"
import http.server, sys
target = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(307)
        self.send_header("Location", "http://" + target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("python3")
            .args(["-c", script, &port.to_string(), target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tests need python3");
        let child = Guard(child);
        wait_for_listener(&addr, "the redirector");
        Redirector {
            _child: child,
            addr,
        }
    }
}

/// A token-authenticated registry on 127.0.0.1: a Python front to a plain `backend` registry
/// (GET and HEAD only) that wants a bearer token from its own `/token` endpoint, as Docker
/// Hub does. The endpoint gives one for Basic `user:password` (and, when asked with
/// `offline_token=true`, a refresh token too) or for an OAuth2 `grant_type=refresh_token` POST
/// with that refresh token; each grant is logged to a file. Stopped on drop.
pub struct TokenFront {
    _child: Guard,
    pub addr: String,
    log: PathBuf,
}

impl TokenFront {
    pub const ACCESS: &'static str = "access-7f3a";

    pub fn start(port: u16, backend: &str, basic: &str, refresh: &str, log: &Path) -> Self {
        let script = r#"
import base64, http.server, json, sys, urllib.parse, urllib.request, urllib.error
port, backend, basic, refresh, log, access = sys.argv[1:7]
realm = "http://127.0.0.1:%s/token" % port
def note(line):
    with open(log, "a") as f:
        f.write(line + "\n")
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
    def token(self, query, form):
        if form is not None:
            if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [refresh] and form.get("client_id") == ["docker"]:
                note("refresh " + form.get("scope", [""])[0])
                return self.answer(200, {"access_token": access, "expires_in": 300})
            note("refused refresh")
            return self.answer(401, {"error": "invalid_grant"})
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(basic.encode()).decode():
            note("refused basic")
            return self.answer(401, {"details": "incorrect username or password"})
        body = {"token": access, "access_token": access}
        if query.get("offline_token") == ["true"]:
            body["refresh_token"] = refresh
            note("basic offline")
        else:
            note("basic")
        self.answer(200, body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        self.token({}, form)
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            return self.token(urllib.parse.parse_qs(url.query), None)
        if self.headers.get("Authorization") != "Bearer " + access:
            return self.answer(401, {"errors": [{"code": "UNAUTHORIZED"}]},
                [("WWW-Authenticate", 'Bearer realm="%s",service="token-front"' % realm)])
        req = urllib.request.Request("http://" + backend + self.path, method=self.command)
        if self.headers.get("Accept"):
            req.add_header("Accept", self.headers["Accept"])
        try:
            resp = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            resp = e
        data = resp.read()
        self.send_response(resp.status)
        for k in ("Content-Type", "Docker-Content-Digest", "Docker-Distribution-Api-Version"):
            if resp.headers.get(k):
                self.send_header(k, resp.headers[k])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), H).serve_forever()
"#;
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("python3")
            .args(["-c", script, &port.to_string(), backend, basic, refresh])
            .arg(log)
            .arg(Self::ACCESS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tests need python3");
        // Guarded before the wait, so a front that never listens is still stopped.
        let child = Guard(child);
        wait_for_listener(&addr, "the token front");
        TokenFront {
            _child: child,
            addr,
            log: log.to_path_buf(),
        }
    }

    /// The grants given and refused so far, one a line.
    pub fn grants(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `front.py` on 127.0.0.1 before a registry, with its fault file and request log.
pub struct Front {
    _child: Guard,
    pub addr: String,
    config: PathBuf,
    log: PathBuf,
}

/// One request the front saw.
#[derive(Debug, Clone)]
pub struct Seen(pub serde_json::Value);

impl Seen {
    pub fn event(&self) -> &str {
        self.0["event"].as_str().unwrap_or_default()
    }
    pub fn path(&self) -> &str {
        self.0["path"].as_str().unwrap_or_default()
    }
    pub fn method(&self) -> &str {
        self.0["method"].as_str().unwrap_or_default()
    }
    pub fn range(&self) -> Option<&str> {
        self.0["range"].as_str()
    }
}

impl Front {
    pub fn start(port: u16, backend: &str, dir: &Path) -> Front {
        let script = dir.join("front.py");
        std::fs::write(&script, include_str!("front.py")).unwrap();
        let config = dir.join("front.json");
        let log = dir.join("front.log");
        std::fs::write(&config, "{}").unwrap();
        let child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(backend)
            .arg(&config)
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tests need python3");
        let child = Guard(child);
        let addr = format!("127.0.0.1:{port}");
        wait_for_listener(&addr, "the registry front");
        Front {
            _child: child,
            addr,
            config,
            log,
        }
    }

    /// The faults from now on (see front.py).
    pub fn set(&self, faults: serde_json::Value) {
        std::fs::write(&self.config, faults.to_string()).unwrap();
    }

    /// Every request seen so far, and forget them.
    pub fn take(&self) -> Vec<Seen> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines()
            .map(|l| Seen(serde_json::from_str(l).unwrap()))
            .collect()
    }

    /// The requests seen so far (kept).
    pub fn seen(&self) -> Vec<Seen> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| Seen(serde_json::from_str(l).unwrap()))
            .collect()
    }
}

/// `proxy.py` on 127.0.0.1: every host it is asked for is that port on 127.0.0.1.
pub struct Proxy {
    _child: Guard,
    pub url: String,
    log: PathBuf,
}

impl Proxy {
    pub fn start(port: u16, dir: &Path) -> Proxy {
        let script = dir.join("proxy.py");
        std::fs::write(&script, include_str!("proxy.py")).unwrap();
        let log = dir.join("proxy.log");
        let child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tests need python3");
        let child = Guard(child);
        wait_for_listener(&format!("127.0.0.1:{port}"), "the proxy");
        Proxy {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// The first line of every connection so far (`CONNECT host:port`, `GET http://…`).
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

/// `w`'s daemon, started by the test with `env` (and nothing of the test's proxy variables
/// otherwise) and, when `hosts` is given, those `/etc/hosts` lines in a mount namespace of
/// its own. Stopped (SIGTERM) on drop.
pub struct Daemon(Option<Child>);

impl Daemon {
    pub fn start(w: &Wharf, hosts: Option<&str>, env: &[(&str, &str)]) -> Daemon {
        let mut c = match hosts {
            Some(lines) => {
                let file = w.dir.path().join("hosts");
                std::fs::write(&file, format!("127.0.0.1 localhost\n{lines}\n")).unwrap();
                let mut c = Command::new("unshare");
                c.args([
                    "-m",
                    "sh",
                    "-c",
                    r#"mount --bind "$0" /etc/hosts && exec "$@""#,
                ])
                .arg(&file)
                .arg(env!("CARGO_BIN_EXE_wharf"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_wharf")),
        };
        c.arg("--root")
            .arg(&w.root)
            .arg("--run-root")
            .arg(&w.run_root)
            .arg("daemon");
        for v in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "NO_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "no_proxy",
            "all_proxy",
        ] {
            c.env_remove(v);
        }
        c.envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(w.dir.path().join("daemon.log")).unwrap());
        let child = c.spawn().expect("starting the daemon");
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(w.socket()).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the daemon did not start: {}",
                std::fs::read_to_string(w.dir.path().join("daemon.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon(Some(child))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Write `<root>/daemon.json` of `w` with `extra` keys added to the test harness's own.
pub fn daemon_json(w: &Wharf, extra: serde_json::Value) {
    let path = w.root.join("daemon.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// A busybox image `name` in `w` and an archive of it (`wharf save`), with `layers` more
/// layers of `layer_kib` KiB of random bytes each (COPY steps of a build).
pub fn layered_image(w: &Wharf, name: &str, layers: usize, layer_kib: usize) -> PathBuf {
    w.busybox_image("base-of-layered", &[]);
    let ctx = w
        .dir
        .path()
        .join(format!("ctx-{}", name.replace([':', '/'], "_")));
    std::fs::create_dir_all(&ctx).unwrap();
    let mut dockerfile = String::from("FROM base-of-layered\n");
    for i in 0..layers {
        let mut data = vec![0u8; layer_kib * 1024];
        let mut seed =
            (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64;
        for b in data.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        std::fs::write(ctx.join(format!("f{i}")), data).unwrap();
        dockerfile.push_str(&format!("COPY f{i} /data/f{i}\n"));
    }
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    w.ok(&["build", "-q", "-t", name, ctx.to_str().unwrap()]);
    let archive = w
        .dir
        .path()
        .join(format!("{}.tar", name.replace([':', '/'], "_")));
    w.ok(&["save", "-o", archive.to_str().unwrap(), name]);
    archive
}
