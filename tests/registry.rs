//! Pulling from a real registry (Debian's docker-registry on 127.0.0.1, filled with skopeo from
//! a `wharf save` archive): `wharf pull`, layers shared and verified, run, the docker CLI's pull,
//! and clear errors for a missing image or a registry without TLS support.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Wharf;

/// A docker-registry on 127.0.0.1, stopped on drop.
struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    addr: String,
}

impl Registry {
    fn start(port: u16) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nlog:\n  level: error\n",
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
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            child,
            _dir: dir,
            addr,
        }
    }

    /// Push an archive made by `wharf save` under `name` (repo:tag).
    fn push(&self, archive: &std::path::Path, name: &str) {
        let out = Command::new("skopeo")
            .args([
                "copy",
                "--dest-tls-verify=false",
                &format!("docker-archive:{}", archive.display()),
                &format!("docker://{}/{name}", self.addr),
            ])
            .output()
            .expect("tests need skopeo");
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pull_from_a_local_registry_and_run() {
    let source = Wharf::new();
    source.busybox_image("box", &[r#"CMD ["echo", "from-registry"]"#]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    let reg = Registry::start(24000 + source.slot as u16);
    reg.push(&archive, "test/box:v1");

    let w = Wharf::new();
    let image = format!("{}/test/box:v1", reg.addr);
    let out = w.ok(&["pull", &image]);
    assert!(
        out.contains("Pull complete") && out.contains("Digest: sha256:"),
        "{out}"
    );
    assert_eq!(w.ok(&["run", "--rm", &image]), "from-registry\n");
    // The same image id as the source: the config digest survived the trip.
    assert_eq!(
        w.inspect(&image, "{{.Id}}"),
        source.inspect("box", "{{.Id}}")
    );
    let digests = w.inspect(&image, "{{json .RepoDigests}}");
    assert!(digests.contains("@sha256:"), "{digests}");
    // Again: nothing downloaded.
    let again = w.ok(&["pull", &image]);
    assert!(
        again.contains("Already exists") && again.contains("Image is up to date"),
        "{again}"
    );
    // A missing image, and a registry this client cannot speak to, fail clearly.
    let (_, err) = w.fails(&["pull", &format!("{}/test/nope:v1", reg.addr)]);
    assert!(err.contains("not found"), "{err}");
    let (_, err) = w.fails(&["pull", "example.invalid/x:1"]);
    assert!(err.contains("TLS"), "{err}");

    // `run` of an absent image pulls it first, through the real docker CLI as client.
    let cfg = w.dir.path().join("docker-config");
    let out = Command::new("/usr/local/bin/docker")
        .args([
            "run",
            "--rm",
            &format!("{}/test/box:v1", reg.addr),
            "echo",
            "docker-pulled",
        ])
        .env("DOCKER_HOST", format!("unix://{}", w.socket().display()))
        .env("DOCKER_CONFIG", &cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "docker-pulled\n");
    w.ok(&["rmi", &image]);
    let out = Command::new("/usr/local/bin/docker")
        .args(["run", "--rm", &image, "echo", "auto-pulled"])
        .env("DOCKER_HOST", format!("unix://{}", w.socket().display()))
        .env("DOCKER_CONFIG", &cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("auto-pulled\n"));

    // wharf push: a committed image goes up; another engine pulls it and sees the change.
    source.ok(&[
        "run",
        "--name",
        "c",
        "box",
        "sh",
        "-c",
        "echo pushed-change > /marker",
    ]);
    let pushed = format!("{}/mine/box:2", reg.addr);
    source.ok(&["commit", "c", &pushed]);
    let out = source.ok(&["push", &pushed]);
    assert!(
        out.contains("Pushed") && out.contains("2: digest: sha256:"),
        "{out}"
    );
    let again = source.ok(&["push", &pushed]);
    assert!(again.contains("Layer already exists"), "{again}");
    w.ok(&["pull", &pushed]);
    assert_eq!(
        w.ok(&["run", "--rm", &pushed, "cat", "/marker"]),
        "pushed-change\n"
    );
    assert_eq!(
        w.inspect(&pushed, "{{.Id}}"),
        source.inspect(&pushed, "{{.Id}}")
    );
    let (_, err) = source.fails(&["push", &format!("{}/mine/absent:1", reg.addr)]);
    assert!(err.contains("does not exist locally"), "{err}");
}

#[test]
fn compose_pulls_service_images_from_the_registry() {
    let source = Wharf::new();
    source.busybox_image("box", &[]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    let reg = Registry::start(24500 + source.slot as u16);
    reg.push(&archive, "team/box:1");

    let w = Wharf::new();
    let dir = w.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yaml");
    std::fs::write(
        &file,
        format!(
            "services:\n  web:\n    image: {0}/team/box:1\n    command: [httpd, -f, -p, '8080', -h, /etc]\n  client:\n    image: {0}/team/box:1\n    command: [sh, -c, 'wget -qO- http://web:8080/hostname']\n    depends_on: [web]\n",
            reg.addr
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    w.ok(&["up", "-d", "--pull", "always", "-f", f]);
    assert!(w
        .ok(&["images"])
        .contains(&format!("{}/team/box", reg.addr)));
    let start = std::time::Instant::now();
    loop {
        let logs = w.ok(&["compose", "-f", f, "logs", "--no-log-prefix", "client"]);
        if logs.trim().len() == 12 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "client never reached web: {logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    w.ok(&["down", "-v", "-f", f]);
}
