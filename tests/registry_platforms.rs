//! Platforms and layer formats against a real registry (Debian's docker-registry on
//! 127.0.0.1), with images put there by hand (blob uploads and manifest PUTs): a
//! multi-platform index pulled for each of its platforms (`--platform`, the API's
//! `platform=`, the docker CLI, compose `platform:`, a `create --platform` whose image is
//! missing), the error for a platform it lacks, and an image of an uncompressed and a
//! zstd-compressed layer that pulls, verifies and runs.

#[path = "common/clients.rs"]
mod clients;
mod common;
#[path = "common/registry.rs"]
mod registry;

use std::process::Command;

use clients::Docker;
use common::Wharf;
use registry::Registry;
use sha2::Digest;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// A descriptor of `data`.
fn desc(media_type: &str, data: &[u8]) -> serde_json::Value {
    serde_json::json!({"mediaType": media_type, "digest": sha(data), "size": data.len()})
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "--noproxy",
            "*",
            "-sS",
            "--fail-with-body",
            "--max-time",
            "60",
        ])
        .args(args)
        .output()
        .expect("tests need curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "curl {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Upload a blob (a POST for the location, a PUT of the bytes); its digest.
fn put_blob(reg: &Registry, repo: &str, data: &[u8], dir: &std::path::Path) -> String {
    let digest = sha(data);
    let headers = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        &format!("http://{}/v2/{repo}/blobs/uploads/", reg.addr),
    ]);
    let location = headers
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
        })
        .map(|(_, v)| v.trim().to_string())
        .expect("an upload location");
    let location = if location.starts_with('/') {
        format!("http://{}{location}", reg.addr)
    } else {
        location
    };
    let file = dir.join(digest.replace(':', "-"));
    std::fs::write(&file, data).unwrap();
    let sep = if location.contains('?') { '&' } else { '?' };
    curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{location}{sep}digest={digest}"),
    ]);
    digest
}

fn put_manifest(reg: &Registry, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, body).unwrap();
    curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Content-Type: {media_type}"),
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("http://{}/v2/{repo}/manifests/{reference}", reg.addr),
    ]);
}

/// A tar of `files` (path, contents, mode).
fn tar_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = common::header();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Push an image of `layers` ((media type, blob, the uncompressed tar)) with a config of
/// `platform` (os, architecture, variant), under `tag` or else by digest only; the manifest's
/// bytes.
fn push_image(
    reg: &Registry,
    repo: &str,
    tag: Option<&str>,
    layers: &[(&str, Vec<u8>, Vec<u8>)],
    platform: (&str, &str, &str),
    cmd: &[&str],
) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = serde_json::json!({
        "architecture": platform.1,
        "os": platform.0,
        "config": {"Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha(&l.2)).collect::<Vec<_>>()},
    });
    if !platform.2.is_empty() {
        config["variant"] = platform.2.into();
    }
    let config = serde_json::to_vec(&config).unwrap();
    put_blob(reg, repo, &config, dir.path());
    for (_, blob, _) in layers {
        put_blob(reg, repo, blob, dir.path());
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": layers.iter().map(|(t, blob, _)| desc(t, blob)).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let reference = tag.map_or_else(|| sha(&manifest), String::from);
    put_manifest(reg, repo, &reference, OCI_MANIFEST, &manifest);
    manifest
}

/// An index of three one-layer images (linux/amd64, linux/arm64, linux/arm/v7), each layer a
/// file `/arch` naming its platform, under `repo:tag`; the index's digest.
fn push_index(reg: &Registry, repo: &str, tag: &str) -> String {
    let platforms = [
        ("linux", "amd64", ""),
        ("linux", "arm64", ""),
        ("linux", "arm", "v7"),
    ];
    let mut entries = Vec::new();
    for p in platforms {
        let name = format!("{}/{}{}", p.0, p.1, p.2);
        let tar = tar_of(&[("arch", name.as_bytes(), 0o644)]);
        let layer = (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            gzip(&tar),
            tar,
        );
        let manifest = push_image(reg, repo, None, &[layer], p, &["/arch"]);
        let mut platform = serde_json::json!({"os": p.0, "architecture": p.1});
        if !p.2.is_empty() {
            platform["variant"] = p.2.into();
        }
        let mut entry = desc(OCI_MANIFEST, &manifest);
        entry["platform"] = platform;
        entries.push(entry);
    }
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let index = serde_json::to_vec(&index).unwrap();
    put_manifest(reg, repo, tag, OCI_INDEX, &index);
    sha(&index)
}

/// `os/arch[/variant]` as `image inspect` shows them.
fn platform_of(w: &Wharf, image: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&w.inspect(image, "{{json .}}")).unwrap();
    let mut p = format!(
        "{}/{}",
        v["Os"].as_str().unwrap(),
        v["Architecture"].as_str().unwrap()
    );
    if let Some(variant) = v["Variant"].as_str() {
        p = format!("{p}/{variant}");
    }
    p
}

