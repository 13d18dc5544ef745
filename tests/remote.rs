//! Remote engines. Over TCP with TLS: `wharf daemon -H tcp://… --tlsverify` serves the API to
//! clients whose certificate the CA signed, and `wharf -H tcp://… --tlsverify` drives it, with
//! certificates made by openssl for the test; a client with a certificate from another CA, or
//! none, is refused, as is a daemon that the client's CA did not sign. Over SSH: an sshd of the
//! test's own on a loopback port, whose key runs `wharf system dial-stdio`; each invocation
//! logs in once however many requests it makes. Docker contexts made by the docker 28 CLI
//! (a unix socket, and TLS with its certificate files) drive wharf, and `wharf context use`
//! is what the docker CLI then reads.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{openssl, Wharf};

/// A CA named `name` and a certificate it signed for each of `leaves` (server with SAN
/// 127.0.0.1, client with clientAuth).
fn pki(dir: &Path, name: &str) {
    let ca_key = format!("{name}-ca-key.pem");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN={name} CA"),
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ],
    );
    for (leaf, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let key = format!("{name}-{leaf}-key.pem");
        let csr = format!("{name}-{leaf}.csr");
        let cert = format!("{name}-{leaf}.pem");
        let extfile = format!("{name}-{leaf}.ext");
        std::fs::write(dir.join(&extfile), ext).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={leaf}"),
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &extfile,
                "-out",
                &cert,
            ],
        );
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// Start `wharf daemon` serving TCP with TLS on a free loopback port; returns it and the port
/// once it logged that it serves TCP.
fn tls_daemon(w: &Wharf, certs: &Path) -> (Daemon, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = |f: &str| certs.join(f).to_string_lossy().into_owned();
    let mut child = w
        .command()
        .args(["-H", &format!("tcp://127.0.0.1:{port}"), "--tlsverify"])
        .args([
            "--tlscacert",
            &p("good-ca.pem"),
            "--tlscert",
            &p("good-server.pem"),
            "--tlskey",
            &p("good-server-key.pem"),
        ])
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("wharf daemon ready") {
                let _ = tx.send(());
            }
        }
    });
    let daemon = Daemon(child);
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the TLS daemon did not come up");
    (daemon, port)
}

fn client(w: &Wharf, port: u16, certs: &Path, ca: &str, leaf: Option<&str>) -> Command {
    let p = |f: String| certs.join(f).to_string_lossy().into_owned();
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.env_remove("WHARF_HOST")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_TLS_VERIFY");
    // a run root of its own: nothing may be started locally for a remote host
    c.args([
        "--run-root",
        &w.dir.path().join("client-run").to_string_lossy(),
    ])
    .args([
        "-H",
        &format!("tcp://127.0.0.1:{port}"),
        "--tlsverify",
        "--tlscacert",
        &p(format!("{ca}-ca.pem")),
    ]);
    if let Some(l) = leaf {
        c.args([
            "--tlscert",
            &p(format!("{l}-client.pem")),
            "--tlskey",
            &p(format!("{l}-client-key.pem")),
        ]);
    }
    c
}

