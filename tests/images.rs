//! Images end to end: import, docker-save archives (with whiteouts) both ways, save → load,
//! commit, tag, rmi, history, prune; bad archives leave the store as it was.

mod common;

use std::io::Write;

use common::{header, Wharf};

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = header();
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
        }
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A two-layer image in `docker save`'s legacy layout; the upper layer deletes a file with a
/// whiteout and replaces a directory's content with an opaque marker.
fn two_layer_archive(w: &Wharf) -> Vec<u8> {
    let base_path = w.dir.path().join("base.tar");
    common::busybox_rootfs_tar(
        &base_path,
        &[
            ("etc/gone.txt", b"delete me\n"),
            ("opt/keep.txt", b"kept\n"),
            ("var/old/a.txt", b"old\n"),
        ],
    );
    let lower = std::fs::read(&base_path).unwrap();
    let upper = tar_of(&[
        ("etc/.wh.gone.txt", b""),
        ("opt/new.txt", b"new\n"),
        ("var/old/", b""),
        ("var/old/.wh..wh..opq", b""),
        ("var/old/b.txt", b"fresh\n"),
    ]);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&lower), sha256(&upper)]},
        "history": [{"created_by": "base"}, {"created_by": "upper"}]
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", &sha256(&config)[7..]);
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["twolayer:latest"],
        "Layers": ["l1/layer.tar", "l2/layer.tar"]
    }]);
    tar_of(&[
        ("l1/", b""),
        ("l1/layer.tar", &lower),
        ("l2/", b""),
        ("l2/layer.tar", &upper),
        (&config_name, &config),
        ("manifest.json", &serde_json::to_vec(&manifest).unwrap()),
    ])
}

