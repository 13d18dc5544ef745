//! Compose `build:` keys that reach the build (issue 10): `extra_hosts` and `shm_size` of the RUN
//! steps, `no_cache`, and `secrets` (from a file and from the environment) mounted by
//! `RUN --mount=type=secret` and kept out of every layer; a key a local builder cannot apply
//! (`ssh`) is warned about with its line.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use compose_helpers::{engine, Proj};

const YAML: &str = r#"
services:
  app:
    build:
      context: ./app
      extra_hosts: ["buildhost:10.9.8.7"]
      shm_size: 32m
      no_cache: true
      secrets:
        - tok
        - source: envtok
          target: other
      ssh: [default]
    command: [sleep, "600"]
secrets:
  tok:
    file: ./tok.txt
  envtok:
    environment: TOKEN_VAR
"#;

const DOCKERFILE: &str = "FROM busybox
RUN grep buildhost /etc/hosts > /hosts
RUN mount | grep ' /dev/shm ' > /shm
RUN --mount=type=secret,id=tok --mount=type=secret,id=other \
    test \"$(tr a-z A-Z < /run/secrets/tok)\" = S3CRET && test \"$(tr a-z A-Z < /run/secrets/other)\" = FROMENV && echo ok > /secrets-ok
";

#[test]
fn build_keys_reach_the_build_and_secrets_stay_out_of_the_layers() {
    let w = engine();
    let p = Proj::new(&w, "bkeys", YAML);
    p.write("app/Dockerfile", DOCKERFILE);
    p.write("tok.txt", "s3cret");
    p.write(".env", "TOKEN_VAR=fromenv\n");

    let (_, err) = p.ok(&["build"]);
    assert!(
        err.contains("compose.yaml:") && err.contains("services.app.build.ssh"),
        "ssh is warned about with its line: {err}"
    );
    assert!(!err.contains("extra_hosts"), "{err}");
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none", "bkeys-app"];
        a.extend_from_slice(args);
        w.ok(&a)
    };
    assert_eq!(run(&["cat", "/hosts"]), "10.9.8.7\tbuildhost\n");
    let shm = run(&["cat", "/shm"]);
    assert!(shm.contains("size=32768k"), "{shm}");
    assert_eq!(run(&["cat", "/secrets-ok"]), "ok\n");
    // The secrets are in no layer: neither their files nor their bytes (the Dockerfile names
    // them in upper case only).
    let saved = w.dir.path().join("bkeys.tar");
    w.ok(&["save", "-o", saved.to_str().unwrap(), "bkeys-app"]);
    let bytes = std::fs::read(&saved).unwrap();
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|x| x == needle);
    assert!(
        !find(b"s3cret") && !find(b"fromenv"),
        "a secret is in the image"
    );
    run(&["sh", "-c", "! test -e /run/secrets/tok"]);

    // no_cache: the second build runs every step again.
    let (_, err) = p.ok(&["build"]);
    assert!(!err.contains("Using cache"), "{err}");
    assert!(err.contains("Running in"), "{err}");

    // A secret whose variable is unset fails the build, naming it.
    std::fs::remove_file(p.dir.join(".env")).unwrap();
    let (_, _, err) = p.fails(&["build"]);
    assert!(
        err.contains("TOKEN_VAR") && err.contains("service \"app\""),
        "{err}"
    );
}
