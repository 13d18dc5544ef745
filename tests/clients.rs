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

/// Wait (bounded) for a container's `inspect` template to read `want`.
fn wait_inspect(d: &Docker, name: &str, template: &str, want: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let got = d.ok(&["inspect", "-f", template, name]).trim().to_string();
        if got == want || start.elapsed() > std::time::Duration::from_secs(10) {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn stats_of_a_running_container_through_the_api_docker_and_wharf() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&["run", "-d", "--name", "s", "box", "sleep", "300"]);
    let v = api_json(
        &w,
        "GET",
        "/v1.49/containers/s/stats?stream=false",
        None,
        200,
    );
    assert_eq!(v["name"], "/s");
    assert!(v["memory_stats"]["usage"].as_u64().unwrap() > 0, "{v}");
    assert!(v["memory_stats"]["limit"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["pids_stats"]["current"], 1, "{v}");
    assert!(v["cpu_stats"]["online_cpus"].as_u64().unwrap() >= 1, "{v}");
    assert!(
        v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert!(v["networks"]["eth0"]["rx_bytes"].is_u64(), "{v}");
    let one = api_json(
        &w,
        "GET",
        "/containers/s/stats?stream=0&one-shot=1",
        None,
        200,
    );
    assert_eq!(one["precpu_stats"]["system_cpu_usage"], 0, "{one}");
    // A stream sends a JSON document per line.
    let text = clients::read_stream(&w, "/containers/s/stats?stream=1", |t| {
        t.matches("\"read\":").count() >= 2
    });
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.matches("\"precpu_stats\"").count() >= 2, "{text}");
    let out = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemPerc}}",
        "s",
    ]);
    assert!(
        out.starts_with("s 1 ") && out.trim().ends_with('%'),
        "{out}"
    );
    let table = w.ok(&["stats", "--no-stream"]);
    let header = table.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "NET I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{table}");
    }
    assert!(table.lines().any(|l| l.contains(" s ")), "{table}");
    let line = w.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}: {{.PIDs}}",
        "s",
    ]);
    assert_eq!(line.trim(), "s: 1");
}

#[test]
fn update_changes_limits_and_restart_policy_of_a_running_container() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "u",
        "box",
        "sh",
        "-c",
        "while [ ! -f /tmp/stop ]; do sleep 0.1; done; rm /tmp/stop; exit 3",
    ]);
    let id = id.trim();
    d.ok(&[
        "update",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--restart",
        "on-failure:2",
        "u",
    ]);
    let t = "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}";
    assert_eq!(
        d.ok(&["inspect", "-f", t, "u"]).trim(),
        "67108864 50 on-failure:2"
    );
    // The limit is in force at once, in whichever cgroup layout the host has.
    let limit = [
        "/sys/fs/cgroup/memory/wharf",
        "/sys/fs/cgroup/wharf",
        "/sys/fs/cgroup/unified/wharf",
    ]
    .iter()
    .find_map(|base| {
        ["memory.limit_in_bytes", "memory.max"]
            .iter()
            .find_map(|f| std::fs::read_to_string(format!("{base}/{id}/{f}")).ok())
    })
    .expect("a memory limit file for the container");
    assert_eq!(limit.trim(), "67108864");
    // The new restart policy applies to the next exit.
    d.ok(&["exec", "u", "touch", "/tmp/stop"]);
    assert_eq!(wait_inspect(&d, "u", "{{.RestartCount}}", "1"), "1");
    w.ok(&["update", "--cpus", "0.5", "u"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.NanoCpus}}", "u"])
            .trim(),
        "500000000"
    );
    let e = d.fails(&["update", "--memory", "1k", "u"]);
    assert!(e.contains("Minimum memory limit"), "{e}");
    let e = d.fails(&["update", "--memory", "64m", "nosuch"]);
    assert!(e.contains("No such container"), "{e}");
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&[
        "run",
        "--name",
        "c",
        "box",
        "sh",
        "-c",
        "touch /new && rm /bin/ls && mkdir /etc/x",
    ]);
    let lines = d.lines(&["diff", "c"]);
    for want in ["A /new", "D /bin/ls", "C /bin", "C /etc", "A /etc/x"] {
        assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("hostname") || l.contains("resolv")),
        "{lines:?}"
    );
    assert_eq!(w.ok(&["diff", "c"]).lines().count(), lines.len());
    let v = api_json(&w, "GET", "/containers/c/changes", None, 200);
    assert!(
        v.as_array()
            .unwrap()
            .contains(&serde_json::json!({"Path": "/new", "Kind": 1})),
        "{v}"
    );
}

#[test]
fn pause_and_unpause_show_in_inspect_at_once() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&["run", "-d", "--name", "p", "box", "sleep", "300"]);
    d.ok(&["pause", "p"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "p"]).trim(),
        "paused"
    );
    d.ok(&["unpause", "p"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "p"]).trim(),
        "running"
    );
}

