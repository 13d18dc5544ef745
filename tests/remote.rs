//! Remote engines over TCP with TLS: `wharf daemon -H tcp://… --tlsverify` serves the API to
//! clients whose certificate the CA signed, and `wharf -H tcp://… --tlsverify` drives it, with
//! certificates made by openssl for the test. A client with a certificate from another CA, or
//! none, is refused, as is a daemon that the client's CA did not sign.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Wharf;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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
    // nothing was auto-started for the remote host
    assert!(!w.dir.path().join("client-run/wharf.sock").exists());
    w.ok(&["volume", "rm", &name]);
}
