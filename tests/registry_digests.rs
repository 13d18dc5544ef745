//! Images by digest against a real registry (Debian's docker-registry on 127.0.0.1):
//! `RepoDigests` filled after pull and push, `pull name@sha256:…` (verified, tagging nothing,
//! the image then known by that name) with wharf and the docker CLI.

#[path = "common/clients.rs"]
mod clients;
mod common;
#[path = "common/registry.rs"]
mod registry;

use clients::Docker;
use common::Wharf;
use registry::Registry;

/// The `sha256:…` after `marker` in `out`.
fn digest_after<'a>(out: &'a str, marker: &str) -> &'a str {
    let at = out
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in {out}"))
        + marker.len();
    &out[at..at + 71]
}

#[test]
fn repo_digests_after_pull_and_push_and_pulls_by_digest() {
    let source = Wharf::new();
    source.busybox_image("box", &[r#"CMD ["echo", "by-digest"]"#]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    let reg = Registry::start(31500 + source.slot as u16);
    reg.push(&archive, "dig/box:1");
    let repo = format!("{}/dig/box", reg.addr);

    let w = Wharf::new();
    let out = w.ok(&["pull", &format!("{repo}:1")]);
    let digest = digest_after(&out, "Digest: ").to_string();
    assert_eq!(
        w.inspect(&format!("{repo}:1"), "{{json .RepoDigests}}"),
        format!(r#"["{repo}@{digest}"]"#)
    );

    // By digest, in an empty store: verified, no tag, known by the digest.
    let by_digest = format!("{repo}@{digest}");
    let fresh = Wharf::new();
    let out = fresh.ok(&["pull", &by_digest]);
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {by_digest}")),
        "{out}"
    );
    assert_eq!(
        fresh.inspect(&by_digest, "{{.Id}}"),
        source.inspect("box", "{{.Id}}")
    );
    assert_eq!(fresh.ok(&["run", "--rm", &by_digest]), "by-digest\n");
    let listed = fresh.ok(&["images", "--format", "{{.Repository}} {{.Tag}}"]);
    assert_eq!(listed.trim(), format!("{repo} <none>"), "{listed}");
    let again = fresh.ok(&["pull", &by_digest]);
    assert!(again.contains("Image is up to date"), "{again}");
    let wrong = format!("{repo}@sha256:{}", "0".repeat(64));
    let (_, err) = fresh.fails(&["pull", &wrong]);
    assert!(
        err.contains("not found") || err.contains("unknown"),
        "{err}"
    );

    // The docker CLI pulls by digest through wharf's API the same way.
    let cli = Wharf::new();
    let docker = Docker::new(&cli);
    let out = docker.ok(&["pull", &by_digest]);
    assert!(out.contains(&digest), "{out}");
    assert_eq!(
        cli.inspect(&by_digest, "{{json .RepoDigests}}"),
        format!(r#"["{by_digest}"]"#)
    );

    // After a push, the image is known by the digest the registry took it under.
    let pushed = format!("{}/pushed/box:2", reg.addr);
    source.ok(&["tag", "box", &pushed]);
    let out = source.ok(&["push", &pushed]);
    let pushed_digest = digest_after(&out, "2: digest: ");
    let digests = source.inspect(&pushed, "{{json .RepoDigests}}");
    assert!(
        digests.contains(&format!("{}/pushed/box@{pushed_digest}", reg.addr)),
        "{digests}"
    );
}
