//! The headline example, end to end: `examples/wordpress/compose.yaml` run unchanged with real
//! MariaDB and real WordPress (stand-in images wharf builds from Debian's packages with
//! `examples/wordpress/offline/build.sh`), installed and posted to over HTTP, its data kept
//! across `down`/`up`, a killed daemon and a restarted database, and nothing of it left after
//! `down -v`.
//!
//! The built images are cached as a `wharf save` archive under /var/tmp, keyed by the content
//! of `examples/wordpress/offline/` and the Debian base, so a warm CI does not rebuild them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{debian, Wharf};

const IMAGES: [&str; 2] = ["mariadb:10.11", "wordpress:latest"];
const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "Wharf-test-pass-123";

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wordpress")
}

/// Every file under `dir` (path and content), in a stable order.
fn tree_bytes(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            tree_bytes(&p, out);
        } else {
            out.push(
                p.strip_prefix(example_dir())
                    .unwrap()
                    .display()
                    .to_string()
                    .into_bytes(),
            );
            out.push(std::fs::read(&p).unwrap());
        }
    }
}

/// Load the stand-in images into `w`: from the cache, or built by the example's own script
/// (then saved into the cache).
fn stand_in_images(w: &Wharf) {
    let mut parts = vec![debian::rootfs_key().into_bytes()];
    tree_bytes(&example_dir().join("offline"), &mut parts);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let key = debian::content_key(&parts);
    let cache = PathBuf::from(format!("/var/tmp/wharf-wordpress-images-{key}.tar"));
    debian::with_lock(&format!("wharf-wordpress-images-{key}"), || {
        if !cache.exists() {
            let rootfs = debian::rootfs();
            let st = Command::new(example_dir().join("offline/build.sh"))
                .env("WHARF", env!("CARGO_BIN_EXE_wharf"))
                .env("WHARF_ROOT", &w.root)
                .env("WHARF_RUN", &w.run_root)
                .env_remove("WHARF_HOST")
                .env("DEBIAN_ROOTFS_TAR", &rootfs)
                .status()
                .unwrap();
            assert!(st.success(), "examples/wordpress/offline/build.sh failed");
            let tmp = cache.with_extension(format!("{}.tar", std::process::id()));
            let mut args = vec!["save", "-o", tmp.to_str().unwrap()];
            args.extend(IMAGES);
            w.ok(&args);
            std::fs::rename(&tmp, &cache).unwrap();
        }
    });
    if w.output(&["image", "inspect", IMAGES[0]]).status.success() {
        return;
    }
    w.ok(&["load", "-q", "-i", cache.to_str().unwrap()]);
}

/// The example project as a user runs it: its own file, in place, with the published port
/// moved off 8080 (the environment wins over `.env`) and a project name of this test's own.
struct Site<'a> {
    w: &'a Wharf,
    project: String,
    port: u16,
}

