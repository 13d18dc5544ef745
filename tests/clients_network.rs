//! Networks as the docker CLI sees them (issue 12, found by docker-py): the names dockerd
//! takes (spaces too), `--aux-address` echoed by inspect and never handed out, and a forced
//! disconnect of a container that is not connected refused as by dockerd.

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::Docker;
use common::Wharf;

/// The first /24 of this engine's own address pool (see the harness), as `10.a.b`.
fn net_base(w: &Wharf) -> String {
    format!("10.{}.{}", 220 + w.slot / 64, (w.slot % 64) * 4)
}

#[test]
fn names_with_spaces_and_aux_addresses_like_dockerd() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    let base = net_base(&w);
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.0/29"),
        "--aux-address",
        &format!("a={base}.2"),
        "--aux-address",
        &format!("b={base}.3"),
        "test 01",
    ]);
    let aux = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{json (index .IPAM.Config 0).AuxiliaryAddresses}}",
        "test 01",
    ]);
    assert_eq!(aux.trim(), format!(r#"{{"a":"{base}.2","b":"{base}.3"}}"#));
    // .1 is the gateway, .2 and .3 are reserved: the first container gets .4.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        "test 01",
        "box",
        "sleep",
        "60",
    ]);
    let ip = d.ok(&[
        "inspect",
        "-f",
        r#"{{(index .NetworkSettings.Networks "test 01").IPAddress}}"#,
        "c",
    ]);
    assert_eq!(ip.trim(), format!("{base}.4"));
    let err = d.fails(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.16/29"),
        "--aux-address",
        &format!("gw={base}.17"),
        "bad",
    ]);
    assert!(
        err.contains(&format!("auxiliary address gw={base}.17")),
        "{err}"
    );
    let err = d.fails(&["network", "create", "a/b"]);
    assert!(err.contains("invalid network name"), "{err}");
    d.ok(&["rm", "-f", "c"]);
    d.ok(&["network", "rm", "test 01"]);
}

#[test]
fn forced_disconnect_of_an_unconnected_container_is_refused() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    d.ok(&["network", "create", "n1"]);
    d.ok(&["run", "-d", "--name", "c", "box", "sleep", "60"]);
    d.ok(&["network", "connect", "n1", "c"]);
    d.ok(&["network", "disconnect", "--force", "n1", "c"]);
    let err = d.fails(&["network", "disconnect", "--force", "n1", "c"]);
    assert!(err.contains("is not connected to network n1"), "{err}");
    let members = d.ok(&["network", "inspect", "-f", "{{len .Containers}}", "n1"]);
    assert_eq!(members.trim(), "0");
    d.ok(&["rm", "-f", "c"]);
}

/// `--mac-address` (and `MacAddress` in an endpoint's settings): the container's link has it,
/// inspect shows it, and a bad one is refused.
#[test]
fn mac_address_is_the_containers_own() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["network", "create", "macnet"]);
    for network in ["bridge", "macnet"] {
        let name = format!("m-{network}");
        w.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            network,
            "--mac-address",
            "02:42:ac:11:99:01",
            "box",
            "sleep",
            "600",
        ]);
        let inside = w.ok(&["exec", &name, "cat", "/sys/class/net/eth0/address"]);
        assert_eq!(inside.trim(), "02:42:ac:11:99:01", "{network}");
        let nets: serde_json::Value =
            serde_json::from_str(&w.inspect(&name, "{{json .NetworkSettings.Networks}}")).unwrap();
        let shown = nets[network]["MacAddress"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(shown, "02:42:ac:11:99:01", "{network}");
        w.ok(&["rm", "-f", &name]);
    }
    let (code, err) = w.fails(&[
        "run",
        "--rm",
        "--mac-address",
        "02:42:zz:11:99:01",
        "box",
        "true",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("invalid MAC address"), "{err}");
    assert!(err.contains("--mac-address"), "{err}");
    // The docker CLI sends it in the endpoint's settings (API 1.44+).
    let d = Docker::new(&w);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "m-docker",
        "--network",
        "macnet",
        "--mac-address",
        "02:42:ac:11:99:02",
        "box",
        "sleep",
        "600",
    ]);
    let inside = w.ok(&["exec", "m-docker", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(inside.trim(), "02:42:ac:11:99:02");
    w.ok(&["rm", "-f", "m-docker"]);
    w.ok(&["network", "rm", "macnet"]);
}
