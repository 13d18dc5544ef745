//! Real builds: every instruction's effect checked by running the image, the step cache hit
//! and missed exactly where an edit says, multi-stage targets and parallel stages, RUN
//! mounts, secrets absent from layers, bad input, and the docker CLI's classic builder.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Wharf;

/// A context directory with files (path → content; a path ending in `/` is a directory).
fn context(w: &Wharf, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = w.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
            continue;
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    dir
}

fn build(w: &Wharf, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build", "--progress", "plain"];
    args.extend_from_slice(extra);
    let d = dir.display().to_string();
    args.push(&d);
    w.ok(&args)
}

/// Which steps came from the cache, as "Step n" numbers.
fn cached_steps(out: &str) -> Vec<usize> {
    let mut cached = Vec::new();
    let mut current = 0;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Step ") {
            current = rest.split('/').next().unwrap().parse().unwrap();
        }
        if line.trim() == "---> Using cache" {
            cached.push(current);
        }
    }
    cached
}

fn run(w: &Wharf, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--network", "none", image];
    args.extend_from_slice(cmd);
    w.ok(&args)
}

#[test]
fn every_instruction_takes_effect() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let dir = context(
        &w,
        "ctx",
        &[
            (
                "Dockerfile",
                r#"# syntax=docker/dockerfile:1
ARG BASE=box
FROM ${BASE}
ARG GREETING=hello
ENV APP=/app \
    MSG="${GREETING} world"
LABEL org.example.name="demo app" version=1
WORKDIR $APP
COPY src/ ./src/
COPY --chmod=750 --chown=1000:1000 run.sh /usr/local/bin/
ADD files.tar /unpacked/
COPY <<EOF /etc/motd
motd for ${GREETING}
EOF
RUN echo "$MSG" > msg.txt && echo "$GREETING" > arg.txt
RUN <<EOS
set -e
echo heredoc-script > /script-ran
EOS
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD USER 0
ONBUILD RUN echo triggered > /onbuild
MAINTAINER someone
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat msg.txt"]
"#,
            ),
            ("src/a.txt", "A"),
            ("src/sub/b.txt", "B"),
            ("run.sh", "#!/bin/sh\necho ran\n"),
        ],
    );
    // A tar for ADD to unpack.
    {
        let mut b = tar::Builder::new(std::fs::File::create(dir.join("files.tar")).unwrap());
        let mut h = common::header();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "inner/x.txt", &b"xx"[..]).unwrap();
        b.into_inner().unwrap();
    }
    let out = build(
        &w,
        &dir,
        &[
            "-t",
            "app:1",
            "-t",
            "app:latest",
            "--build-arg",
            "GREETING=hi",
        ],
    );
    assert!(out.contains("Successfully tagged app:1"), "{out}");
    assert_eq!(run(&w, "app:1", &[]), "hi world\n");
    assert_eq!(
        run(&w, "app:1", &["pwd; cat arg.txt src/a.txt src/sub/b.txt"]),
        "/app\nhi\nAB"
    );
    assert_eq!(
        run(
            &w,
            "app:1",
            &["cat /unpacked/inner/x.txt /etc/motd /script-ran"]
        ),
        "xxmotd for hi\nheredoc-script\n"
    );
    assert_eq!(
        run(
            &w,
            "app:1",
            &["id -u; stat -c '%a %u' /usr/local/bin/run.sh; run.sh"]
        ),
        "1000\n750 1000\nran\n"
    );
    let inspect = |t: &str| w.inspect("app:latest", t);
    assert!(inspect("{{json .Config.Labels}}").contains(r#""org.example.name":"demo app""#));
    assert_eq!(inspect("{{.Config.StopSignal}}"), "SIGUSR1");
    assert_eq!(inspect("{{.Config.User}}"), "1000:1000");
    assert_eq!(inspect("{{.Config.WorkingDir}}"), "/app");
    assert_eq!(
        inspect("{{json .Config.Entrypoint}}"),
        r#"["/bin/sh","-c"]"#
    );
    assert_eq!(inspect("{{json .Config.Shell}}"), r#"["/bin/sh","-ec"]"#);
    assert_eq!(
        inspect("{{json .Config.OnBuild}}"),
        r#"["USER 0","RUN echo triggered > /onbuild"]"#
    );
    assert_eq!(inspect("{{.Author}}"), "someone");
    let ports = inspect("{{json .Config.ExposedPorts}}");
    assert!(
        ports.contains("8080/tcp") && ports.contains("53/udp"),
        "{ports}"
    );
    assert!(inspect("{{json .Config.Volumes}}").contains("/data"));
    assert!(inspect("{{json .Config.Healthcheck}}").contains("5000000000"));
    // history: one row per step with its instruction.
    let history = w.ok(&["history", "--no-trunc", "app:1"]);
    assert!(
        history.contains("RUN /bin/sh -c echo \"$MSG\""),
        "{history}"
    );
    assert!(history.contains("COPY src/ ./src/"), "{history}");
    // ONBUILD triggers run in a child build.
    let child = context(
        &w,
        "child",
        &[("Dockerfile", "FROM app:1\nRUN id -u > /uid\n")],
    );
    build(&w, &child, &["-t", "child"]);
    assert_eq!(run(&w, "child", &["cat /onbuild /uid"]), "triggered\n0\n");
    // Intermediate images stay out of `images`.
    let images = w.ok(&["images", "-q"]);
    assert_eq!(images.lines().count(), 3, "{images}");
}

#[test]
fn cache_hits_and_misses_exactly_where_an_edit_says() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let dir = context(
        &w,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM box\nARG V=1\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY . /ctx/\nRUN echo $V > /v\nCMD [\"cat\", \"/v\"]\n",
            ),
            (".dockerignore", "ignored.txt\n"),
            ("a.txt", "a"),
            ("b.txt", "b"),
            ("c.txt", "c"),
            ("ignored.txt", "i"),
        ],
    );
    let all_but_from: Vec<usize> = (2..=7).collect();
    assert_eq!(
        cached_steps(&build(&w, &dir, &["-t", "c"])),
        Vec::<usize>::new()
    );
    assert_eq!(cached_steps(&build(&w, &dir, &["-t", "c"])), all_but_from);
    std::fs::write(dir.join("b.txt"), "b2").unwrap();
    assert_eq!(cached_steps(&build(&w, &dir, &["-t", "c"])), vec![2, 3, 4]);
    std::fs::write(dir.join("ignored.txt"), "i2").unwrap();
    assert_eq!(cached_steps(&build(&w, &dir, &["-t", "c"])), all_but_from);
    assert_eq!(
        run(&w, "c", &["ls", "-A", "/ctx"]),
        ".dockerignore\nDockerfile\na.txt\nb.txt\nc.txt\n"
    );
    let out = build(&w, &dir, &["-t", "c", "--build-arg", "V=2"]);
    assert_eq!(cached_steps(&out), Vec::<usize>::new());
    assert_eq!(run(&w, "c", &[]), "2\n");
    std::fs::write(dir.join(".dockerignore"), "ignored.txt\nc.txt\n").unwrap();
    let out = build(&w, &dir, &["-t", "c", "--build-arg", "V=2"]);
    assert_eq!(cached_steps(&out), vec![2, 3, 4]);
    assert_eq!(
        run(&w, "c", &["ls", "-A", "/ctx"]),
        ".dockerignore\nDockerfile\na.txt\nb.txt\n"
    );
    let out = build(&w, &dir, &["-t", "c", "--build-arg", "V=2", "--no-cache"]);
    assert_eq!(cached_steps(&out), Vec::<usize>::new());
    // The cache is in the store: it survives the daemon.
    w.ok(&["daemon", "stop"]);
    let out = build(&w, &dir, &["-t", "c", "--build-arg", "V=2"]);
    assert_eq!(cached_steps(&out), all_but_from);
    let history = w.ok(&["history", "-q", "c"]);
    assert_eq!(
        history.lines().count(),
        7,
        "a row for each of the 6 steps over the base's one:\n{history}"
    );
    // Reclaimed by builder prune -a (the tagged image stays).
    let pruned = w.ok(&["builder", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted build cache objects"), "{pruned}");
    let out = build(&w, &dir, &["-t", "c", "--build-arg", "V=2"]);
    assert_eq!(cached_steps(&out), Vec::<usize>::new());
    assert_eq!(run(&w, "c", &[]), "2\n");
}

#[test]
fn copy_lands_through_the_images_symlinks_and_keeps_its_directories() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // A base with a symlinked directory and a private directory owned by someone else.
    let base = context(
        &w,
        "base",
        &[(
            "Dockerfile",
            "FROM box\nRUN mkdir -p /srv/app /data && ln -s /srv/app /app && chown 1000:1000 /data && chmod 700 /data\n",
        )],
    );
    build(&w, &base, &["-t", "base"]);
    let dir = context(
        &w,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM base\nCOPY a.txt /app/\nCOPY a.txt /data/\nCOPY --chown=7:7 a.txt /new/deep/\nCOPY tree/ /app/tree/\n",
            ),
            ("a.txt", "A"),
            ("tree/one", "1"),
            ("tree/two", "2"),
        ],
    );
    build(&w, &dir, &["-t", "landed"]);
    let show = |cmd: &str| run(&w, "landed", &["sh", "-c", cmd]);
    assert_eq!(show("readlink /app; cat /srv/app/a.txt"), "/srv/app\nA");
    assert_eq!(
        show("stat -c '%a %u:%g' /data /new /new/deep"),
        "700 1000:1000\n755 7:7\n755 7:7\n"
    );
    assert_eq!(
        show("cat /data/a.txt /srv/app/tree/one /srv/app/tree/two"),
        "A12"
    );
    // A file deleted from the context is gone from the next build's COPY.
    std::fs::remove_file(dir.join("tree/two")).unwrap();
    let out = build(&w, &dir, &["-t", "landed"]);
    assert_eq!(cached_steps(&out), vec![2, 3, 4], "{out}");
    assert_eq!(show("ls /srv/app/tree"), "one\n");
    // A destination below a file is refused with its path.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM base\nCOPY a.txt /bin/busybox/inner\n",
    )
    .unwrap();
    let (_, err) = w.fails(&["build", "-t", "bad", &dir.display().to_string()]);
    assert!(err.contains("/bin/busybox is not a directory"), "{err}");
}

