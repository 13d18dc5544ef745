//! Real builds: every instruction's effect checked by running the image, the step cache hit
//! and missed exactly where an edit says, multi-stage targets and parallel stages, RUN
//! mounts, secrets absent from layers, bad input, and the docker CLI's classic builder.

mod common;

use std::path::{Path, PathBuf};

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
