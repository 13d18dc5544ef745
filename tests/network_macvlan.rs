//! macvlan through the engine: `network create -d macvlan` with its options and addressing,
//! containers on it reaching each other by name (the embedded DNS inside their namespaces),
//! `network inspect` and `info`, compose's `driver: macvlan` with `driver_opts`, refusals, and
//! removal keeping the user's parent (a veth pair the test creates with names of its slot).
//! The manager-level tests with a LAN host namespace are in tests/net_macvlan.rs.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use std::process::Command;

use common::Wharf;
use compose_helpers::Proj;

/// A veth pair in the host namespace (both ends up) as a user's parent interface; deleted on
/// drop.
struct Parent(String);

impl Parent {
    fn new(w: &Wharf) -> Parent {
        let name = format!("w{:03}m0", w.slot);
        let peer = format!("w{:03}m1", w.slot);
        let _ = Command::new("ip")
            .args(["link", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        let ip = |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success());
        ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &name, "up"]);
        ip(&["link", "set", &peer, "up"]);
        Parent(name)
    }

    fn exists(&self) -> bool {
        Command::new("ip")
            .args(["link", "show", &self.0])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

#[test]
fn macvlan_networks_through_the_cli_api_and_compose() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let parent = Parent::new(&w);
    let base = format!("10.{}.{}", 220 + w.slot / 64, (w.slot % 64) * 4 + 2);
    w.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        &format!("parent={}", parent.0),
        "-o",
        "macvlan_mode=bridge",
        "--subnet",
        &format!("{base}.0/24"),
        "--gateway",
        &format!("{base}.1"),
        "--ip-range",
        &format!("{base}.64/26"),
        "--aux-address",
        &format!("router={base}.64"),
        "lan",
    ]);
    assert_eq!(
        w.ok(&[
            "network",
            "inspect",
            "-f",
            "{{.Driver}} {{json .Options}}",
            "lan"
        ])
        .trim(),
        format!(
            r#"macvlan {{"macvlan_mode":"bridge","parent":"{}"}}"#,
            parent.0
        )
    );
    let info: serde_json::Value = serde_json::from_str(&w.ok(&["info", "-f", "json"])).unwrap();
    let plugins = info["Plugins"]["Network"].to_string();
    assert!(
        plugins.contains("macvlan") && plugins.contains("ipvlan"),
        "{plugins}"
    );
    w.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "lan",
        "box",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/etc",
    ]);
    let srv_ip = w.inspect("srv", "{{.NetworkSettings.Networks.lan.IPAddress}}");
    assert_eq!(
        srv_ip,
        format!("{base}.65"),
        "from the range, past the aux address"
    );
    let fixed = format!("{base}.200");
    w.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "lan",
        "--ip",
        &fixed,
        "box",
        "sleep",
        "60",
    ]);
    assert_eq!(
        w.inspect("cli", "{{.NetworkSettings.Networks.lan.IPAddress}}"),
        fixed
    );
    let resolv = w.ok(&["exec", "cli", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    let hostname = w.inspect("srv", "{{.Config.Hostname}}");
    let got = w.ok(&["exec", "cli", "wget", "-qO-", "http://srv:8080/hostname"]);
    assert_eq!(got.trim(), hostname);
    // A restarted daemon answers inside the namespaces again.
    unsafe { libc::kill(w.daemon_pid().unwrap(), libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    w.ok(&["ps"]);
    let got = w.ok(&["exec", "cli", "wget", "-qO-", "http://srv:8080/hostname"]);
    assert_eq!(got.trim(), hostname, "after a daemon restart");
    // Refusals name what was expected.
    let (_, err) = w.fails(&[
        "network",
        "create",
        "-d",
        "ipvlan",
        "-o",
        "ipvlan_mode=l9",
        "x",
    ]);
    assert!(err.contains("expected l2, l3 or l3s"), "{err}");
    let (_, err) = w.fails(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=nosuch0",
        "x",
    ]);
    assert!(
        err.contains("parent interface nosuch0 does not exist"),
        "{err}"
    );
    // Compose: driver and driver_opts.
    let yaml = format!(
        "services:\n  a:\n    image: box\n    command: [\"sleep\", \"60\"]\n    networks: [lan2]\nnetworks:\n  lan2:\n    driver: macvlan\n    driver_opts:\n      parent: {}\n      macvlan_mode: private\n    ipam:\n      config:\n        - subnet: {}.0/24\n",
        parent.0,
        format_args!("10.{}.{}", 220 + w.slot / 64, (w.slot % 64) * 4 + 3)
    );
    let p = Proj::new(&w, "mv", &yaml);
    p.ok(&["up", "-d"]);
    assert_eq!(
        w.ok(&[
            "network",
            "inspect",
            "-f",
            "{{.Driver}} {{json .Options}}",
            "mv_lan2"
        ])
        .trim(),
        format!(
            r#"macvlan {{"macvlan_mode":"private","parent":"{}"}}"#,
            parent.0
        )
    );
    p.ok(&["down"]);
    assert!(w.output(&["network", "inspect", "mv_lan2"]).status.code() != Some(0));
    w.ok(&["rm", "-f", "srv", "cli"]);
    w.ok(&["network", "rm", "lan"]);
    assert!(parent.exists(), "the user's parent was removed");
}