/// Wait (bounded) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Start `wharf build -t TAG DIR` and return once its RUN has printed "started".
fn build_until_started(w: &Wharf, dir: &Path, tag: &str) -> std::process::Child {
    use std::io::BufRead;
    let mut child = w
        .command()
        .args(["build", "--progress", "plain", "-t", tag])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    for line in out.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("started") {
            return child;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the build ended before its RUN started:\n{seen}");
}

#[test]
fn a_build_whose_client_goes_away_stops_its_run_and_leaves_nothing() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let dir = context(
        &w,
        "ctx",
        &[(
            "Dockerfile",
            "FROM box\nRUN echo started; sleep 60\nRUN touch /never\n",
        )],
    );
    let mut child = build_until_started(&w, &dir, "cancelled");
    // Ctrl-C of the client: the silent `sleep 60` must not outlive it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let _ = child.wait();
    eventually("the build container to go", || {
        w.ok(&["ps", "-aq"]).is_empty()
    });
    eventually("the build's mounts to go", || mounts_of(&w).is_empty());
    let (_, err) = w.fails(&["image", "inspect", "cancelled"]);
    assert!(err.to_lowercase().contains("no such"), "{err}");
    // The daemon is fine and the next build reuses nothing it should not.
    assert_eq!(w.ok(&["images", "-q", "box"]).lines().count(), 1);
}

