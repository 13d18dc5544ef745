//! Pulling from a real registry (Debian's docker-registry on 127.0.0.1, filled with skopeo from
//! a `wharf save` archive): `wharf pull`, layers shared and verified, run, the docker CLI's pull,
//! clear errors for a missing image or an unreachable registry, and TLS (insecure on loopback,
//! verified against a CA in `<root>/certs.d/<host:port>/`).

mod common;
#[path = "common/registry.rs"]
mod registry;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{openssl, Wharf};
use registry::{Redirector, Registry, TokenFront};

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
    // A missing image, and a registry that is not there, fail clearly.
    let (_, err) = w.fails(&["pull", &format!("{}/test/nope:v1", reg.addr)]);
    assert!(err.contains("not found"), "{err}");
    // Redirects are followed (Docker Hub sends blobs to a CDN).
    let redirector = Redirector::start(24300 + source.slot as u16, &reg.addr);
    let via = format!("{}/test/box:v1", redirector.addr);
    w.ok(&["pull", &via]);
    assert_eq!(w.inspect(&via, "{{.Id}}"), source.inspect("box", "{{.Id}}"));
    let (_, err) = w.fails(&["pull", "127.0.0.1:1/x:1"]);
    assert!(
        err.contains("127.0.0.1:1") && err.contains("onnection refused"),
        "{err}"
    );

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

/// Run `cmd` with `stdin` as its input: whether it succeeded, and its stdout and stderr.
fn run_with_stdin(mut cmd: Command, stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// wharf and the docker CLI as one user runs them against `w`'s engine: with a Docker config
/// directory of the test's own and, when the test has credential helpers, their directory
/// first on `PATH`. Each run answers whether it succeeded, and its stdout and stderr.
struct User<'a> {
    w: &'a Wharf,
    config: std::path::PathBuf,
    path: Option<std::ffi::OsString>,
}

impl<'a> User<'a> {
    fn new(w: &'a Wharf, config: &std::path::Path, helpers: Option<&std::path::Path>) -> Self {
        User {
            w,
            config: config.to_path_buf(),
            path: helpers.map(path_with),
        }
    }

    fn run(&self, mut c: Command, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        c.args(args).env("DOCKER_CONFIG", &self.config);
        if let Some(p) = &self.path {
            c.env("PATH", p);
        }
        run_with_stdin(c, stdin)
    }

    fn wharf(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        self.run(self.w.command(), args, stdin)
    }

    fn docker(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let mut c = Command::new("/usr/local/bin/docker");
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.w.socket().display()),
        );
        self.run(c, args, stdin)
    }
}

/// A registry user file (bcrypt, as docker-registry wants) with one user.
fn htpasswd(path: &std::path::Path, user: &str, password: &str) {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            user,
            password,
        ])
        .output()
        .expect("tests need python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(path, out.stdout).unwrap();
}

/// A CA (`<name>.crt`, `<name>.key`) in `dir`, and a certificate for 127.0.0.1 it signed
/// (`server.crt`, `server.key`) when `server`.
fn make_pki(dir: &std::path::Path) {
    make_ca(dir, "ca");
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
}

