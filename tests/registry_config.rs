//! The daemon's registry settings against real registries (Debian's docker-registry on
//! 127.0.0.1): `registry-mirrors` for docker.io images (in order, the image kept under its
//! docker.io name), `insecure-registries` by CIDR and by name, the proxies of the daemon's
//! environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, either case) and the limits on
//! layers in flight (`max-concurrent-downloads`, `max-concurrent-uploads`). Names other than
//! loopback ones come from an `/etc/hosts` of the daemon's own (a mount namespace), and
//! Docker Hub is kept out of reach with a dead proxy, so nothing leaves 127.0.0.0/8.

mod common;
#[path = "common/registry.rs"]
mod registry;

use common::Wharf;
use registry::{daemon_json, layered_image, Daemon, Front, Proxy, Registry};

/// A busybox image that echoes `word`, saved to an archive in `w`'s directory.
fn echo_archive(w: &Wharf, word: &str) -> std::path::PathBuf {
    w.busybox_image("box", &[&format!(r#"CMD ["echo", "{word}"]"#)]);
    let archive = w.dir.path().join("box.tar");
    w.ok(&["save", "-o", archive.to_str().unwrap(), "box"]);
    archive
}

#[test]
fn mirrors_serve_docker_io_images_in_order_under_their_docker_io_name() {
    let source = Wharf::new();
    let archive = echo_archive(&source, "from-mirror");
    let mirror = Registry::start(28000 + source.slot as u16);
    mirror.push(&archive, "library/box:1");

    let w = Wharf::new();
    // The first mirror is down; Docker Hub is behind a proxy that is not there either.
    let dead = format!("http://127.0.0.1:{}", 28250 + w.slot);
    daemon_json(
        &w,
        serde_json::json!({ "registry-mirrors": [dead, format!("http://{}/", mirror.addr)] }),
    );
    let hub_proxy = format!("http://127.0.0.1:{}", 28500 + w.slot);
    let _daemon = Daemon::start(&w, None, &[("HTTPS_PROXY", &hub_proxy)]);

    let out = w.ok(&["pull", "box:1"]);
    assert!(
        out.contains("Status: Downloaded newer image for box:1"),
        "{out}"
    );
    assert_eq!(w.ok(&["run", "--rm", "box:1"]), "from-mirror\n");
    let names = w.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        names.lines().any(|l| l == "box:1") && !names.contains("127.0.0.1"),
        "{names}"
    );
    let digests = w.inspect("box:1", "{{json .RepoDigests}}");
    assert!(digests.starts_with(r#"["box@sha256:"#), "{digests}");
    assert_eq!(
        w.inspect("docker.io/library/box:1", "{{.Id}}"),
        source.inspect("box", "{{.Id}}")
    );
    // An image the mirrors lack falls back to Docker Hub (here: its unreachable proxy).
    let (_, err) = w.fails(&["pull", "absent:1"]);
    assert!(
        err.contains("registry-1.docker.io") && err.contains(&hub_proxy),
        "{err}"
    );
    // Other registries never go to a mirror.
    let (_, err) = w.fails(&[
        "pull",
        &format!("127.0.0.1:{}/library/box:1", 28250 + w.slot),
    ]);
    assert!(err.contains("onnection refused"), "{err}");
}

#[test]
fn insecure_registries_by_cidr_or_name_and_the_proxies_of_the_daemon_environment() {
    let source = Wharf::new();
    let archive = echo_archive(&source, "proxied");
    let reg = Registry::start(28750 + source.slot as u16);
    reg.push(&archive, "proxied/box:1");
    let proxy = Proxy::start(29000 + source.slot as u16, source.dir.path());
    let port = reg.addr.rsplit(':').next().unwrap().to_string();
    let name = format!("wharf-registry.test:{port}");
    let hosts = "127.0.0.1 wharf-registry.test";
    let image = format!("{name}/proxied/box:1");

    // Not loopback by name, not listed: HTTPS verified, which this plain-HTTP registry
    // cannot speak.
    let strict = Wharf::new();
    let _d = Daemon::start(&strict, Some(hosts), &[]);
    let (_, err) = strict.fails(&["pull", &image]);
    assert!(err.contains(&format!("https://{name}")), "{err}");

    // A CIDR covering the address the name resolves to; the traffic goes through the proxy
    // of the environment: a CONNECT for the HTTPS probe, then plain-HTTP requests.
    let by_cidr = Wharf::new();
    daemon_json(
        &by_cidr,
        serde_json::json!({ "insecure-registries": ["127.0.0.0/8"] }),
    );
    let _d = Daemon::start(
        &by_cidr,
        Some(hosts),
        &[
            ("HTTPS_PROXY", &proxy.url),
            ("HTTP_PROXY", &proxy.url),
            ("NO_PROXY", "elsewhere.test,10.0.0.0/8"),
        ],
    );
    by_cidr.ok(&["pull", &image]);
    assert_eq!(by_cidr.ok(&["run", "--rm", &image]), "proxied\n");
    let seen = proxy.lines();
    assert!(
        seen.contains(&format!("CONNECT {name}"))
            && seen
                .iter()
                .any(|l| l.starts_with(&format!("GET http://{name}/v2/"))),
        "{seen:?}"
    );
    // A loopback registry is reached directly, as dockerd does.
    by_cidr.ok(&["pull", &format!("{}/proxied/box:1", reg.addr)]);
    assert_eq!(proxy.lines(), seen);

    // Listed by name; lower-case variables; NO_PROXY names the registry: reached directly.
    let by_name = Wharf::new();
    daemon_json(
        &by_name,
        serde_json::json!({ "insecure-registries": [name] }),
    );
    let _d = Daemon::start(
        &by_name,
        Some(hosts),
        &[
            ("https_proxy", &proxy.url),
            ("http_proxy", &proxy.url),
            ("no_proxy", "wharf-registry.test"),
        ],
    );
    by_name.ok(&["pull", &image]);
    assert_eq!(by_name.ok(&["run", "--rm", &image]), "proxied\n");
    assert_eq!(proxy.lines(), seen);

    // A malformed entry stops the daemon, naming it.
    let bad = Wharf::new();
    daemon_json(
        &bad,
        serde_json::json!({ "insecure-registries": ["10.0.0.0/33"], "registry-mirrors": ["https://m.example"] }),
    );
    let (_, err) = bad.fails(&["daemon"]);
    assert!(
        err.contains("10.0.0.0/33") && err.contains("daemon.json"),
        "{err}"
    );
}

/// The most blob transfers (`GET` of a blob or `PUT` of an upload) the front saw at once.
fn most_at_once(front: &Front, method: &str) -> u64 {
    front
        .take()
        .iter()
        .filter(|s| s.event() == "start" && s.method() == method)
        .filter_map(|s| s.0["inflight"].as_u64())
        .max()
        .unwrap_or(0)
}

#[test]
fn layers_in_flight_are_bounded_by_max_concurrent_downloads_and_uploads() {
    let source = Wharf::new();
    // Six layers (busybox and five of random bytes).
    let archive = layered_image(&source, "layered:1", 5, 256);
    let reg = Registry::start(29250 + source.slot as u16);
    reg.push(&archive, "many/layers:1");
    let front = Front::start(29500 + source.slot as u16, &reg.addr, source.dir.path());
    front.set(serde_json::json!({ "delay": 0.5 }));
    let image = format!("{}/many/layers:1", front.addr);
    // Pushes go through a second front to the same registry: under the first one's name the
    // pulled image's blobs would be mounted from many/layers instead of uploaded.
    let up_dir = source.dir.path().join("up");
    std::fs::create_dir_all(&up_dir).unwrap();
    let up = Front::start(29750 + source.slot as u16, &reg.addr, &up_dir);
    up.set(serde_json::json!({ "delay": 0.5 }));

    // dockerd's defaults: three downloads, five uploads.
    let w = Wharf::new();
    w.ok(&["pull", &image]);
    assert_eq!(most_at_once(&front, "GET"), 3);
    let pushed = format!("{}/pushed/default:1", up.addr);
    w.ok(&["tag", &image, &pushed]);
    w.ok(&["push", &pushed]);
    assert_eq!(most_at_once(&up, "PUT"), 5);

    let limited = Wharf::new();
    daemon_json(
        &limited,
        serde_json::json!({ "max-concurrent-downloads": 2, "max-concurrent-uploads": 1 }),
    );
    limited.ok(&["pull", &image]);
    assert_eq!(most_at_once(&front, "GET"), 2);
    let pushed = format!("{}/pushed/limited:1", up.addr);
    limited.ok(&["tag", &image, &pushed]);
    limited.ok(&["push", &pushed]);
    assert_eq!(most_at_once(&up, "PUT"), 1);
    // What was pushed through the front pulls back whole elsewhere.
    let check = Wharf::new();
    check.ok(&["pull", &format!("{}/pushed/limited:1", reg.addr)]);
    assert_eq!(
        check.inspect(&format!("{}/pushed/limited:1", reg.addr), "{{.Id}}"),
        source.inspect("layered:1", "{{.Id}}")
    );

    let bad = Wharf::new();
    daemon_json(&bad, serde_json::json!({ "max-concurrent-downloads": 0 }));
    let (_, err) = bad.fails(&["daemon"]);
    assert!(err.contains("max-concurrent-downloads"), "{err}");
}
