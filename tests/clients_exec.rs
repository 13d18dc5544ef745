//! Exec as Docker clients drive it (issue 12): the detach keys docker-py sends from its
//! config file, spelled `detachKeys` (Go takes JSON keys in any case).

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api_json, Docker};
use common::Wharf;

#[test]
fn exec_takes_detach_keys_spelled_as_docker_py_does() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "cat",
        "--network",
        "none",
        "box",
        "cat",
    ]);
    let body = r#"{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true,"Tty":true,"detachKeys":"ctrl-x"}"#;
    let exec = api_json(&w, "POST", "/containers/cat/exec", Some(body), 201);
    let path = format!("/exec/{}/start", exec["Id"].as_str().unwrap());
    let limit = std::time::Duration::from_secs(10);
    let (_, out, closed) =
        clients::hijack(&w, &path, r#"{"Tty":true}"#, &[b"hi\n", b"\x18"], limit);
    assert!(closed, "ctrl-x detaches: {out:?}");
    // The default keys no longer detach this exec: ctrl-p ctrl-q pass through.
    let exec = api_json(&w, "POST", "/containers/cat/exec", Some(body), 201);
    let path = format!("/exec/{}/start", exec["Id"].as_str().unwrap());
    let short = std::time::Duration::from_secs(2);
    let (_, _, closed) = clients::hijack(&w, &path, r#"{"Tty":true}"#, &[b"\x10\x11"], short);
    assert!(
        !closed,
        "ctrl-p ctrl-q must not detach an exec with ctrl-x keys"
    );
}
