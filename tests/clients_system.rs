//! System endpoints as Docker clients use them (issue 12): `events` replaying history with
//! `since`/`until`, and API versions outside the daemon's range refused like dockerd.

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api, Docker};
use common::Wharf;

#[test]
fn events_since_and_until_replay_what_happened() {
    let w = Wharf::new();
    w.ok(&["ps"]);
    let t0 = chrono_now() - 1;
    w.ok(&["volume", "create", "ev1"]);
    w.ok(&["volume", "rm", "ev1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let t1 = chrono_now();
    w.ok(&["volume", "create", "ev2"]);
    // A window in the past: replayed, then the stream ends.
    let (since, until) = (t0.to_string(), t1.to_string());
    let out = w.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(out, "create ev1\ndestroy ev1\n", "{out}");
    // The docker CLI sees the same, and filters apply to the replay.
    let d = Docker::new(&w);
    let out = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=destroy",
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(out, "destroy ev1\n", "{out}");
    // Since alone: the replay, then the live stream (ended here by until in the future).
    let later = (chrono_now() + 1).to_string();
    let out = w.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &later,
        "--format",
        "{{.Actor.ID}}",
    ]);
    assert_eq!(out, "ev1\nev1\nev2\n", "{out}");
    w.ok(&["volume", "rm", "ev2"]);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn api_versions_outside_the_range_are_refused_like_dockerd() {
    let w = Wharf::new();
    w.ok(&["ps"]);
    let (code, body) = api(&w, "GET", "/v1.12/version", None);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("client version 1.12 is too old. Minimum supported API version is 1.24"),
        "{body}"
    );
    let (code, body) = api(&w, "GET", "/v9.1/containers/json", None);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("client version 9.1 is too new. Maximum supported API version is"),
        "{body}"
    );
    let (code, _) = api(&w, "GET", "/v1.41/containers/json", None);
    assert_eq!(code, 200);
    // Versions and architectures as Go spells them.
    let (_, body) = api(&w, "GET", "/version", None);
    assert!(!body.contains("x86_64"), "{body}");
}