/// A CA (`<name>.crt`, `<name>.key`) in `dir`.
fn make_ca(dir: &std::path::Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=wharf test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

#[test]
fn pull_over_tls_insecure_on_loopback_and_verified_with_a_configured_ca() {
    let source = Wharf::new();
    source.busybox_image("box", &[r#"CMD ["echo", "over-tls"]"#]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    // A CA, a server certificate it signed for 127.0.0.1, and an unrelated CA.
    let pki = source.dir.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    make_ca(&pki, "other");
    let reg = Registry::start_with(
        25000 + source.slot as u16,
        Some((&pki.join("server.crt"), &pki.join("server.key"))),
        None,
    );
    reg.push(&archive, "tls/box:1");
    let image = format!("{}/tls/box:1", reg.addr);

    // Loopback is insecure, as with Docker: HTTPS without verification (there is no plain HTTP).
    let w = Wharf::new();
    w.ok(&["pull", &image]);
    assert_eq!(w.ok(&["run", "--rm", &image]), "over-tls\n");

    // A CA configured for the registry is verified, on loopback too: the right one passes...
    let trust = |w: &Wharf, ca: &str| {
        let d = w.root.join("certs.d").join(&reg.addr);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(pki.join(ca), d.join("ca.crt")).unwrap();
    };
    let verified = Wharf::new();
    trust(&verified, "ca.crt");
    verified.ok(&["pull", &image]);
    assert_eq!(verified.ok(&["run", "--rm", &image]), "over-tls\n");
    // ... and another one fails, saying why.
    let wrong = Wharf::new();
    trust(&wrong, "other.crt");
    let (_, err) = wrong.fails(&["pull", &image]);
    assert!(
        err.contains(&reg.addr) && err.contains("certificate"),
        "{err}"
    );
    // push goes through the same transport
    let pushed = format!("{}/tls/again:1", reg.addr);
    verified.ok(&["tag", &image, &pushed]);
    let out = verified.ok(&["push", &pushed]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
}

/// A TLS registry of the test's own (port `port_base` + the slot of `source`) with one user,
/// holding `private/box:1`, a busybox image that echoes `word`, pushed as that user; the
/// registry and the image's full name.
fn private_registry(
    source: &Wharf,
    port_base: u16,
    user: &str,
    password: &str,
    word: &str,
) -> (Registry, String) {
    source.busybox_image("box", &[&format!(r#"CMD ["echo", "{word}"]"#)]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    let pki = source.dir.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let users = source.dir.path().join("htpasswd");
    htpasswd(&users, user, password);
    let reg = Registry::start_with(
        port_base + source.slot as u16,
        Some((&pki.join("server.crt"), &pki.join("server.key"))),
        Some(&users),
    );
    reg.push_as(
        &archive,
        "private/box:1",
        Some(&format!("{user}:{password}")),
    );
    let image = format!("{}/private/box:1", reg.addr);
    (reg, image)
}

#[test]
fn login_then_pull_and_push_with_credentials_also_through_the_docker_cli() {
    let source = Wharf::new();
    let (reg, image) = private_registry(&source, 25500, "tester", "s3cret", "private");

    let w = Wharf::new();
    let docker_config = w.dir.path().join("docker-config");
    let user = User::new(&w, &docker_config, None);
    let wharf = |args: &[&str], stdin: Option<&str>| user.wharf(args, stdin);
    // Anonymous: refused, saying so.
    let (ok, out) = wharf(&["pull", &image], None);
    assert!(!ok && out.contains("authentication required"), "{out}");
    // A wrong password: refused, nothing stored.
    let (ok, out) = wharf(&["login", "-u", "tester", "-p", "wrong", &reg.addr], None);
    assert!(
        !ok && out.contains("incorrect username or password"),
        "{out}"
    );
    assert!(!docker_config.join("config.json").exists());
    // The right one (from stdin): stored in Docker's format, then pull and push work.
    let (ok, out) = wharf(
        &["login", "-u", "tester", "--password-stdin", &reg.addr],
        Some("s3cret\n"),
    );
    assert!(ok && out.contains("Login Succeeded"), "{out}");
    let stored = std::fs::read_to_string(docker_config.join("config.json")).unwrap();
    assert!(
        stored.contains(&reg.addr) && stored.contains("\"auth\""),
        "{stored}"
    );
    let (ok, out) = wharf(&["pull", &image], None);
    assert!(ok, "{out}");
    assert_eq!(w.ok(&["run", "--rm", &image]), "private\n");
    let pushed = format!("{}/private/again:1", reg.addr);
    w.ok(&["tag", &image, &pushed]);
    let (ok, out) = wharf(&["push", &pushed], None);
    assert!(ok && out.contains("1: digest: sha256:"), "{out}");
    // compose pulls with the same credentials
    let file = w.dir.path().join("compose.yaml");
    std::fs::write(&file, format!("services:\n  app:\n    image: {pushed}\n")).unwrap();
    w.ok(&["rmi", &pushed]);
    let (ok, out) = wharf(&["compose", "-f", file.to_str().unwrap(), "pull"], None);
    assert!(ok, "{out}");
    assert_eq!(w.ok(&["run", "--rm", &pushed]), "private\n");
    // Logged out: anonymous again.
    let (ok, out) = wharf(&["logout", &reg.addr], None);
    assert!(ok && out.contains("Removing login credentials"), "{out}");
    let (ok, out) = wharf(&["pull", &pushed], None);
    assert!(!ok && out.contains("authentication required"), "{out}");

    // The docker CLI logs in through wharf's /auth and sends the credentials with its pull.
    let cfg = w.dir.path().join("docker-cli-config");
    let cli_user = User::new(&w, &cfg, None);
    let docker = |args: &[&str], stdin: Option<&str>| {
        let (ok, text) = cli_user.docker(args, stdin);
        assert!(ok, "docker {args:?}: {text}");
        text
    };
    let out = docker(
        &["login", "-u", "tester", "--password-stdin", &reg.addr],
        Some("s3cret\n"),
    );
    assert!(out.contains("Login Succeeded"), "{out}");
    w.ok(&["rmi", &pushed]);
    docker(&["pull", &pushed], None);
    assert_eq!(w.ok(&["run", "--rm", &pushed]), "private\n");
}

/// A credential helper `docker-credential-<name>` in `dir`, speaking the
/// docker-credential-helpers protocol: it keeps one credential, the JSON `store` gave it, in
/// `dir/secrets.json` (`erase` empties the file). Returns the file.
fn keeping_helper(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let secrets = dir.join("secrets.json");
    helper_script(
        dir,
        name,
        &format!(
            r#"secrets={}
read -r input || true
case "$1" in
  store) printf '%s\n' "$input" > "$secrets" ;;
  get)
    if [ -s "$secrets" ] && grep -qF "\"ServerURL\":\"$input\"" "$secrets"; then
      cat "$secrets"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  erase) : > "$secrets" ;;
  list) echo '{{}}' ;;
  *) echo "unknown action $1"; exit 1 ;;
esac
"#,
            secrets.display()
        ),
    );
    secrets
}

/// An executable shell script `docker-credential-<name>` in `dir` with `body`.
fn helper_script(dir: &std::path::Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `PATH` with `dir` first.
fn path_with(dir: &std::path::Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[test]
fn login_pull_push_and_logout_through_a_credential_helper_also_with_the_docker_cli() {
    let source = Wharf::new();
    let (reg, image) = private_registry(&source, 26000, "helped", "h3lper-s3cret", "helped");

    let w = Wharf::new();
    let bin = w.dir.path().join("helper-bin");
    let name = format!("wharftest{}s{}", std::process::id(), w.slot);
    let secrets = keeping_helper(&bin, &name);
    let docker_config = w.dir.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let config_file = docker_config.join("config.json");
    std::fs::write(
        &config_file,
        serde_json::to_vec_pretty(&serde_json::json!({
            "credsStore": name,
            "psFormat": "table {{.ID}}\t{{.Names}}",
        }))
        .unwrap(),
    )
    .unwrap();
    let user = User::new(&w, &docker_config, Some(&bin));
    let wharf = |args: &[&str], stdin: Option<&str>| user.wharf(args, stdin);
    let config = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&config_file).unwrap()).unwrap()
    };

    // Nothing in the helper: anonymous, refused by the registry.
    let (ok, out) = wharf(&["pull", &image], None);
    assert!(!ok && out.contains("authentication required"), "{out}");
    // A wrong password: nothing stored anywhere.
    let (ok, out) = wharf(&["login", "-u", "helped", "-p", "wrong", &reg.addr], None);
    assert!(
        !ok && out.contains("incorrect username or password"),
        "{out}"
    );
    assert!(!secrets.exists());
    // The right one: the secret goes to the helper; the file keeps an empty entry and its
    // other keys.
    let (ok, out) = wharf(
        &["login", "-u", "helped", "--password-stdin", &reg.addr],
        Some("h3lper-s3cret\n"),
    );
    assert!(ok && out.contains("Login Succeeded"), "{out}");
    let kept = std::fs::read_to_string(&secrets).unwrap();
    assert!(
        kept.contains(&format!("\"ServerURL\":\"{}\"", reg.addr))
            && kept.contains("\"Username\":\"helped\"")
            && kept.contains("\"Secret\":\"h3lper-s3cret\""),
        "{kept}"
    );
    let stored = std::fs::read_to_string(&config_file).unwrap();
    assert!(!stored.contains("h3lper-s3cret"), "{stored}");
    let v = config();
    assert_eq!(
        v["auths"],
        serde_json::json!({ reg.addr.clone(): {} }),
        "{v}"
    );
    assert_eq!(v["credsStore"], name.as_str());
    assert_eq!(v["psFormat"], "table {{.ID}}\t{{.Names}}");

    // Pull and push with the helper's credentials.
    let (ok, out) = wharf(&["pull", &image], None);
    assert!(ok, "{out}");
    assert_eq!(w.ok(&["run", "--rm", &image]), "helped\n");
    let pushed = format!("{}/private/again:1", reg.addr);
    w.ok(&["tag", &image, &pushed]);
    let (ok, out) = wharf(&["push", &pushed], None);
    assert!(ok && out.contains("1: digest: sha256:"), "{out}");

    // The docker CLI, with the same config and PATH, runs the same helper and sends the
    // credentials with its pull to wharf's daemon.
    let docker = |args: &[&str]| user.docker(args, None);
    w.ok(&["rmi", &pushed]);
    let (ok, out) = docker(&["pull", &pushed]);
    assert!(ok, "docker pull: {out}");
    assert_eq!(w.ok(&["run", "--rm", &pushed]), "helped\n");

    // Logged out: erased in the helper and the file; refused again.
    let (ok, out) = wharf(&["logout", &reg.addr], None);
    assert!(
        ok && out.contains(&format!("Removing login credentials for {}", reg.addr)),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&secrets).unwrap(), "");
    let v = config();
    assert_eq!(v["auths"], serde_json::json!({}), "{v}");
    assert_eq!(v["credsStore"], name.as_str());
    w.ok(&["rmi", &pushed]);
    let (ok, out) = wharf(&["pull", &pushed], None);
    assert!(!ok && out.contains("authentication required"), "{out}");
    let (ok, out) = wharf(&["logout", &reg.addr], None);
    assert!(
        ok && out.contains(&format!("Not logged in to {}", reg.addr)),
        "{out}"
    );
}