#[test]
fn a_daemon_killed_mid_build_leaves_nothing_and_the_next_build_reuses_the_done_steps() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let dir = context(
        &w,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM box\nCOPY a.txt /a.txt\nRUN echo done > /done\nRUN echo started; sleep 60\n",
            ),
            ("a.txt", "a"),
        ],
    );
    let mut child = build_until_started(&w, &dir, "killed");
    let pid = w.daemon_pid().expect("a daemon");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    eventually("the killed daemon to be gone", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    // The next command starts a daemon that removes the build's container (whose supervisor
    // outlived the daemon) and what it had mounted.
    assert_eq!(w.ok(&["ps", "-aq"]), "");
    eventually("the build's mounts to go", || mounts_of(&w).is_empty());
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM box\nCOPY a.txt /a.txt\nRUN echo done > /done\nRUN echo finished\n",
    )
    .unwrap();
    let out = build(&w, &dir, &["-t", "killed"]);
    assert_eq!(cached_steps(&out), vec![2, 3], "{out}");
    assert_eq!(run(&w, "killed", &["cat", "/done"]), "done\n");
}

/// A tiny HTTP server on 127.0.0.1 for ADD <url>: `/file.txt` (with Last-Modified),
/// `/go` (a redirect to it), anything else 404. Serves until the test ends.
fn web_server(body: &'static str) -> u16 {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or("/").to_string();
            let reply = match path.as_str() {
                "/file.txt" => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                "/go" => "HTTP/1.1 302 Found\r\nLocation: /file.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    port
}

#[test]
fn add_downloads_urls_checks_their_checksum_and_keys_the_cache_on_content() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let port = web_server("from the web\n");
    // sha256 of "from the web\n"
    let sum = "sha256:8a4f0f1cde4ed5c2bfc9f8b2b0a9b3d6c5ed2a8bd52f5ed7cf7b3d0d1f8b5b3c";
    let dir = context(
        &w,
        "ctx",
        &[(
            "Dockerfile",
            &format!(
                "FROM box\nADD http://127.0.0.1:{port}/file.txt /web/\nADD http://127.0.0.1:{port}/go /web/renamed.txt\nRUN cat /web/file.txt\n"
            ),
        )],
    );
    let out = build(&w, &dir, &["-t", "web"]);
    assert!(out.contains("from the web"), "{out}");
    assert_eq!(
        run(
            &w,
            "web",
            &[
                "sh",
                "-c",
                "stat -c '%a %Y %n' /web/file.txt /web/renamed.txt"
            ]
        ),
        "600 1796119200 /web/file.txt\n600 1796119200 /web/renamed.txt\n"
    );
    // Downloaded again on each build, but the same content is a cache hit.
    assert_eq!(
        cached_steps(&build(&w, &dir, &["-t", "web"])),
        vec![2, 3, 4]
    );
    // A checksum that does not match fails the step and names both digests.
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM box\nADD --checksum={sum} http://127.0.0.1:{port}/file.txt /f\n"),
    )
    .unwrap();
    let (_, err) = w.fails(&["build", "-t", "bad", &dir.display().to_string()]);
    assert!(err.contains("checksum mismatch"), "{err}");
    let real = {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(b"from the web\n"))
        )
    };
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM box\nADD --checksum={real} http://127.0.0.1:{port}/file.txt /f\n"),
    )
    .unwrap();
    build(&w, &dir, &["-t", "good"]);
    assert_eq!(run(&w, "good", &["cat", "/f"]), "from the web\n");
    // A missing file names the status.
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM box\nADD http://127.0.0.1:{port}/nope /f\n"),
    )
    .unwrap();
    let (_, err) = w.fails(&["build", "-t", "bad", &dir.display().to_string()]);
    assert!(err.contains("404"), "{err}");
}