#[test]
fn pulls_the_index_entry_of_the_platform_asked_for() {
    let w = Wharf::new();
    let reg = Registry::start(32000 + w.slot as u16);
    let index = push_index(&reg, "multi/tool", "1");
    let image = format!("{}/multi/tool:1", reg.addr);
    let repo = format!("{}/multi/tool", reg.addr);

    // This host's platform by default.
    let out = w.ok(&["pull", &image]);
    // Known by the index's digest, as dockerd records a manifest list.
    assert!(out.contains(&format!("Digest: {index}")), "{out}");
    assert_eq!(platform_of(&w, &image), "linux/amd64");

    // --platform: the entry of that platform.
    let out = w.ok(&["pull", "--platform", "linux/arm64", &image]);
    assert!(out.contains(&format!("Digest: {index}")), "{out}");
    assert!(out.contains("Status: Downloaded newer image for"), "{out}");
    assert_eq!(platform_of(&w, &image), "linux/arm64");
    assert!(
        w.inspect(&image, "{{json .RepoDigests}}")
            .contains(&format!("{repo}@{index}")),
        "the index's digest is recorded"
    );
    // The variant counts: arm/v7 is its own entry, and recorded as such.
    w.ok(&["pull", "--platform", "linux/arm/v7", &image]);
    assert_eq!(platform_of(&w, &image), "linux/arm/v7");

    // A platform the index lacks: dockerd's message, and what there is.
    let (_, err) = w.fails(&["pull", "--platform", "linux/s390x", &image]);
    assert!(
        err.contains("no matching manifest for linux/s390x in the manifest list entries")
            && err.contains("linux/amd64, linux/arm64, linux/arm/v7"),
        "{err}"
    );
    let (_, err) = w.fails(&["pull", "--platform", "linux/", &image]);
    assert!(err.contains("invalid platform"), "{err}");

    // The docker CLI's --platform goes through the API's platform= the same way.
    let cli = Wharf::new();
    let docker = Docker::new(&cli);
    let out = docker.ok(&["pull", "--platform", "linux/arm64", &image]);
    assert!(out.contains(&index), "{out}");
    assert_eq!(platform_of(&cli, &image), "linux/arm64");
    let err = docker.fails(&["pull", "--platform", "linux/s390x", &image]);
    assert!(
        err.contains("no matching manifest for linux/s390x"),
        "{err}"
    );

    // create --platform with the image absent pulls that platform first; run --platform of
    // the local image then checks it.
    let fresh = Wharf::new();
    let out = fresh.output(&["create", "--platform", "linux/arm64", &image]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Unable to find image"), "{err}");
    assert_eq!(platform_of(&fresh, &image), "linux/arm64");
    let (_, err) = fresh.fails(&["create", "--platform", "linux/amd64", &image]);
    assert!(
        err.contains(
            "does not match the specified platform: wanted linux/amd64, actual: linux/arm64"
        ),
        "{err}"
    );
}

#[test]
fn compose_pulls_the_platform_of_the_service() {
    let w = Wharf::new();
    let reg = Registry::start(32250 + w.slot as u16);
    push_index(&reg, "multi/svc", "2");
    let image = format!("{}/multi/svc:2", reg.addr);
    let project = w.dir.path().join("proj");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("compose.yaml"),
        format!("services:\n  tool:\n    image: {image}\n    platform: linux/arm/v7\n"),
    )
    .unwrap();
    let file = project.join("compose.yaml");
    w.ok(&["compose", "-f", file.to_str().unwrap(), "pull"]);
    assert_eq!(platform_of(&w, &image), "linux/arm/v7");
}