impl Site<'_> {
    fn compose(&self, args: &[&str]) -> std::process::Output {
        self.w
            .command()
            .current_dir(example_dir())
            .env("WORDPRESS_PORT", self.port.to_string())
            .args(["compose", "-p", &self.project, "--progress", "plain"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "wharf compose {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// An HTTP request with curl: (status, Location, body). `extra` are curl arguments.
    fn http(&self, path: &str, extra: &[&str]) -> (u16, String, String) {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "30",
                "-w",
                "\n%{http_code} %{redirect_url}",
            ])
            .args(extra)
            .arg(self.url(path))
            .output()
            .expect("curl is needed");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, tail) = text.rsplit_once('\n').unwrap_or(("", ""));
        let (code, location) = tail.split_once(' ').unwrap_or((tail, ""));
        (
            code.parse().unwrap_or(0),
            location.to_string(),
            body.to_string(),
        )
    }

    /// Wait (bounded) until `GET path` answers with `want`: Apache may still be binding its
    /// port when `up --wait` returns (the service has no healthcheck). Returns the body.
    fn wait_for(&self, path: &str, want: u16) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, location, body) = self.http(path, &[]);
            if code == want {
                return (location, body);
            }
            assert!(
                Instant::now() < deadline,
                "GET {path}: {code} instead of {want}:\n{body}\n{}",
                String::from_utf8_lossy(&self.compose(&["logs", "--tail", "40"]).stdout)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn install(&self) {
        let fields = [
            ("weblog_title", "Wharf example"),
            ("user_name", ADMIN),
            ("admin_password", ADMIN_PASSWORD),
            ("admin_password2", ADMIN_PASSWORD),
            ("pw_weak", "1"),
            ("admin_email", "admin@example.com"),
            ("blog_public", "0"),
        ];
        let mut args = vec!["-X".to_string(), "POST".to_string()];
        for (k, v) in fields {
            args.push("--data-urlencode".into());
            args.push(format!("{k}={v}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, body) = self.http("/wp-admin/install.php?step=2", &args);
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("<h1>Success!</h1>"), "install: {body}");
    }

    /// Publish a post through XML-RPC (`wp.newPost`) as the admin; returns its id.
    fn publish(&self, title: &str) -> String {
        let call = format!(
            "<?xml version=\"1.0\"?><methodCall><methodName>wp.newPost</methodName><params>\
             <param><value><int>1</int></value></param>\
             <param><value><string>{ADMIN}</string></value></param>\
             <param><value><string>{ADMIN_PASSWORD}</string></value></param>\
             <param><value><struct>\
             <member><name>post_title</name><value><string>{title}</string></value></member>\
             <member><name>post_content</name><value><string>Served by wharf.</string></value></member>\
             <member><name>post_status</name><value><string>publish</string></value></member>\
             </struct></value></param></params></methodCall>"
        );
        let (code, _, body) = self.http(
            "/xmlrpc.php",
            &["-H", "Content-Type: text/xml", "--data-binary", &call],
        );
        assert_eq!(code, 200, "{body}");
        assert!(!body.contains("<fault>"), "wp.newPost: {body}");
        let id = body
            .split("<string>")
            .nth(1)
            .and_then(|s| s.split("</string>").next())
            .unwrap_or_default()
            .to_string();
        assert!(id.parse::<u32>().is_ok(), "wp.newPost: {body}");
        id
    }

    fn container_ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Host state of the project that must be gone after `down -v`.
fn leftovers(w: &Wharf, site: &Site, ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    let prefix = format!("w{:03}", w.slot);
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    for l in String::from_utf8_lossy(&links.stdout).lines() {
        let name = l
            .split(": ")
            .nth(1)
            .unwrap_or("")
            .split('@')
            .next()
            .unwrap_or("");
        // The daemon's default bridge (`…d0`) belongs to the engine, not to the project.
        if name.starts_with(&prefix) && !name.ends_with("d0") {
            left.push(format!("link {name}"));
        }
    }
    let nft = Command::new("nft")
        .args(["list", "table", "inet", &format!("wharf_t{:03}", w.slot)])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&nft.stdout);
    if rules.contains(&format!("dport {}", site.port)) {
        left.push(format!("nftables rule for port {}", site.port));
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for m in mounts.lines() {
        if ids.iter().any(|id| m.contains(id.as_str())) {
            left.push(format!("mount {m}"));
        }
    }
    for id in ids {
        for cg in [
            format!("/sys/fs/cgroup/unified/wharf/{id}"),
            format!("/sys/fs/cgroup/wharf/{id}"),
            format!("/sys/fs/cgroup/memory/wharf/{id}"),
            format!("/sys/fs/cgroup/pids/wharf/{id}"),
        ] {
            if Path::new(&cg).exists() {
                left.push(format!("cgroup {cg}"));
            }
        }
    }
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if ids.iter().any(|id| cmdline.contains(id.as_str())) {
            left.push(format!("process {cmdline}"));
        }
    }
    let volumes = w.ok(&["volume", "ls", "-q"]);
    left.extend(volumes.lines().map(|v| format!("volume {v}")));
    let networks = w.ok(&["network", "ls", "--format", "{{.Name}}"]);
    left.extend(
        networks
            .lines()
            .filter(|n| n.starts_with(&site.project))
            .map(|n| format!("network {n}")),
    );
    left.extend(
        w.ok(&["ps", "-aq"])
            .lines()
            .map(|c| format!("container {c}")),
    );
    left
}

#[test]
fn wordpress_installs_keeps_its_posts_and_leaves_nothing() {
    let w = Wharf::new();
    stand_in_images(&w);
    let site = Site {
        w: &w,
        project: format!("wp{:03}", w.slot),
        port: 23000 + w.slot as u16,
    };

    // First start: MariaDB initialises its data directory; WordPress answers with its installer.
    site.ok(&["up", "-d", "--wait"]);
    let (location, _) = site.wait_for("/", 302);
    assert_eq!(location, site.url("/wp-admin/install.php"));
    site.install();
    let id = site.publish("Hello from wharf");
    let post = format!("/?p={id}");
    let (_, body) = site.wait_for(&post, 200);
    assert!(body.contains("Hello from wharf"), "{body}");

    // down keeps the volumes: the site and its post come back with the next up.
    site.ok(&["down"]);
    assert!(site.container_ids().is_empty());
    site.ok(&["up", "-d", "--wait"]);
    let (_, body) = site.wait_for(&post, 200);
    assert!(body.contains("Hello from wharf"), "after down/up: {body}");

    // A daemon killed with SIGKILL loses nothing: the containers keep running, the next
    // command starts a daemon again, which takes them over (their DNS included, which lives
    // in the daemon as Docker's does), and the site serves.
    let pid = w.daemon_pid().expect("daemon pid");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let running = site.ok(&["ps", "--status", "running", "--services"]);
    assert_eq!(running.lines().count(), 2, "{running}");
    let (_, body) = site.wait_for(&post, 200);
    assert!(
        body.contains("Hello from wharf"),
        "after the daemon died: {body}"
    );

    // A restarted database: WordPress connects again (once per request, as PHP does).
    site.ok(&["restart", "db"]);
    site.ok(&["up", "-d", "--wait"]);
    let (_, body) = site.wait_for(&post, 200);
    assert!(
        body.contains("Hello from wharf"),
        "after restart db: {body}"
    );

    // down -v: nothing of the project is left on the host.
    let ids = site.container_ids();
    assert_eq!(ids.len(), 2);
    site.ok(&["down", "-v"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(&w, &site, &ids);
        if left.is_empty() {
            break;
        }
        // Veths go in the daemon's background: bounded wait, then report what stayed.
        assert!(Instant::now() < deadline, "left after down -v: {left:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