/// Mounts under this engine's root and run root (a build must leave none behind).
fn mounts_of(w: &Wharf) -> Vec<String> {
    let root = w.dir.path().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|m| m.starts_with(&root))
        .collect()
}

#[test]
fn target_builds_only_needed_stages_and_independent_ones_in_parallel() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // Stages a and b each wait (bounded) for the other's mark in a shared cache mount:
    // they can only both succeed if they run at the same time.
    let wait_for = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=sync,target=/s touch /s/{me} && for i in $(seq 100); do [ -e /s/{other} ] && break; sleep 0.1; done && [ -e /s/{other} ] && echo {me} > /{me}"
        )
    };
    let dockerfile = format!(
        "FROM box AS a\n{}\nFROM box AS b\n{}\nFROM box AS broken\nRUN exit 3\nFROM box AS final\nCOPY --from=a /a /\nCOPY --from=b /b /\nFROM broken\n",
        wait_for("a", "b"),
        wait_for("b", "a")
    );
    let dir = context(&w, "ctx", &[("Dockerfile", &dockerfile)]);
    let out = build(&w, &dir, &["--target", "final", "-t", "multi"]);
    assert!(
        !out.contains("exit 3"),
        "the unneeded stage was built:\n{out}"
    );
    assert_eq!(run(&w, "multi", &["cat", "/a", "/b"]), "a\nb\n");
    // The last stage is the default target; it needs `broken`.
    let (code, err) = w.fails(&[
        "build",
        "--progress",
        "plain",
        "-t",
        "nope",
        &dir.display().to_string(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Dockerfile:6") && err.contains("returned a non-zero code: 3"),
        "{err}"
    );
    assert!(!w.ok(&["images"]).contains("nope"));
    assert_eq!(w.ok(&["ps", "-aq"]), "");
    assert_eq!(mounts_of(&w), Vec::<String>::new());
}

#[test]
fn run_mounts_cache_persists_and_secrets_stay_out_of_layers() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let secret = "s3cr3t-t0ken-value";
    let dir = context(
        &w,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM box\nRUN --mount=type=cache,target=/cache echo run >> /cache/log && cp /cache/log /seen\nRUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /toklen\nRUN --mount=type=tmpfs,target=/scratch echo t > /scratch/f && ! [ -e /x ]\nRUN --mount=type=bind,source=data,target=/in cp /in/d /from-bind\n",
            ),
            ("data/d", "bound"),
        ],
    );
    let secret_file = w.dir.path().join("tok");
    std::fs::write(&secret_file, secret).unwrap();
    let secret_arg = format!("id=tok,src={}", secret_file.display());
    build(&w, &dir, &["-t", "m", "--secret", &secret_arg]);
    assert_eq!(run(&w, "m", &["cat", "/seen"]), "run\n");
    assert_eq!(
        run(&w, "m", &["cat", "/toklen", "/from-bind"]).trim(),
        format!("{}\nbound", secret.len())
    );
    assert_eq!(
        run(
            &w,
            "m",
            &["sh", "-c", "ls -A /cache /scratch 2>/dev/null | wc -l"]
        )
        .trim(),
        "0"
    );
    build(
        &w,
        &dir,
        &["-t", "m", "--no-cache", "--secret", &secret_arg],
    );
    assert_eq!(
        run(&w, "m", &["cat", "/seen"]),
        "run\nrun\n",
        "the cache mount persists"
    );
    // The secret is in no layer on disk.
    fn scan(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
        let mut hits = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            if md.is_dir() {
                hits.extend(scan(&e.path(), needle));
            } else if md.is_file() {
                let data = std::fs::read(e.path()).unwrap_or_default();
                if data.windows(needle.len()).any(|x| x == needle) {
                    hits.push(e.path());
                }
            }
        }
        hits
    }
    assert_eq!(
        scan(&w.root.join("layers"), secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        scan(&w.root.join("blobs"), secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(mounts_of(&w), Vec::<String>::new());
}

#[test]
fn bad_input_is_named_and_leaves_nothing() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let cases: &[(&str, &[&str])] = &[
        (
            "FROM box\n\nRUNN echo\n",
            &[
                "Dockerfile:3",
                "unknown instruction: RUNN",
                "did you mean RUN?",
            ],
        ),
        (
            "FROM box\nCOPY --bogus=1 a /\n",
            &["Dockerfile:2", "unknown flag: --bogus"],
        ),
        (
            "FROM box\nCOPY nope.txt /\n",
            &["Dockerfile:2", "nope.txt", "file not found"],
        ),
        (
            "FROM box\nCOPY ../x /\n",
            &["Dockerfile:2", "outside the build context"],
        ),
        (
            "FROM box\nCOPY --from=nosuch /a /\n",
            &["Dockerfile:2", "--from=nosuch", "no stage"],
        ),
        (
            "FROM box AS a\nCOPY --from=b /a /x\nFROM box AS b\nCOPY --from=a /a /y\n",
            &["circular dependency"],
        ),
        (
            "FROM box\nRUN echo failing-output; exit 7\n",
            &["Dockerfile:2", "non-zero code: 7", "failing-output"],
        ),
        ("FROM nosuchimage\n", &["Dockerfile:1", "nosuchimage"]),
        ("FROM box\nENV A\n", &["Dockerfile:2", "ENV"]),
        (
            "FROM box\nRUN --mount=type=volume,target=/x true\n",
            &["Dockerfile:2", "unknown mount type"],
        ),
    ];
    for (i, (dockerfile, wants)) in cases.iter().enumerate() {
        let dir = context(
            &w,
            &format!("bad{i}"),
            &[("Dockerfile", dockerfile), ("a", "a")],
        );
        let (code, err) = w.fails(&["build", "-t", "bad", &dir.display().to_string()]);
        assert_eq!(code, 1, "{dockerfile}: {err}");
        for want in *wants {
            assert!(
                err.contains(want),
                "{dockerfile:?}: expected {want:?} in:\n{err}"
            );
        }
    }
    let empty = context(&w, "empty", &[("x", "")]);
    let (_, err) = w.fails(&["build", &empty.display().to_string()]);
    assert!(err.contains("Dockerfile"), "{err}");
    // A context that is not a tar, straight to the API.
    let out = Command::new("curl")
        .args(["-s", "--unix-socket"])
        .arg(w.socket())
        .args([
            "-X",
            "POST",
            "--data-binary",
            "this is not a tar archive, not at all, no",
            "http://wharf/build",
        ])
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("errorDetail") && body.contains("not a valid tar"),
        "{body}"
    );
    assert!(!w.ok(&["images"]).contains("bad"));
    assert_eq!(w.ok(&["ps", "-aq"]), "");
    assert_eq!(mounts_of(&w), Vec::<String>::new());
}

