//! Whole repositories and smarter uploads against a real registry (Debian's docker-registry on
//! 127.0.0.1): `push --all-tags` and `pull --all-tags` (with wharf and the docker CLI), a push
//! to a second repository of the same registry mounting the blobs it already has there
//! (`Mounted from`), and a large layer uploaded in 16 MiB `PATCH`es (seen by a front that logs
//! the requests) that pulls back whole.

#[path = "common/clients.rs"]
mod clients;
mod common;
#[path = "common/registry.rs"]
mod registry;

use clients::Docker;
use common::Wharf;
use registry::{layered_image, Front, Registry};

fn tags(reg: &str, repo: &str) -> Vec<String> {
    let out = std::process::Command::new("curl")
        .args(["--noproxy", "*", "-sS", "--fail-with-body"])
        .arg(format!("http://{reg}/v2/{repo}/tags/list"))
        .output()
        .expect("tests need curl");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut t: Vec<String> = v["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn all_tags_are_pushed_and_pulled_and_known_blobs_are_mounted() {
    let source = Wharf::new();
    let reg = Registry::start(33000 + source.slot as u16);
    let repo = format!("{}/whole/app", reg.addr);
    source.busybox_image("one", &[r#"CMD ["echo", "one"]"#]);
    source.busybox_image("two", &[r#"CMD ["echo", "two"]"#]);
    source.ok(&["tag", "one", &format!("{repo}:1")]);
    source.ok(&["tag", "two", &format!("{repo}:2")]);
    source.ok(&["tag", "two", &format!("{repo}:latest")]);

    let (_, err) = source.fails(&["push", "--all-tags", &format!("{repo}:1")]);
    assert!(
        err.contains("tag can't be used with --all-tags/-a"),
        "{err}"
    );
    let out = source.ok(&["push", "-a", &repo]);
    for t in ["1", "2", "latest"] {
        assert!(
            out.contains(&format!("{t}: digest: sha256:")),
            "{t} in {out}"
        );
    }
    assert_eq!(tags(&reg.addr, "whole/app"), ["1", "2", "latest"]);

    // Every tag the registry lists, in a store that had none of them.
    let w = Wharf::new();
    let out = w.ok(&["pull", "--all-tags", &repo]);
    assert!(out.ends_with(&format!("{repo}\n")), "{out}");
    for t in ["1", "2", "latest"] {
        assert!(
            out.contains(&format!("{t}: Pulling from whole/app")),
            "{out}"
        );
    }
    assert_eq!(w.ok(&["run", "--rm", &format!("{repo}:1")]), "one\n");
    assert_eq!(w.ok(&["run", "--rm", &format!("{repo}:2")]), "two\n");
    let (_, err) = w.fails(&["pull", "-a", &format!("{repo}:2")]);
    assert!(
        err.contains("tag can't be used with --all-tags/-a"),
        "{err}"
    );

    // The docker CLI's pull -a through wharf's API.
    let cli = Wharf::new();
    Docker::new(&cli).ok(&["pull", "-a", &repo]);
    let listed = cli.ok(&["images", "--format", "{{.Tag}}"]);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(listed, ["1", "2", "latest"]);

    // The image is in whole/app (its repo digest says so): a push to another repository of
    // the registry mounts its blobs from there instead of sending them.
    let other = format!("{}/other/app:1", reg.addr);
    source.ok(&["tag", "one", &other]);
    let out = source.ok(&["push", &other]);
    assert!(out.contains("Mounted from whole/app"), "{out}");
    assert!(!out.contains(": Pushed"), "{out}");
    let fresh = Wharf::new();
    fresh.ok(&["pull", &other]);
    assert_eq!(fresh.ok(&["run", "--rm", &other]), "one\n");
}

#[test]
fn a_large_layer_goes_up_in_chunks_and_comes_back_whole() {
    let source = Wharf::new();
    let reg = Registry::start(33250 + source.slot as u16);
    let front = Front::start(33500 + source.slot as u16, &reg.addr, source.dir.path());
    // 40 MiB of random bytes: three chunks of at most 16 MiB.
    layered_image(&source, "big", 1, 40 * 1024);
    let image = format!("{}/big/img:1", front.addr);
    source.ok(&["tag", "big", &image]);
    source.ok(&["push", &image]);
    let seen = front.take();
    let patches: Vec<_> = seen
        .iter()
        .filter(|s| s.method() == "PATCH" && s.event() == "served")
        .collect();
    assert_eq!(patches.len(), 3, "{seen:?}");
    assert!(patches.iter().all(|p| p.0["status"] == 202), "{patches:?}");

    let w = Wharf::new();
    w.ok(&["pull", &image]);
    assert_eq!(
        w.ok(&["run", "--rm", &image, "sh", "-c", "wc -c < /data/f0"])
            .trim(),
        (40 * 1024 * 1024).to_string()
    );
}
