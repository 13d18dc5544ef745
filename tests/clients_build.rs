//! The docker CLI's classic builder against `wharf daemon` (issue 12, found by docker-py's
//! build tests): a Dockerfile from outside the context and `.dockerignore` leave the context
//! as dockerd's rule says, RUN's stderr is red in the stream, a failed RUN's exit code is the
//! client's, `--cache-from` limits the cache to those images, steps that change nothing can
//! repeat, and `images -a` lists the build's intermediate images that `info` counts.

#[path = "common/clients.rs"]
mod clients;
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use clients::Docker;
use common::Wharf;

fn files(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (path, content) in entries {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    dir.to_path_buf()
}

/// `docker build` with the classic builder (what docker-py speaks too).
fn build(d: &Docker, args: &[&str]) -> Output {
    d.command()
        .env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(args)
        .output()
        .unwrap()
}

fn built(d: &Docker, args: &[&str]) -> String {
    let out = build(d, args);
    assert!(
        out.status.success(),
        "docker build {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn dockerfile_and_dockerignore_leave_the_context_when_ignored() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let ctx = files(
        &w.dir.path().join("ctx"),
        &[
            ("file.txt", "hello\n"),
            (".dockerignore", ".dockerignore\n"),
        ],
    );
    let outside = files(
        &w.dir.path().join("elsewhere"),
        &[(
            "Dockerfile",
            "FROM box\nCOPY . /src\nCMD [\"ls\", \"-a\", \"/src\"]\n",
        )],
    );
    // The CLI sends an outside Dockerfile as `.dockerfile.<random>`, listed in .dockerignore.
    let df = outside.join("Dockerfile");
    built(
        &d,
        &[
            "-t",
            "outside",
            "-f",
            df.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
    );
    let listing = d.ok(&["run", "--rm", "--network", "none", "outside"]);
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        [".", "..", "file.txt"]
    );

    // A Dockerfile the .dockerignore names is read, but COPY does not see it.
    files(
        &ctx,
        &[
            (
                "Dockerfile",
                "FROM box\nCOPY . /src\nCMD [\"ls\", \"-a\", \"/src\"]\n",
            ),
            (".dockerignore", "Dockerfile\n.dockerignore\n"),
        ],
    );
    built(&d, &["-t", "inside", ctx.to_str().unwrap()]);
    let listing = d.ok(&["run", "--rm", "--network", "none", "inside"]);
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        [".", "..", "file.txt"]
    );
}

#[test]
fn run_stderr_is_red_and_a_failed_run_exits_with_its_code() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let ctx = files(
        &w.dir.path().join("ctx"),
        &[("Dockerfile", "FROM box\nRUN sh -c '>&2 echo oops'\n")],
    );
    let out = built(
        &d,
        &["--no-cache", "--network", "none", ctx.to_str().unwrap()],
    );
    assert!(out.contains("\x1b[91moops\n\x1b[0m"), "{out:?}");

    files(&ctx, &[("Dockerfile", "FROM box\nRUN exit 3\n")]);
    let out = build(&d, &["--network", "none", ctx.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("returned a non-zero code: 3"), "{stderr}");
}

#[test]
fn cache_from_limits_the_cache_and_repeated_empty_steps_build() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    // Two RUN steps that change nothing make the same (empty) layer twice in one image.
    let ctx = files(
        &w.dir.path().join("ctx"),
        &[(
            "Dockerfile",
            "FROM box\nENV FOO=bar\nRUN true\nRUN true\nRUN touch /baz\nCMD [\"ls\", \"/baz\"]\n",
        )],
    );
    let c = ctx.to_str().unwrap();
    built(&d, &["--network", "none", "-t", "build1", c]);
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "build1"]),
        "/baz\n"
    );
    let cached = |out: &str| out.matches("Using cache").count();
    let out = built(
        &d,
        &["--network", "none", "--cache-from", "build1", "-t", "b2", c],
    );
    assert_eq!(cached(&out), 5, "{out}");
    let out = built(
        &d,
        &[
            "--network",
            "none",
            "--cache-from",
            "nosuchtag",
            "-t",
            "b3",
            c,
        ],
    );
    assert_eq!(cached(&out), 0, "{out}");
    let out = built(&d, &["--network", "none", "-t", "b4", c]);
    assert_eq!(cached(&out), 5, "{out}");

    // `images -a` also lists the untagged steps, and `info` counts every image.
    let listed = d.lines(&["images", "-a", "-q", "--no-trunc"]);
    let mut distinct = listed.clone();
    distinct.dedup();
    let counted = d.ok(&["info", "-f", "{{.Images}}"]);
    assert_eq!(counted.trim(), distinct.len().to_string(), "{listed:?}");
    let tagged = d.lines(&["images", "-q", "--no-trunc"]);
    assert!(tagged.len() < distinct.len(), "{tagged:?} vs {distinct:?}");
}