#[test]
fn attach_with_logs_and_no_stream_returns_the_logs_and_closes() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&[
        "run",
        "--name",
        "l",
        "box",
        "sh",
        "-c",
        "echo hello; echo oops >&2",
    ]);
    let (status, out, closed) = clients::hijack(
        &w,
        "/v1.49/containers/l/attach?logs=1&stream=0&stdout=1&stderr=1",
        "",
        &[],
        std::time::Duration::from_secs(10),
    );
    assert!(status.contains("101"), "{status}");
    assert!(closed, "the daemon must close the connection");
    let frames = clients::frames(&out);
    assert!(frames.contains(&(1, b"hello\n".to_vec())), "{frames:?}");
    assert!(frames.contains(&(2, b"oops\n".to_vec())), "{frames:?}");
}

#[test]
fn detach_keys_end_attach_and_exec_streams() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&["run", "-d", "-it", "--name", "cat", "box", "cat"]);
    let limit = std::time::Duration::from_secs(10);
    let attach = "/containers/cat/attach?stream=1&stdin=1&stdout=1";
    // Docker's default, ctrl-p ctrl-q; a lone ctrl-p passes through.
    let (_, out, closed) = clients::hijack(&w, attach, "", &[b"a\x10b", b"\x10\x11"], limit);
    assert!(closed, "detached: {out:?}");
    let (_, _, closed) = clients::hijack(
        &w,
        &format!("{attach}&detachKeys=ctrl-x"),
        "",
        &[b"\x18"],
        limit,
    );
    assert!(closed);
    let (code, body) = api(&w, "POST", &format!("{attach}&detachKeys=ctrl-"), None);
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "cat"]).trim(),
        "true"
    );
    let exec = api_json(
        &w,
        "POST",
        "/containers/cat/exec",
        Some(r#"{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true,"Tty":true}"#),
        201,
    );
    let path = format!("/exec/{}/start", exec["Id"].as_str().unwrap());
    let (_, _, closed) = clients::hijack(&w, &path, r#"{"Tty":true}"#, &[b"\x10\x11"], limit);
    assert!(closed);
}

#[test]
fn exec_output_framing_follows_the_start_requests_tty() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&["run", "-d", "--name", "e", "box", "sleep", "300"]);
    let start = |start_body: &str| {
        let exec = api_json(
            &w,
            "POST",
            "/containers/e/exec",
            Some(r#"{"Cmd":["echo","hi"],"AttachStdout":true,"AttachStderr":true,"Tty":true}"#),
            201,
        );
        let path = format!("/exec/{}/start", exec["Id"].as_str().unwrap());
        clients::hijack(
            &w,
            &path,
            start_body,
            &[],
            std::time::Duration::from_secs(10),
        )
        .1
    };
    // A TTY process started with Tty false: its terminal output, multiplexed (docker-py).
    assert_eq!(
        clients::frames(&start(r#"{"Tty":false}"#)),
        [(1, b"hi\r\n".to_vec())]
    );
    assert_eq!(start(r#"{"Tty":true}"#), b"hi\r\n");
}

#[test]
fn inspect_echoes_endpoint_settings_and_writes_unset_ones_as_null() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.{}.{}.0/24", 220 + w.slot / 64, (w.slot % 64) * 4 + 3),
        "n",
    ]);
    let body = serde_json::json!({
        "Image": "box", "Cmd": ["sleep", "300"],
        "HostConfig": {"NetworkMode": "n"},
        "NetworkingConfig": {"EndpointsConfig": {"n": {
            "Aliases": ["web"], "DriverOpts": {"k": "v"},
            "IPAMConfig": {"IPv4Address": format!("10.{}.{}.9", 220 + w.slot / 64, (w.slot % 64) * 4 + 3)},
        }}},
    });
    let c = api_json(
        &w,
        "POST",
        "/containers/create?name=e",
        Some(&body.to_string()),
        201,
    );
    let id = c["Id"].as_str().unwrap().to_string();
    // Before the start: what was asked for, every key present.
    let ep = |w: &Wharf| {
        api_json(w, "GET", &format!("/containers/{id}/json"), None, 200)["NetworkSettings"]
            ["Networks"]["n"]
            .clone()
    };
    let before = ep(&w);
    assert_eq!(before["Aliases"], serde_json::json!(["web"]), "{before}");
    assert_eq!(before["DriverOpts"]["k"], "v", "{before}");
    assert!(
        before["IPAMConfig"]["IPv4Address"]
            .as_str()
            .unwrap()
            .ends_with(".9"),
        "{before}"
    );
    assert!(
        before["Links"].is_null() && before.get("Links").is_some(),
        "{before}"
    );
    d.ok(&["start", "e"]);
    let after = ep(&w);
    assert!(
        after["IPAddress"].as_str().unwrap().ends_with(".9"),
        "{after}"
    );
    assert_eq!(after["DriverOpts"]["k"], "v", "{after}");
    assert!(!after["NetworkID"].as_str().unwrap().is_empty(), "{after}");
    // Connected later without settings: null, as dockerd writes them.
    d.ok(&["network", "create", "m"]);
    api_json(
        &w,
        "POST",
        "/networks/m/connect",
        Some(r#"{"Container":"e"}"#),
        200,
    );
    let m = api_json(&w, "GET", &format!("/containers/{id}/json"), None, 200)["NetworkSettings"]
        ["Networks"]["m"]
        .clone();
    assert!(
        m["Aliases"].is_null() && m["DriverOpts"].is_null() && m["IPAMConfig"].is_null(),
        "{m}"
    );
}

#[test]
fn load_streams_json_lines_and_saving_by_id_writes_no_tags() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["tag", "box", "box:two"]);
    let id = w.inspect("box", "{{.Id}}");
    let tar = w.dir.path().join("by-id.tar");
    w.ok(&["save", "-o", tar.to_str().unwrap(), &id]);
    let tags = w.dir.path().join("tags.tar");
    w.ok(&[
        "save",
        "-o",
        tags.to_str().unwrap(),
        "box:latest",
        "box:two",
    ]);
    let load = |file: &std::path::Path| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-i", "--unix-socket"])
            .arg(w.socket())
            .args([
                "-X",
                "POST",
                "-H",
                "Content-Type: application/x-tar",
                "--data-binary",
            ])
            .arg(format!("@{}", file.display()))
            .arg("http://wharf/v1.49/images/load")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let two = load(&tags);
    assert!(
        two.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{two}"
    );
    let lines: Vec<&str> = two.lines().filter(|l| l.contains("Loaded image")).collect();
    assert_eq!(lines.len(), 2, "{two}");
    let one = load(&tar);
    assert!(one.contains(&format!("Loaded image ID: {id}")), "{one}");
    assert!(!one.contains("Loaded image: "), "{one}");
    // A bad archive: 200, and the error inside the stream, as dockerd does.
    let junk = w.dir.path().join("junk.tar");
    std::fs::write(&junk, b"abc").unwrap();
    let bad = load(&junk);
    assert!(
        bad.starts_with("HTTP/1.1 200") && bad.contains("\"errorDetail\""),
        "{bad}"
    );
    let (_, err) = w.fails(&["load", "-i", junk.to_str().unwrap()]);
    assert!(!err.is_empty());
}