#[test]
fn a_failing_credential_helper_is_an_error_with_its_message() {
    let w = Wharf::new();
    let bin = w.dir.path().join("helper-bin");
    let unique = format!("{}s{}", std::process::id(), w.slot);
    let failing = format!("wharftestfail{unique}");
    let empty = format!("wharftestempty{unique}");
    helper_script(
        &bin,
        &failing,
        "echo \"the vault is sealed, unseal it first\"\nexit 1\n",
    );
    // credsStore for every other registry: it has nothing, which is anonymous access.
    helper_script(
        &bin,
        &empty,
        "echo \"credentials not found in native keychain\"\nexit 1\n",
    );
    // Nothing listens on these: any attempt to reach them fails differently.
    let guarded = format!("127.0.0.1:{}", 26500 + w.slot);
    let other = format!("127.0.0.1:{}", 26750 + w.slot);
    let docker_config = w.dir.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::write(
        docker_config.join("config.json"),
        serde_json::to_vec(&serde_json::json!({
            "credsStore": empty,
            "credHelpers": { guarded.clone(): failing },
        }))
        .unwrap(),
    )
    .unwrap();
    let user = User::new(&w, &docker_config, Some(&bin));
    let wharf = |args: &[&str]| user.wharf(args, None);
    let said = "error getting credentials - err: exit status 1, out: `the vault is sealed, unseal it first`";
    let image = format!("{guarded}/private/box:1");
    let (ok, out) = wharf(&["pull", &image]);
    assert!(!ok && out.contains(said), "{out}");
    let (ok, out) = wharf(&["push", &image]);
    assert!(!ok && out.contains(said), "{out}");
    let file = w.dir.path().join("compose.yaml");
    std::fs::write(&file, format!("services:\n  app:\n    image: {image}\n")).unwrap();
    let (ok, out) = wharf(&["compose", "-f", file.to_str().unwrap(), "pull"]);
    assert!(!ok && out.contains(said), "{out}");
    // (The docker CLI 28's pull drops a helper's error and pulls anonymously, ending in the
    // registry's refusal; wharf reports the helper's own words instead.)
    // Another registry goes to credsStore's helper, which has nothing: the pull is attempted
    // anonymously (and fails on the unreachable registry, not on credentials).
    let (ok, out) = wharf(&["pull", &format!("{other}/private/box:1")]);
    assert!(
        !ok && !out.contains("error getting credentials") && out.contains(&other),
        "{out}"
    );
}

