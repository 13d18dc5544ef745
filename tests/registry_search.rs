//! `wharf search` and the docker CLI's `docker search` against `wharf daemon`: a private
//! registry's catalog (Debian's docker-registry on 127.0.0.1) filtered by the term, with
//! `--limit`, `--filter`, `--format`, both CLIs printing the same table; Docker Hub out of
//! reach (the daemon's proxy is not there, so nothing leaves 127.0.0.0/8) is a clear error.

#[path = "common/clients.rs"]
mod clients;
mod common;
#[path = "common/registry.rs"]
mod registry;

use clients::Docker;
use common::Wharf;
use registry::{Daemon, Registry};

/// Output with each line's trailing blanks dropped (docker's tabwriter pads an empty last
/// column; wharf's tables end at the last character).
fn trimmed(out: &str) -> String {
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

#[test]
fn search_a_registrys_catalog_with_wharf_and_the_docker_cli_and_hub_offline() {
    let source = Wharf::new();
    source.busybox_image("box", &[]);
    let archive = source.dir.path().join("box.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    let reg = Registry::start(31000 + source.slot as u16);
    for name in ["team/alpha:1", "team/beta:1", "other/alphabet:1"] {
        reg.push(&archive, name);
    }

    let w = Wharf::new();
    let hub_proxy = format!("http://127.0.0.1:{}", 31250 + w.slot);
    let _daemon = Daemon::start(&w, None, &[("HTTPS_PROXY", &hub_proxy)]);
    let docker = Docker::new(&w);
    let term = format!("{}/ALPHA", reg.addr);

    let out = w.ok(&["search", &term]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"],
        "{out}"
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("{}/other/alphabet", reg.addr),
            format!("{}/team/alpha", reg.addr)
        ],
        "{out}"
    );
    assert!(lines[1].trim_end().ends_with(" 0"), "{out}");
    // The docker CLI asks the daemon the same and prints the same.
    assert_eq!(trimmed(&docker.ok(&["search", &term])), out);

    let args = |extra: &[&str]| {
        let mut v: Vec<String> = vec!["search".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(term.clone());
        v
    };
    let both = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let mine = w.ok(&a);
        assert_eq!(trimmed(&docker.ok(&a)), mine, "{a:?}");
        mine
    };
    assert_eq!(
        both(&[
            "--limit",
            "1",
            "--format",
            "{{.Name}}|{{.StarCount}}|{{.IsOfficial}}"
        ]),
        format!("{}/other/alphabet|0|\n", reg.addr)
    );
    assert_eq!(both(&["--filter", "stars=1"]).lines().count(), 1);
    assert_eq!(both(&["--filter", "is-official=true"]).lines().count(), 1);
    assert_eq!(both(&["--filter", "is-official=false"]).lines().count(), 3);
    assert_eq!(
        both(&["--no-trunc", "--format", "{{.Name}}"])
            .lines()
            .count(),
        2
    );
    let everything = w.ok(&["search", "--format", "{{.Name}}", &format!("{}/", reg.addr)]);
    assert_eq!(everything.lines().count(), 3, "{everything}");

    // Bad input: dockerd's words.
    let (_, err) = w.fails(&["search", "--filter", "color=red", &term]);
    assert!(err.contains("invalid filter 'color'"), "{err}");
    let (_, err) = w.fails(&["search", "--filter", "stars=many", &term]);
    assert!(err.contains("invalid filter 'stars=many'"), "{err}");
    let (_, err) = w.fails(&["search", "--limit", "101", &term]);
    assert!(
        err.contains("limit 101 is outside the range of [1, 100]"),
        "{err}"
    );
    let err = docker.fails(&["search", "--filter", "color=red", &term]);
    assert!(err.contains("invalid filter 'color'"), "{err}");
    // A registry that is not there.
    let (_, err) = w.fails(&["search", &format!("127.0.0.1:{}/x", 31250 + w.slot)]);
    assert!(err.contains("onnection refused"), "{err}");

    // Docker Hub, unreachable: a clear error naming it, from both CLIs.
    let (code, err) = w.fails(&["search", "busybox"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("searching Docker Hub")
            && err.contains("https://index.docker.io/v1/search?q=busybox&n=25")
            && err.contains(&hub_proxy),
        "{err}"
    );
    let err = docker.fails(&["search", "busybox"]);
    assert!(
        err.contains("Error response from daemon") && err.contains("searching Docker Hub"),
        "{err}"
    );
}