#[test]
fn cp_from_a_stopped_container_sees_its_volumes_and_binds() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let host = w.dir.path().join("bound");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h.txt"), "from host\n").unwrap();
    let bind = format!("{}:/bound", host.display());
    d.ok(&[
        "run",
        "--name",
        "v",
        "-v",
        "/vol1",
        "-v",
        &bind,
        "box",
        "sh",
        "-c",
        "echo in-volume > /vol1/data.txt",
    ]);
    let out = w.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    d.ok(&["cp", "v:/vol1/data.txt", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("data.txt")).unwrap(),
        "in-volume\n"
    );
    d.ok(&["cp", "v:/bound/h.txt", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("h.txt")).unwrap(),
        "from host\n"
    );
    std::fs::write(out.join("new.txt"), "copied in\n").unwrap();
    d.ok(&["cp", out.join("new.txt").to_str().unwrap(), "v:/vol1/"]);
    let mounts = api_json(&w, "GET", "/containers/v/json", None, 200)["Mounts"].clone();
    let vol = mounts
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/vol1")
        .unwrap_or_else(|| panic!("{mounts}"));
    let source = std::path::Path::new(vol["Source"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(source.join("new.txt")).unwrap(),
        "copied in\n"
    );
    // export stays without volumes.
    let tar = d.command().args(["export", "v"]).output().unwrap().stdout;
    let mut a = tar::Archive::new(&tar[..]);
    let names: Vec<String> = a
        .entries()
        .unwrap()
        .flatten()
        .map(|e| e.path().unwrap().display().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains("data.txt")), "{names:?}");
}

#[test]
fn wait_prune_and_the_none_log_driver_answer_like_dockerd() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    // A restart policy: wait returns at the first exit.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "r",
        "--restart",
        "always",
        "box",
        "sh",
        "-c",
        "exit 3",
    ]);
    let v = api_json(
        &w,
        "POST",
        "/containers/r/wait?condition=not-running",
        None,
        200,
    );
    assert_eq!(v["StatusCode"], 3, "{v}");
    d.ok(&["rm", "-f", "r"]);
    d.ok(&[
        "run",
        "--name",
        "big",
        "box",
        "sh",
        "-c",
        "dd if=/dev/zero of=/blob bs=1k count=64",
    ]);
    let p = api_json(&w, "POST", "/containers/prune", None, 200);
    assert!(p["SpaceReclaimed"].as_u64().unwrap() >= 64 * 1024, "{p}");
    d.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "box",
        "true",
    ]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "quiet"])
            .trim(),
        "none"
    );
}
