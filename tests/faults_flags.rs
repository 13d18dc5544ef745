//! Invalid flag values refused the way Docker refuses them, with its message, instead of being
//! accepted silently (and nothing created).

#[path = "common/clients.rs"]
mod clients;
mod common;

use common::Wharf;

/// `args` fail with exit code 125 (Docker's for errors before the container runs) and `want`
/// in the error, and no container is left.
fn refused(w: &Wharf, args: &[&str], want: &str) {
    let (code, err) = w.fails(args);
    assert_eq!(code, 125, "wharf {args:?}: {err}");
    assert!(err.contains(want), "wharf {args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(w.ok(&["ps", "-aq"]), "", "wharf {args:?} left a container");
}

#[test]
fn invalid_run_flags_are_refused_with_dockers_messages() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let run = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into(), "--rm".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["box".to_string(), "true".to_string()]);
        v
    };
    let cases: &[(&[&str], &str)] = &[
        (
            &["--memory", "99999999999999999999g"],
            "invalid argument \"99999999999999999999g\" for \"-m, --memory\" flag: invalid size: '99999999999999999999g'",
        ),
        (
            &["--workdir", "x"],
            "the working directory 'x' is invalid, it needs to be an absolute path",
        ),
        (&["--health-cmd", "true", "--health-interval=-1s"], "--health-interval cannot be negative"),
        (
            &["--expose", "99999"],
            "invalid range format for --expose: 99999, error: parsing \"99999\": value out of range",
        ),
        (&["--expose", "80:80"], "invalid port format for --expose: 80:80"),
        (
            &["--sysctl", "kernel.hostname=x"],
            "invalid argument \"kernel.hostname=x\" for \"--sysctl\" flag: sysctl 'kernel.hostname=x' is not allowed",
        ),
        (&["--sysctl", "net.ipv4.ip_forward"], "is not allowed"),
        (&["--network", "nonexistent"], "network nonexistent not found"),
        (
            &["--ulimit", "nofile=10:5"],
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5",
        ),
        (&["--ulimit", "nofiles=1"], "invalid ulimit type: nofiles"),
        (
            &["--platform", "linux/s390x"],
            "image with reference box was found but does not match the specified platform: wanted linux/s390x, actual: linux/",
        ),
        (&["--platform", "linux/a b"], "invalid platform \"linux/a b\": expected os[/arch[/variant]]"),
    ];
    for (extra, want) in cases {
        let args = run(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&w, &args, want);
    }
    // A missing network is reported as such, never as a missing image.
    let (_, err) = w.fails(&[
        "run",
        "--rm",
        "--network",
        "nonexistent",
        "nosuchimage",
        "true",
    ]);
    assert!(!err.contains("Unable to find image"), "{err}");
    // What Docker accepts still works: a port range, an allowed sysctl name.
    w.ok(&[
        "create",
        "--name",
        "ok",
        "--expose",
        "8000-8002/udp",
        "--workdir",
        "/tmp",
        "box",
    ]);
    let exposed = w.inspect("ok", "{{json .Config.ExposedPorts}}");
    for p in ["8000/udp", "8001/udp", "8002/udp"] {
        assert!(exposed.contains(p), "{exposed}");
    }
    w.ok(&["rm", "ok"]);
    // This host's platform, in any spelling containerd accepts.
    let arch = if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else {
        "x86_64"
    };
    w.ok(&[
        "run",
        "--rm",
        "--platform",
        &format!("linux/{arch}"),
        "box",
        "true",
    ]);
}

#[test]
fn the_api_refuses_what_dockerd_refuses_at_create() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["ps"]);
    for (body, want) in [
        (
            r#"{"Image":"box","WorkingDir":"rel/dir"}"#,
            "the working directory 'rel/dir' is invalid, it needs to be an absolute path",
        ),
        (
            r#"{"Image":"box","Healthcheck":{"Test":["CMD","true"],"Interval":-1000000000}}"#,
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            r#"{"Image":"box","Healthcheck":{"Test":["CMD","true"],"Retries":-1}}"#,
            "Retries in Healthcheck cannot be negative",
        ),
    ] {
        let (status, text) = clients::api(&w, "POST", "/containers/create", Some(body));
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(want), "{body}: {text}");
    }
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

#[test]
fn sysctls_are_applied_in_the_container_and_a_refused_value_fails_the_start() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let host_somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
    let out = w.ok(&[
        "run",
        "--rm",
        "--sysctl",
        "kernel.shmmax=1000000",
        "--sysctl",
        "net.core.somaxconn=1234",
        "box",
        "cat",
        "/proc/sys/kernel/shmmax",
        "/proc/sys/net/core/somaxconn",
    ]);
    assert_eq!(out, "1000000\n1234\n");
    // The host's own values are untouched.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap(),
        host_somaxconn
    );
    // A value the kernel refuses fails the start with its reason, as with runc.
    let out = w.output(&[
        "run",
        "--rm",
        "--sysctl",
        "kernel.shmmax=abc",
        "box",
        "true",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("write sysctl key kernel.shmmax") && err.contains("nvalid argument"),
        "{err}"
    );
    // net.* with the host's network would change the host.
    let (_, err) = w.fails(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--sysctl",
        "net.core.somaxconn=1",
        "box",
        "true",
    ]);
    assert!(err.contains("is not allowed in host network mode"), "{err}");
    assert_eq!(w.ok(&["ps", "-aq"]), "");
    // Through the API (no CLI allow-list on the way), what would change the host fails the
    // start with runc's reasons, instead of being written.
    for (key, want) in [
        ("vm.swappiness", "is not in a separate kernel namespace"),
        (
            "kernel.hostname",
            "is not allowed as it conflicts with the OCI",
        ),
    ] {
        let body = format!(
            r#"{{"Image":"box","Cmd":["true"],"HostConfig":{{"Sysctls":{{"{key}":"1"}}}}}}"#
        );
        let (status, text) = clients::api(&w, "POST", "/containers/create?name=s", Some(&body));
        assert_eq!(status, 201, "{text}");
        let (status, text) = clients::api(&w, "POST", "/containers/s/start", None);
        assert!(status >= 400, "{key}: {status} {text}");
        assert!(text.contains(want), "{key}: {text}");
        w.ok(&["rm", "s"]);
    }
}

/// A user who may not open the socket of a running daemon is told so, as the docker CLI tells
/// them, instead of wharf trying to start a second daemon on the same socket.
#[test]
fn a_user_without_access_to_the_socket_gets_permission_denied() {
    use std::os::unix::process::CommandExt;
    let w = Wharf::new();
    w.ok(&["ps"]);
    let out = w
        .command()
        .arg("ps")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains(
            "permission denied while trying to connect to the wharf daemon socket at unix://"
        ),
        "{err}"
    );
    // The daemon that was running still is.
    w.ok(&["ps"]);
}