#[test]
fn login_keeps_the_identity_token_the_registry_gives_in_the_helper_and_pulls_with_it() {
    let source = Wharf::new();
    source.busybox_image("box", &[r#"CMD ["echo", "by-token"]"#]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    let backend = Registry::start(27000 + source.slot as u16);
    backend.push(&archive, "private/box:1");
    let refresh = format!("refresh-{}-{}", std::process::id(), source.slot);
    let front = TokenFront::start(
        27250 + source.slot as u16,
        &backend.addr,
        "tokener:t0ken-pw",
        &refresh,
        &source.dir.path().join("grants.log"),
    );
    let image = format!("{}/private/box:1", front.addr);

    let w = Wharf::new();
    let bin = w.dir.path().join("helper-bin");
    let name = format!("wharftesttok{}s{}", std::process::id(), w.slot);
    let secrets = keeping_helper(&bin, &name);
    let docker_config = w.dir.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::write(
        docker_config.join("config.json"),
        serde_json::to_vec(&serde_json::json!({ "credsStore": name })).unwrap(),
    )
    .unwrap();
    let user = User::new(&w, &docker_config, Some(&bin));
    let wharf = |args: &[&str], stdin: Option<&str>| user.wharf(args, stdin);
    let docker = |args: &[&str], stdin: Option<&str>| user.docker(args, stdin);

    // Login: the token endpoint's refresh token is kept, as `<token>`, not the password.
    let (ok, out) = wharf(
        &["login", "-u", "tokener", "--password-stdin", &front.addr],
        Some("t0ken-pw\n"),
    );
    assert!(ok && out.contains("Login Succeeded"), "{out}");
    let kept = std::fs::read_to_string(&secrets).unwrap();
    assert!(
        kept.contains(r#""Username":"<token>""#)
            && kept.contains(&format!(r#""Secret":"{refresh}""#))
            && !kept.contains("t0ken-pw"),
        "{kept}"
    );
    assert_eq!(front.grants(), "basic offline\n");

    // Pull: the identity token is traded for an access token (no password to send).
    let (ok, out) = wharf(&["pull", &image], None);
    assert!(ok, "{out}");
    assert_eq!(w.ok(&["run", "--rm", &image]), "by-token\n");
    assert_eq!(
        front.grants(),
        "basic offline\nrefresh repository:private/box:pull\n"
    );

    // The docker CLI sends the helper's identity token the same way.
    w.ok(&["rmi", &image]);
    let (ok, out) = docker(&["pull", &image], None);
    assert!(ok, "docker pull: {out}");
    assert_eq!(w.ok(&["run", "--rm", &image]), "by-token\n");
    let grants = front.grants();
    assert!(
        grants.ends_with("refresh repository:private/box:pull\n") && !grants.contains("refused"),
        "{grants}"
    );

    // And the docker CLI's own login through wharf's /auth keeps the identity token too.
    let (ok, out) = wharf(&["logout", &front.addr], None);
    assert!(ok, "{out}");
    assert_eq!(std::fs::read_to_string(&secrets).unwrap(), "");
    let (ok, out) = docker(
        &["login", "-u", "tokener", "--password-stdin", &front.addr],
        Some("t0ken-pw\n"),
    );
    assert!(ok && out.contains("Login Succeeded"), "docker login: {out}");
    let kept = std::fs::read_to_string(&secrets).unwrap();
    assert!(
        kept.contains(&format!(r#""Secret":"{refresh}""#)) && !kept.contains("t0ken-pw"),
        "{kept}"
    );
    w.ok(&["rmi", &image]);
    let (ok, out) = wharf(&["pull", &image], None);
    assert!(ok, "{out}");
}