#[test]
fn a_tls_daemon_serves_verified_clients_and_refuses_the_others() {
    let w = Wharf::new();
    let certs = tempfile::tempdir().unwrap();
    pki(certs.path(), "good");
    pki(certs.path(), "evil");
    let (_daemon, port) = tls_daemon(&w, certs.path());
    let name = format!("remote-vol-{}", w.slot);

    let out = client(&w, port, certs.path(), "good", Some("good"))
        .args(["volume", "create", &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the volume is the daemon's: the local socket sees it too
    assert!(w.ok(&["volume", "ls", "-q"]).lines().any(|l| l == name));
    let out = client(&w, port, certs.path(), "good", Some("good"))
        .args(["volume", "ls", "-q"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l == name));

    // no client certificate, or one from another CA: the daemon refuses the handshake
    for leaf in [None, Some("evil")] {
        let out = client(&w, port, certs.path(), "good", leaf)
            .args(["volume", "ls"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{leaf:?} was let in");
        assert_eq!(out.status.code(), Some(125));
    }
    // a daemon the client's CA did not sign: the client refuses it
    let out = client(&w, port, certs.path(), "evil", Some("good"))
        .args(["volume", "ls"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    // a context the docker CLI made for this daemon, TLS files and all, drives wharf too
    let cfg = tempfile::tempdir().unwrap();
    let p = |f: &str| certs.path().join(f).to_string_lossy().into_owned();
    docker_in(cfg.path()).run(&[
        "context",
        "create",
        "tls-remote",
        "--docker",
        &format!(
            "host=tcp://127.0.0.1:{port},ca={},cert={},key={}",
            p("good-ca.pem"),
            p("good-client.pem"),
            p("good-client-key.pem")
        ),
    ]);
    let out = context_client(&w, cfg.path())
        .args(["--context", "tls-remote", "volume", "ls", "-q"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == name),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // nothing was auto-started for the remote host
    assert!(!w.dir.path().join("client-run/wharf.sock").exists());
    w.ok(&["volume", "rm", &name]);
}

/// The docker 28 CLI with its config (and so its context store) in `config`; required to
/// succeed.
fn docker_in(config: &Path) -> DockerRun {
    DockerRun(config.to_path_buf())
}

struct DockerRun(std::path::PathBuf);

impl DockerRun {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("/usr/local/bin/docker")
            .args(args)
            .env("DOCKER_CONFIG", &self.0)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .expect("run docker");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// wharf with the docker config `config` and a run root where no daemon runs: whatever it
/// reaches, it reaches through a context.
fn context_client(w: &Wharf, config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.env_remove("WHARF_HOST")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_TLS_VERIFY")
        .env("DOCKER_CONFIG", config)
        .args([
            "--root",
            &w.dir.path().join("client-root").to_string_lossy(),
            "--run-root",
            &w.dir.path().join("client-run").to_string_lossy(),
        ])
        .stdin(Stdio::null());
    c
}

fn output_of(c: &mut Command) -> (bool, String, String) {
    let out = c.output().expect("run wharf");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn docker_contexts_are_read_listed_and_chosen_as_the_docker_cli_does() {
    let w = Wharf::new();
    let name = format!("ctx-vol-{}", w.slot);
    w.ok(&["volume", "create", &name]);
    let cfg = tempfile::tempdir().unwrap();
    let docker = docker_in(cfg.path());
    let host = format!("unix://{}", w.socket().display());
    docker.run(&[
        "context",
        "create",
        "engine",
        "--description",
        "the test's engine",
        "--docker",
        &format!("host={host}"),
    ]);
    let lists = |out: &str| out.lines().any(|l| l == name);

    // --context: the named context's endpoint
    let (ok, out, err) = output_of(context_client(&w, cfg.path()).args([
        "--context",
        "engine",
        "volume",
        "ls",
        "-q",
    ]));
    assert!(ok && lists(&out), "{err}");
    // context ls: docker's table, the current one starred
    let (ok, out, err) = output_of(context_client(&w, cfg.path()).args(["context", "ls"]));
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("default *") && !l.contains("engine")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("engine ")
            && l.contains("the test's engine")
            && l.contains(&host)),
        "{out}"
    );
    // context use: written where the docker CLI reads it, and followed by both
    let (ok, _, err) = output_of(context_client(&w, cfg.path()).args(["context", "use", "engine"]));
    assert!(ok, "{err}");
    assert!(docker
        .run(&["context", "ls", "--format", "{{.Name}} {{.Current}}"])
        .lines()
        .any(|l| l == "engine true"));
    let (ok, out, err) = output_of(context_client(&w, cfg.path()).args(["volume", "ls", "-q"]));
    assert!(ok && lists(&out), "{err}");
    let (_, out, _) = output_of(context_client(&w, cfg.path()).args(["context", "show"]));
    assert_eq!(out.trim(), "engine");
    // DOCKER_HOST names a host: the current context gives way (nothing listens there)
    let (ok, _, _) = output_of(
        context_client(&w, cfg.path())
            .env("DOCKER_HOST", "tcp://127.0.0.1:1")
            .args(["volume", "ls", "-q"]),
    );
    assert!(!ok, "DOCKER_HOST was not followed");
    // a context that does not exist, and --context with -H, are clear errors
    let (ok, _, err) =
        output_of(context_client(&w, cfg.path()).args(["--context", "missing", "volume", "ls"]));
    assert!(
        !ok && err.contains("context \"missing\" does not exist"),
        "{err}"
    );
    let (ok, _, err) = output_of(context_client(&w, cfg.path()).args([
        "--context",
        "engine",
        "-H",
        &host,
        "volume",
        "ls",
    ]));
    assert!(!ok && err.contains("conflicting options"), "{err}");
    let (ok, _, err) =
        output_of(context_client(&w, cfg.path()).args(["context", "use", "missing"]));
    assert!(!ok && err.contains("does not exist"), "{err}");
    // back to default: the client's own (empty) run root, where no daemon runs yet
    let (ok, _, err) =
        output_of(context_client(&w, cfg.path()).args(["context", "use", "default"]));
    assert!(ok, "{err}");
    assert!(docker
        .run(&["context", "ls", "--format", "{{.Name}} {{.Current}}"])
        .lines()
        .any(|l| l == "default true"));
    assert!(!w.dir.path().join("client-run/wharf.sock").exists());
    w.ok(&["volume", "rm", &name]);
}

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        // the clients' master connections end with it
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn ssh_keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An sshd on a free loopback port whose one authorised key runs `wharf system dial-stdio`
/// against `w`'s engine; returns it, its port, the ssh command for the client, and a receiver
/// of its accepted logins.
fn sshd(w: &Wharf, dir: &Path) -> (Sshd, u16, String, std::sync::mpsc::Receiver<()>) {
    ssh_keygen(&dir.join("host"));
    ssh_keygen(&dir.join("id"));
    let public = std::fs::read_to_string(dir.join("id.pub")).unwrap();
    let forced = format!(
        "env WHARF_ROOT={} WHARF_RUN={} {} system dial-stdio",
        w.root.display(),
        w.run_root.display(),
        env!("CARGO_BIN_EXE_wharf")
    );
    std::fs::write(
        dir.join("authorized_keys"),
        format!("command=\"{forced}\",no-pty {public}"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         PermitRootLogin prohibit-password\nPidFile {d}/sshd.pid\nLogLevel INFO\n",
        d = dir.display()
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    std::fs::write(
        dir.join("ssh_config"),
        format!(
            "Host *\n  IdentityFile {d}/id\n  IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  LogLevel ERROR\n",
            d = dir.display()
        ),
    )
    .unwrap();
    // sshd insists on its privilege separation directory
    std::fs::create_dir_all("/run/sshd").unwrap();
    let mut child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sshd");
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (login_tx, login_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Server listening") {
                let _ = ready_tx.send(());
            }
            if line.contains("Accepted publickey") {
                let _ = login_tx.send(());
            }
        }
    });
    let sshd = Sshd(child);
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("sshd did not come up");
    let command = format!("ssh -F {}", dir.join("ssh_config").display());
    (sshd, port, command, login_rx)
}

#[test]
fn an_ssh_host_is_driven_through_one_connection_per_invocation() {
    let w = Wharf::new();
    let dir = tempfile::tempdir().unwrap();
    let (_sshd, port, ssh, logins) = sshd(&w, dir.path());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .env_remove("WHARF_HOST")
            .env_remove("DOCKER_HOST")
            .env("WHARF_SSH_COMMAND", &ssh)
            .args([
                "--run-root",
                &dir.path().join("client-run").to_string_lossy(),
            ])
            .args(["-H", &format!("ssh://root@127.0.0.1:{port}")])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let name = format!("ssh-vol-{}", w.slot);
    run(&["volume", "create", &name]);
    let listed = run(&["volume", "ls", "-q"]);
    assert!(listed.lines().any(|l| l == name), "{listed}");
    // the engine behind the far side is w's: its own socket sees the volume
    assert!(w.ok(&["volume", "ls", "-q"]).lines().any(|l| l == name));
    // each invocation made several requests (a ping, then its own) over one login
    for i in 0..2 {
        logins
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("login {i} not seen"));
    }
    let extra = logins.try_iter().count();
    assert_eq!(extra, 0, "two invocations, {} ssh logins", 2 + extra);
    assert!(!dir.path().join("client-run/wharf.sock").exists());
    w.ok(&["volume", "rm", &name]);
}