#[test]
fn uncompressed_and_zstd_layers_pull_verify_and_run() {
    let w = Wharf::new();
    let reg = Registry::start(32500 + w.slot as u16);
    let busybox = std::fs::read("/bin/busybox").unwrap();
    let base = tar_of(&[("bin/busybox", &busybox, 0o755)]);
    let hello = tar_of(&[("hello.txt", b"from a zstd layer\n", 0o644)]);
    let zst = zstd::encode_all(&hello[..], 3).unwrap();
    let m = push_image(
        &reg,
        "fmt/img",
        Some("1"),
        &[
            ("application/vnd.oci.image.layer.v1.tar", base.clone(), base),
            ("application/vnd.oci.image.layer.v1.tar+zstd", zst, hello),
        ],
        ("linux", "amd64", ""),
        &["/bin/busybox", "cat", "/hello.txt"],
    );
    let image = format!("{}/fmt/img:1", reg.addr);
    let out = w.ok(&["pull", &image]);
    assert!(out.contains(&format!("Digest: {}", sha(&m))), "{out}");
    assert_eq!(w.ok(&["run", "--rm", &image]), "from a zstd layer\n");

    // A zstd blob whose bytes are not those of its digest is refused, and nothing registered.
    let bad = format!("{}/fmt/bad:1", reg.addr);
    let dir = tempfile::tempdir().unwrap();
    let tar = tar_of(&[("x", b"x", 0o644)]);
    let blob = zstd::encode_all(&tar[..], 3).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha(b"not this tar")]},
    }))
    .unwrap();
    put_blob(&reg, "fmt/bad", &config, dir.path());
    put_blob(&reg, "fmt/bad", &blob, dir.path());
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+zstd", &blob)],
    }))
    .unwrap();
    put_manifest(&reg, "fmt/bad", "1", OCI_MANIFEST, &manifest);
    let (_, err) = w.fails(&["pull", &bad]);
    assert!(err.contains("but the config expects"), "{err}");
    let (_, err) = w.fails(&["image", "inspect", &bad]);
    assert!(err.contains("No such"), "{err}");
}

/// `GET /distribution/{name}/json` (docker-py's `inspect_distribution`): the registry's
/// descriptor of a reference and its platforms, without pulling it.
#[test]
fn distribution_inspect_names_the_descriptor_and_platforms_without_pulling() {
    let w = Wharf::new();
    let reg = Registry::start(32250 + w.slot as u16);
    let index = push_index(&reg, "dist/tool", "1");
    w.ok(&["version"]);
    let (code, body) = clients::api(
        &w,
        "GET",
        &format!("/distribution/{}/dist/tool:1/json", reg.addr),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Descriptor"]["mediaType"], OCI_INDEX, "{v}");
    assert_eq!(v["Descriptor"]["digest"], index.as_str(), "{v}");
    let platforms: Vec<String> = v["Platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(variant) = p["variant"].as_str() {
                s = format!("{s}/{variant}");
            }
            s
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    // By digest, and for a missing tag: the registry's answer.
    let (code, _) = clients::api(
        &w,
        "GET",
        &format!("/distribution/{}/dist/tool@{index}/json", reg.addr),
        None,
    );
    assert_eq!(code, 200);
    let (code, body) = clients::api(
        &w,
        "GET",
        &format!("/distribution/{}/dist/tool:nope/json", reg.addr),
        None,
    );
    assert!(code >= 400 && body.contains("message"), "{code} {body}");
    // Nothing was pulled.
    assert_eq!(w.ok(&["images", "-q"]), "");
}