#[test]
fn docker_save_archives_load_with_whiteouts_and_round_trip() {
    let w = Wharf::new();
    let archive = two_layer_archive(&w);
    let path = w.dir.path().join("docker-save.tar");
    std::fs::write(&path, &archive).unwrap();
    let out = w.ok(&["load", "-i", path.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: twolayer:latest\n");
    let got = w.ok(&[
        "run",
        "--rm",
        "twolayer",
        "sh",
        "-c",
        "test ! -e /etc/gone.txt && cat /opt/keep.txt /opt/new.txt && ls /var/old",
    ]);
    assert_eq!(got, "kept\nnew\nb.txt\n");
    let images = w.ok(&["images"]);
    assert!(
        images.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{images}"
    );
    assert!(images.contains("twolayer     latest"), "{images}");
    let history = w.ok(&["history", "twolayer"]);
    assert!(
        history.contains("upper") && history.contains("base"),
        "{history}"
    );

    // save → rmi → load (gzip'd) gives the same image id back.
    let id = w.inspect("twolayer", "{{.Id}}");
    let saved = w.dir.path().join("saved.tar");
    w.ok(&["save", "-o", saved.to_str().unwrap(), "twolayer"]);
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&saved).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for required in ["manifest.json", "index.json", "oci-layout"] {
        assert!(names.iter().any(|n| n == required), "{names:?}");
    }
    w.ok(&["rmi", "twolayer"]);
    assert!(!w.ok(&["images"]).contains("twolayer"));
    let gz = w.dir.path().join("saved.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&saved).unwrap()).unwrap();
    enc.finish().unwrap();
    w.ok(&["load", "-i", gz.to_str().unwrap()]);
    assert_eq!(w.inspect("twolayer", "{{.Id}}"), id);
    assert_eq!(
        w.ok(&["run", "--rm", "twolayer", "cat", "/opt/new.txt"]),
        "new\n"
    );
}

#[test]
fn malformed_archives_leave_the_store_unchanged() {
    let w = Wharf::new();
    let archive = two_layer_archive(&w);
    let truncated = w.dir.path().join("truncated.tar");
    std::fs::write(&truncated, &archive[..archive.len() / 2]).unwrap();
    let (code, err) = w.fails(&["load", "-i", truncated.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("archive"), "{err}");
    let junk = w.dir.path().join("junk.tar");
    std::fs::write(
        &junk,
        b"this is not a tar file at all, not even close............",
    )
    .unwrap();
    w.fails(&["load", "-i", junk.to_str().unwrap()]);
    assert_eq!(w.ok(&["images", "-q"]), "");
    // No layer or blob was left behind.
    let layers: Vec<_> = std::fs::read_dir(w.root.join("layers")).unwrap().collect();
    assert!(layers.is_empty(), "{layers:?}");
    let blobs: Vec<_> = std::fs::read_dir(w.root.join("blobs/sha256"))
        .unwrap()
        .collect();
    assert!(blobs.is_empty(), "{blobs:?}");
}

#[test]
fn commit_tag_rmi_and_prune() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&[
        "run",
        "--name",
        "c1",
        "box",
        "sh",
        "-c",
        "echo changed > /hello.txt; rm /etc/group",
    ]);
    let id = w.ok(&[
        "commit",
        "-a",
        "me",
        "-m",
        "added hello",
        "-c",
        "ENV MARK=1",
        "c1",
        "box:v2",
    ]);
    assert!(id.trim().starts_with("sha256:"));
    assert_eq!(
        w.ok(&[
            "run",
            "--rm",
            "box:v2",
            "sh",
            "-c",
            "cat /hello.txt; echo $MARK; test -e /etc/group || echo no-group"
        ]),
        "changed\n1\nno-group\n"
    );
    assert_eq!(
        w.inspect("box:v2", "{{.Author}} {{.Comment}}"),
        "me added hello"
    );
    // Layers are shared: the committed image adds one layer on the same base.
    let base_layers = w.inspect("box", "{{json .RootFS.Layers}}");
    let v2_layers = w.inspect("box:v2", "{{json .RootFS.Layers}}");
    let base: Vec<String> = serde_json::from_str(&base_layers).unwrap();
    let v2: Vec<String> = serde_json::from_str(&v2_layers).unwrap();
    assert_eq!(v2.len(), base.len() + 1);
    assert_eq!(v2[..base.len()], base[..]);
    assert_eq!(std::fs::read_dir(w.root.join("layers")).unwrap().count(), 2);

    // export: the container's filesystem with the change.
    let exported = w.dir.path().join("fs.tar");
    w.ok(&["export", "-o", exported.to_str().unwrap(), "c1"]);
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&exported).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "hello.txt") && names.iter().any(|n| n == "bin/busybox"),
        "{names:?}"
    );

    // tag / rmi: untag vs delete; in use needs -f.
    w.ok(&["tag", "box:v2", "other/name:1"]);
    assert_eq!(w.ok(&["rmi", "other/name:1"]), "Untagged: other/name:1\n");
    w.ok(&["run", "--name", "user", "box:v2", "true"]);
    let (_, err) = w.fails(&["rmi", "box:v2"]);
    assert!(
        err.contains("container") && err.contains("is using its referenced image"),
        "{err}"
    );
    w.ok(&["rm", "user", "c1"]);
    let out = w.ok(&["rmi", "box:v2"]);
    assert!(
        out.contains("Untagged: box:v2") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    // The base layer stays (box uses it); the commit layer is gone.
    assert_eq!(std::fs::read_dir(w.root.join("layers")).unwrap().count(), 1);

    // A dangling image is pruned.
    w.ok(&["run", "--name", "c2", "box", "touch", "/x"]);
    w.ok(&["commit", "c2"]);
    w.ok(&["rm", "c2"]);
    let dangling = w.ok(&["images", "--filter", "dangling=true", "-q"]);
    assert_eq!(dangling.lines().count(), 1, "{dangling}");
    w.ok(&["image", "prune", "-f"]);
    assert_eq!(w.ok(&["images", "--filter", "dangling=true", "-q"]), "");
    assert_eq!(
        w.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "box:latest\n"
    );
}

#[test]
fn cp_into_and_out_of_containers() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["run", "-d", "--name", "c", "box", "sleep", "60"]);
    let local = w.dir.path().join("in.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    w.ok(&["cp", local.to_str().unwrap(), "c:/tmp/"]);
    assert_eq!(w.ok(&["exec", "c", "cat", "/tmp/in.txt"]), "copied in\n");
    w.ok(&["exec", "c", "sh", "-c", "echo out > /tmp/out.txt"]);
    let dest = w.dir.path().join("out.txt");
    w.ok(&["cp", "c:/tmp/out.txt", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "out\n");
    w.ok(&["rm", "-f", "c"]);
}
