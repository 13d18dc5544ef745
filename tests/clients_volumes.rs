//! Volumes and bind mounts as the docker CLI sees them (issue 12, found by docker-py):
//! copying into a volume of a container never started, a volume's `Subpath` (and the
//! subpaths refused: out of the volume, through a symlink, missing), and bind propagation
//! set as asked.

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api_json, Docker};
use common::Wharf;

#[test]
fn cp_into_the_volume_of_a_container_never_started() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&[
        "create",
        "--name",
        "c",
        "--network",
        "none",
        "-v",
        "/vol1",
        "box",
        "cat",
        "/vol1/f.txt",
    ]);
    let f = w.dir.path().join("f.txt");
    std::fs::write(&f, "Deaf To All But The Song\n").unwrap();
    d.ok(&["cp", f.to_str().unwrap(), "c:/vol1"]);
    d.ok(&["start", "-a", "c"]);
    assert_eq!(d.ok(&["logs", "c"]), "Deaf To All But The Song\n");
}

#[test]
fn a_volume_subpath_mounts_only_that_directory() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&["volume", "create", "data"]);
    d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/vol",
        "box",
        "sh",
        "-c",
        "mkdir -p /vol/subdir && echo content > /vol/subdir/f.txt && ln -s /etc /vol/out",
    ]);
    let mount = "type=volume,src=data,dst=/mnt,volume-subpath=subdir,readonly";
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        mount,
        "box",
        "ls",
        "/mnt",
    ]);
    assert_eq!(out, "f.txt\n");
    d.ok(&[
        "create",
        "--name",
        "sub",
        "--network",
        "none",
        "--mount",
        mount,
        "box",
    ]);
    let m = &api_json(&w, "GET", "/containers/sub/json", None, 200)["HostConfig"]["Mounts"][0];
    assert_eq!(m["VolumeOptions"]["Subpath"], "subdir", "{m}");

    // Never out of the volume: not by `..`, not through the volume's own symlink.
    let err = d.fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        "type=volume,src=data,dst=/mnt,volume-subpath=../x",
        "box",
        "true",
    ]);
    assert!(err.contains("relative path inside the volume"), "{err}");
    let err = d.fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        "type=volume,src=data,dst=/mnt,volume-subpath=out",
        "box",
        "ls",
        "/mnt",
    ]);
    assert!(err.contains("leads out of the volume"), "{err}");
    let err = d.fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        "type=volume,src=data,dst=/mnt,volume-subpath=nope",
        "box",
        "true",
    ]);
    assert!(err.contains("cannot access path \"nope\""), "{err}");
}

#[test]
fn bind_propagation_is_set_and_shown_as_asked() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let src = w.dir.path().join("shared");
    std::fs::create_dir_all(&src).unwrap();
    let bind = format!("{}:/m:rshared", src.display());
    d.ok(&[
        "run",
        "--name",
        "p",
        "--network",
        "none",
        "-v",
        &bind,
        "box",
        "sh",
        "-c",
        "grep ' /m ' /proc/self/mountinfo",
    ]);
    assert!(
        d.ok(&["logs", "p"]).contains("shared:"),
        "{}",
        d.ok(&["logs", "p"])
    );
    let template = "{{range .Mounts}}{{.Destination}}={{.Propagation}}{{end}}";
    assert_eq!(d.ok(&["inspect", "-f", template, "p"]).trim(), "/m=rshared");
    let plain = format!("{}:/m", src.display());
    d.ok(&["create", "--name", "q", "-v", &plain, "box"]);
    assert_eq!(
        d.ok(&["inspect", "-f", template, "q"]).trim(),
        "/m=rprivate"
    );
}
