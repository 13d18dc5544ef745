//! Docker clients against `wharf daemon` (issue 12): what the docker CLI and raw API requests
//! see of containers, networks, filters and the system endpoints, compared with dockerd's
//! answers.

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api, api_json, Docker};
use common::Wharf;

#[test]
fn inspect_fills_host_config_like_dockerd() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let c = api_json(
        &w,
        "POST",
        "/v1.49/containers/create",
        Some(r#"{"Image":"box","Cmd":["true"]}"#),
        201,
    );
    let id = c["Id"].as_str().unwrap();
    let i = api_json(&w, "GET", &format!("/containers/{id}/json"), None, 200);
    let h = &i["HostConfig"];
    assert_eq!(
        h["LogConfig"],
        serde_json::json!({"Type": "json-file", "Config": {}})
    );
    assert_eq!(h["NetworkMode"], "bridge");
    assert_eq!(h["RestartPolicy"]["Name"], "no");
    assert_eq!(h["RestartPolicy"]["MaximumRetryCount"], 0);
    assert_eq!(h["Runtime"], "runc");
    assert_eq!(h["ShmSize"], 64 * 1024 * 1024);
    let d = Docker::new(&w);
    let t = d.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.LogConfig.Type}} {{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy.Name}}",
        id,
    ]);
    assert_eq!(t.trim(), "json-file bridge no");
    // What the user set stays as set.
    d.ok(&[
        "create",
        "--name",
        "r",
        "--restart",
        "on-failure:3",
        "--log-opt",
        "max-file=2",
        "box",
    ]);
    let t = d.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{json .HostConfig.LogConfig.Config}}",
        "r",
    ]);
    assert_eq!(t.trim(), r#"on-failure:3 {"max-file":"2"}"#);
    // A log driver or runtime wharf does not have is refused at create, by name.
    let e = d.fails(&["create", "--log-driver", "asdf", "box"]);
    assert!(
        e.contains("no log driver named 'asdf' is registered"),
        "{e}"
    );
    let e = d.fails(&["create", "--runtime", "kata", "box"]);
    assert!(e.contains("unknown or invalid runtime name: kata"), "{e}");
}

#[test]
fn docker_network_ls_and_inspect_read_created_and_only_the_users_options() {
    let w = Wharf::new();
    let d = Docker::new(&w);
    d.ok(&["network", "create", "--label", "team=a", "front"]);
    d.ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "back",
    ]);
    let ls = d.ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.CreatedAt}}",
    ]);
    for n in ["bridge", "front", "back", "host", "none"] {
        assert!(ls.lines().any(|l| l.starts_with(&format!("{n} "))), "{ls}");
    }
    let created = d.ok(&["network", "inspect", "-f", "{{json .Created}}", "front"]);
    let t = chrono::DateTime::parse_from_rfc3339(created.trim().trim_matches('"'))
        .unwrap_or_else(|e| panic!("Created {created:?}: {e}"));
    assert!((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds() < 60);
    assert_eq!(
        d.ok(&["network", "inspect", "-f", "{{json .Options}}", "front"])
            .trim(),
        "{}"
    );
    assert_eq!(
        d.ok(&["network", "inspect", "-f", "{{json .Options}}", "back"])
            .trim(),
        r#"{"com.docker.network.driver.mtu":"1400"}"#
    );
    // The default bridge reports its bridge options, as dockerd's does.
    let opts = d.ok(&["network", "inspect", "-f", "{{json .Options}}", "bridge"]);
    assert!(
        opts.contains("com.docker.network.bridge.default_bridge"),
        "{opts}"
    );
}

#[test]
fn repeated_label_filters_must_all_match() {
    let w = Wharf::new();
    w.busybox_image("box", &["LABEL a=1"]);
    w.busybox_image("box2", &["LABEL a=1", "LABEL b=2"]);
    let d = Docker::new(&w);
    d.ok(&["create", "--name", "both", "-l", "a=1", "-l", "b=2", "box"]);
    d.ok(&["create", "--name", "one", "-l", "a=1", "box"]);
    let both = ["--filter", "label=a=1", "--filter", "label=b"];
    let ps = |extra: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        args.extend_from_slice(extra);
        d.lines(&args)
    };
    assert_eq!(ps(&both), ["both"]);
    assert_eq!(ps(&["--filter", "label=a=1"]), ["both", "one"]);
    // Values of another key stay alternatives.
    assert_eq!(
        ps(&["--filter", "name=both", "--filter", "name=one"]),
        ["both", "one"]
    );
    let mut images = vec!["images", "--format", "{{.Repository}}"];
    images.extend_from_slice(&both);
    assert_eq!(d.lines(&images), ["box2"]);
    d.ok(&[
        "volume", "create", "--label", "a=1", "--label", "b=2", "v-both",
    ]);
    d.ok(&["volume", "create", "--label", "a=1", "v-one"]);
    let mut vols = vec!["volume", "ls", "-q"];
    vols.extend_from_slice(&both);
    assert_eq!(d.lines(&vols), ["v-both"]);
    d.ok(&[
        "network", "create", "--label", "a=1", "--label", "b=2", "n-both",
    ]);
    d.ok(&["network", "create", "--label", "a=1", "n-one"]);
    let mut nets = vec!["network", "ls", "--format", "{{.Name}}"];
    nets.extend_from_slice(&both);
    assert_eq!(d.lines(&nets), ["n-both"]);
    // And in the API itself.
    let f = r#"{"label":["a=1","b=2"]}"#;
    let q: String = form_urlencoded::byte_serialize(f.as_bytes()).collect();
    let list = api_json(
        &w,
        "GET",
        &format!("/containers/json?all=1&filters={q}"),
        None,
        200,
    );
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn swarm_endpoints_answer_not_part_of_a_swarm() {
    let w = Wharf::new();
    w.ok(&["version"]);
    for (method, path) in [
        ("GET", "/v1.49/swarm"),
        ("POST", "/v1.49/swarm/leave?force=1"),
        ("GET", "/nodes"),
        ("GET", "/services"),
        ("GET", "/tasks"),
        ("GET", "/secrets"),
        ("GET", "/configs"),
    ] {
        let (code, body) = api(&w, method, path, None);
        assert_eq!(code, 503, "{method} {path}: {body}");
        assert!(body.contains("This node is not part of a swarm"), "{body}");
    }
    let d = Docker::new(&w);
    assert_eq!(
        d.ok(&["info", "-f", "{{.Swarm.LocalNodeState}}"]).trim(),
        "inactive"
    );
    let e = d.fails(&["service", "ls"]);
    assert!(e.contains("This node is not part of a swarm"), "{e}");
}
