//! Compose network keys applied to the containers: `mac_address` at the service level (its
//! first network's) and per network.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use compose_helpers::{cmd, engine, Proj, LOOP};

#[test]
fn mac_addresses_of_services_and_of_their_networks() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  a:
    image: busybox
    command: {c}
    mac_address: 02:42:ac:11:77:01
  b:
    image: busybox
    command: {c}
    networks:
      front: {{}}
      back: {{mac_address: "02:42:ac:11:77:02"}}
networks:
  front: {{}}
  back: {{}}
"#,
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "macs", &yaml);
    p.ok(&["up", "-d"]);
    let addr = |c: &str, ifname: &str| {
        w.ok(&[
            "exec",
            c,
            "cat",
            &format!("/sys/class/net/{ifname}/address"),
        ])
        .trim()
        .to_string()
    };
    assert_eq!(addr("macs-a-1", "eth0"), "02:42:ac:11:77:01");
    // b's networks attach in name order: back is eth0, front eth1 (a random address).
    let nets: serde_json::Value =
        serde_json::from_str(&w.inspect("macs-b-1", "{{json .NetworkSettings.Networks}}")).unwrap();
    assert_eq!(
        nets["macs_back"]["MacAddress"], "02:42:ac:11:77:02",
        "{nets}"
    );
    assert_ne!(
        nets["macs_front"]["MacAddress"], "02:42:ac:11:77:02",
        "{nets}"
    );
    // Changing the address recreates the service.
    std::fs::write(p.dir.join("compose.yaml"), yaml.replace("77:01", "77:03")).unwrap();
    p.ok(&["up", "-d"]);
    assert_eq!(addr("macs-a-1", "eth0"), "02:42:ac:11:77:03");
    p.ok(&["down"]);
}
