//! A pull's progress as dockerd reports it, against a real registry (Debian's docker-registry
//! on 127.0.0.1): the API's JSON stream has each layer's `Pulling fs layer`, `Waiting` (over
//! `max-concurrent-downloads`), `Downloading` with its byte counts, `Verifying Checksum`,
//! `Download complete`, `Extracting`, `Pull complete` in that order, then `Digest:` and
//! `Status:`; `wharf pull` prints the lines docker prints without a terminal, and the docker CLI
//! shows the stream as it shows dockerd's.

#[path = "common/clients.rs"]
mod clients;
mod common;
#[path = "common/registry.rs"]
mod registry;

use std::collections::BTreeMap;

use clients::{api, Docker};
use common::Wharf;
use registry::{daemon_json, layered_image, Registry};

/// The JSON lines of a pull through the API.
fn pull_stream(w: &Wharf, image: &str, tag: &str) -> Vec<serde_json::Value> {
    let (code, body) = api(
        w,
        "POST",
        &format!("/v1.41/images/create?fromImage={image}&tag={tag}"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn pull_progress_follows_dockerds_sequence() {
    let source = Wharf::new();
    let archive = layered_image(&source, "prog", 3, 2048);
    let reg = Registry::start(32750 + source.slot as u16);
    reg.push(&archive, "prog/img:1");
    let image = format!("{}/prog/img", reg.addr);

    let w = Wharf::new();
    // One download at a time: the other layers wait, and say so.
    daemon_json(&w, serde_json::json!({"max-concurrent-downloads": 1}));
    w.ok(&["version"]);
    let lines = pull_stream(&w, &image, "1");
    assert!(lines.iter().all(|l| l.get("error").is_none()), "{lines:?}");
    let mut per_layer: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for l in &lines {
        if let (Some(id), Some(_)) = (l["id"].as_str(), l["status"].as_str()) {
            if id != "1" {
                per_layer.entry(id.to_string()).or_default().push(l);
            }
        }
    }
    assert_eq!(per_layer.len(), 4, "busybox and 3 layers: {per_layer:?}");
    let mut waited = 0;
    for (id, events) in &per_layer {
        let mut phases: Vec<&str> = events
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        phases.dedup();
        if phases.contains(&"Waiting") {
            waited += 1;
            phases.retain(|p| *p != "Waiting");
            assert_eq!(events[1]["status"], "Waiting", "{id}: {events:?}");
        }
        assert_eq!(
            phases,
            [
                "Pulling fs layer",
                "Downloading",
                "Verifying Checksum",
                "Download complete",
                "Extracting",
                "Pull complete"
            ],
            "{id}: {events:?}"
        );
        let last_download = events
            .iter()
            .rev()
            .find(|e| e["status"] == "Downloading")
            .unwrap();
        let detail = &last_download["progressDetail"];
        assert!(detail["total"].as_u64().unwrap() > 0, "{last_download}");
        assert_eq!(detail["current"], detail["total"], "{last_download}");
        assert!(last_download["progress"].as_str().unwrap().contains('/'));
    }
    assert!(waited >= 2, "{per_layer:?}");
    let statuses: Vec<&str> = lines.iter().filter_map(|l| l["status"].as_str()).collect();
    let n = statuses.len();
    assert!(
        statuses[n - 2].starts_with("Digest: sha256:"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses[n - 1],
        format!("Status: Downloaded newer image for {image}:1")
    );
    let again = pull_stream(&w, &image, "1");
    let last = again.last().unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(last, format!("Status: Image is up to date for {image}:1"));
    assert!(again
        .iter()
        .filter(|l| l["id"].as_str().is_some_and(|id| id != "1"))
        .all(|l| l["status"] == "Already exists"));

    // A push to another registry: each blob Preparing first, Pushing with its byte counts,
    // Pushed last.
    let other = Registry::start(33750 + source.slot as u16);
    let pushed = format!("{}/prog/pushed", other.addr);
    w.ok(&["tag", &format!("{image}:1"), &format!("{pushed}:1")]);
    let (code, body) = api(
        &w,
        "POST",
        &format!("/v1.41/images/{pushed}/push?tag=1"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut per_blob: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for l in &lines {
        if let Some(id) = l["id"].as_str() {
            per_blob.entry(id.to_string()).or_default().push(l);
        }
    }
    assert!(per_blob.len() >= 4, "{lines:?}");
    for (id, events) in &per_blob {
        assert_eq!(events[0]["status"], "Preparing", "{id}: {events:?}");
        assert_eq!(
            events.last().unwrap()["status"],
            "Pushed",
            "{id}: {events:?}"
        );
        assert!(
            events.iter().any(
                |e| e["status"] == "Pushing" && e["progressDetail"]["total"].as_u64() > Some(0)
            ),
            "{id}: {events:?}"
        );
    }
    assert!(lines.last().unwrap()["status"]
        .as_str()
        .unwrap()
        .starts_with("1: digest: sha256:"));

    // wharf pull without a terminal: docker's lines, the byte counts left out.
    let plain = Wharf::new();
    let out = plain.ok(&["pull", &format!("{image}:1")]);
    for want in [
        ": Pulling fs layer",
        ": Verifying Checksum",
        ": Download complete",
        ": Pull complete",
        "Digest: sha256:",
        "Status: Downloaded newer image for",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    assert!(
        !out.contains("Downloading") && !out.contains("Extracting"),
        "{out}"
    );

    // The docker CLI renders wharf's stream as dockerd's.
    let cli = Wharf::new();
    let out = Docker::new(&cli).ok(&["pull", &format!("{image}:1")]);
    for want in [
        "1: Pulling from prog/img",
        ": Pull complete",
        "Digest: sha256:",
        &format!("Status: Downloaded newer image for {image}:1"),
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
}