#[test]
fn stdin_dockerfile_iidfile_quiet_and_labels() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let mut child = w
        .command()
        .args(["build", "-q", "-t", "fromstdin", "--label", "k=v", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM box\nRUN echo from-stdin > /f\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.starts_with("sha256:") && !id.contains('\n'), "{id:?}");
    assert_eq!(w.inspect("fromstdin", "{{.Id}}"), id);
    assert_eq!(
        w.inspect("fromstdin", "{{json .Config.Labels}}"),
        r#"{"k":"v"}"#
    );
    let iid = w.dir.path().join("iid");
    let dir = context(
        &w,
        "ctx",
        &[("df/Dockerfile.prod", "FROM box\nCMD [\"echo\", \"prod\"]\n")],
    );
    let df = dir.join("df/Dockerfile.prod").display().to_string();
    let iid_s = iid.display().to_string();
    build(&w, &dir, &["-f", &df, "--iidfile", &iid_s, "-t", "prod"]);
    assert_eq!(
        std::fs::read_to_string(&iid).unwrap(),
        w.inspect("prod", "{{.Id}}")
    );
    assert_eq!(run(&w, "prod", &[]), "prod\n");
}

#[test]
fn the_docker_cli_builds_with_the_classic_builder() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let dir = context(
        &w,
        "ctx",
        &[
            ("sub/Dockerfile", "FROM box\nARG X=0\nCOPY f.txt /f.txt\nRUN echo $X >> /f.txt\nCMD [\"cat\", \"/f.txt\"]\n"),
            ("f.txt", "file\n"),
            (".dockerignore", "ignored\n"),
            ("ignored", "x"),
        ],
    );
    let docker = |args: &[&str]| {
        let out = Command::new("/usr/local/bin/docker")
            .args(args)
            .current_dir(&dir)
            .env("DOCKER_HOST", format!("unix://{}", w.socket().display()))
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // The daemon must be up for the docker CLI.
    w.ok(&["images"]);
    let out = docker(&[
        "build",
        "-t",
        "viadocker:1",
        "--build-arg",
        "X=42",
        "-f",
        "sub/Dockerfile",
        ".",
    ]);
    assert!(out.contains("Successfully tagged viadocker:1"), "{out}");
    assert_eq!(run(&w, "viadocker:1", &[]), "file\n42\n");
    let id = docker(&[
        "build",
        "-q",
        "--build-arg",
        "X=42",
        "-f",
        "sub/Dockerfile",
        ".",
    ]);
    assert_eq!(id.trim(), w.inspect("viadocker:1", "{{.Id}}"));
    // wharf's own client names the directory instead of sending a tar: the same files give
    // the same cache keys, so it reuses every step the docker CLI's build made.
    let d = dir.display().to_string();
    let f = dir.join("sub/Dockerfile").display().to_string();
    let ours = w.ok(&[
        "build",
        "--progress",
        "plain",
        "--build-arg",
        "X=42",
        "-f",
        &f,
        &d,
    ]);
    assert_eq!(cached_steps(&ours), vec![2, 3, 4, 5], "{ours}");
    let history = docker(&["history", "viadocker:1"]);
    assert!(history.contains("COPY f.txt /f.txt"), "{history}");
    docker(&["builder", "prune", "-f"]);
    docker(&["system", "prune", "-f"]);
}

#[test]
fn a_debian_build_installs_a_package_with_apt_get() {
    let w = Wharf::new();
    let rootfs = common::debian::rootfs();
    w.ok(&[
        "import",
        "-c",
        "CMD [\"bash\"]",
        &rootfs.display().to_string(),
        "debian:bookworm",
    ]);
    let dir = context(
        &w,
        "ctx",
        &[(
            "Dockerfile",
            "FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\nCMD [\"hello\"]\n",
        )],
    );
    build(&w, &dir, &["-t", "deb-hello"]);
    assert_eq!(run(&w, "deb-hello", &[]), "Hello, world!\n");
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}
