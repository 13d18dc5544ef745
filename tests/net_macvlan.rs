//! macvlan and ipvlan networks on real links: the parent is one end of a veth pair whose other
//! end is in a "LAN host" namespace (an address in the subnet), or an 802.1q sub-interface of it
//! that wharf creates and removes, or the dummy link of a network without a parent. Containers
//! reach each other, the LAN host reaches them and they it, names resolve through the embedded
//! DNS inside their namespaces, and removal leaves the user's parent.
//!
//! Needs root. Traffic only between the test's own namespaces.

#[path = "net_util.rs"]
mod net_util;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use hickory_proto::rr::RecordType;
use net_util::*;
use wharf::net::dns::{build_query, parse_a_response};
use wharf::net::{netns, Attachment, NetworkCreate};

fn att(id: &str, name: &str, ip: Option<Ipv4Addr>) -> Attachment {
    Attachment {
        container_id: format!("{id:0<64}"),
        container_name: name.into(),
        ip,
        ..Default::default()
    }
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

fn opts(o: &[(&str, &str)]) -> BTreeMap<String, String> {
    o.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `ip` inside `ns` (a command started from a thread that joined it runs there).
fn ip_in(ns: &Path, args: &[&str]) {
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let st = netns::run_in(ns, move || {
        Command::new("ip").args(&owned).status().unwrap()
    })
    .unwrap();
    assert!(st.success(), "ip {args:?} in {}", ns.display());
}

/// Ask the embedded DNS inside `ns` (127.0.0.11:53) for `name`'s A records.
fn resolve_in(ns: &Path, name: &str) -> Vec<Ipv4Addr> {
    let q = build_query(name, RecordType::A, 7);
    let resp = udp_ask(Some(ns), sa(Ipv4Addr::new(127, 0, 0, 11), 53), &q).unwrap();
    parse_a_response(&resp).map(|(_, v)| v).unwrap_or_default()
}

async fn host_has(name: &str) -> bool {
    link_names().await.iter().any(|l| l == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macvlan_containers_reach_each_other_and_a_lan_host() {
    require_root!();
    let env = Env::new();
    let (lan, _host_ip, lan_ip) = env.outside_host(70).await;
    let parent = format!("{}o", env.tag);
    let net = env
        .mgr
        .create_network(NetworkCreate {
            name: "lan".into(),
            driver: Some("macvlan".into()),
            subnet: Some("10.213.70.0/24".into()),
            gateway: Some(lan_ip.to_string()),
            ip_range: Some("10.213.70.64/26".into()),
            options: opts(&[("parent", &parent), ("macvlan_mode", "bridge")]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!net.parent_created);
    let (a, b) = (env.ns("a"), env.ns("b"));
    tcp_server(&a, 80);
    tcp_server(&lan, 8080);
    let ea = env
        .mgr
        .attach(&a, "lan", att("a", "srv", None))
        .await
        .unwrap();
    let eb = env
        .mgr
        .attach(
            &b,
            "lan",
            att("b", "cli", Some(Ipv4Addr::new(10, 213, 70, 200))),
        )
        .await
        .unwrap();
    assert!(net.ipam.ip_range.unwrap().contains(&ea.ip), "{}", ea.ip);
    assert_eq!(eb.ip, Ipv4Addr::new(10, 213, 70, 200));
    assert_eq!(ea.dns_server, Some(Ipv4Addr::new(127, 0, 0, 11)));
    // Container to container, container to the LAN host and back: addresses preserved.
    let ap = a.clone();
    let (ia, ib) = (ea.ip, eb.ip);
    reach_each_other_and_the_lan(&b, &lan, (ia, ib), lan_ip).await;
    // Each container has a MAC of its own on the segment, and the default route via the LAN's
    // gateway.
    assert_ne!(ea.mac, eb.mac);
    let routes = netns::run_in(&ap, || {
        String::from_utf8(Command::new("ip").args(["route"]).output().unwrap().stdout).unwrap()
    })
    .unwrap();
    assert!(
        routes.contains(&format!("default via {lan_ip}")),
        "{routes}"
    );
    // The embedded DNS answers inside the namespaces.
    let bp = b.clone();
    assert_eq!(blocking(move || resolve_in(&bp, "srv")).await, vec![ia]);
    let ap = a.clone();
    assert_eq!(blocking(move || resolve_in(&ap, "cli")).await, vec![ib]);
    // Detach: the link goes; the user's parent stays with the network.
    env.mgr.detach(&ea.container_id, "lan").await.unwrap();
    let ap = a.clone();
    let left = netns::run_in(&ap, || {
        String::from_utf8(
            Command::new("ip")
                .args(["-o", "link"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    })
    .unwrap();
    assert!(!left.contains("eth0"), "{left}");
    env.mgr.detach_all(&eb.container_id).await.unwrap();
    env.mgr.remove_network("lan").await.unwrap();
    assert!(host_has(&parent).await, "the user's parent was removed");
}

/// Whether the kernel can make links of `kind` (`vlan`, `ipvlan`): this project's CI VM kernel
/// has neither, so the tests that need them are ignored there and fail loudly elsewhere if the
/// kernel lacks them.
fn kernel_has(kind: &str) -> bool {
    let tag = unique_tag();
    let (a, b) = (format!("{tag}k1"), format!("{tag}k2"));
    let ok = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    ok(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    let sub = format!("{tag}k3");
    let res = match kind {
        "vlan" => ok(&[
            "link", "add", "link", &a, "name", &sub, "type", "vlan", "id", "5",
        ]),
        _ => ok(&["link", "add", &sub, "link", &a, "type", kind]),
    };
    ok(&["link", "del", &a]);
    res
}

/// From container `b` (address `ib`) to `ia`'s server on 80 and the LAN host's on 8080, and
/// from the LAN host (in `lan`) back to `ia`: each server sees the client's own address.
async fn reach_each_other_and_the_lan(
    b: &Path,
    lan: &Path,
    (ia, ib): (Ipv4Addr, Ipv4Addr),
    lan_ip: Ipv4Addr,
) {
    let (bp, lp) = (b.to_path_buf(), lan.to_path_buf());
    assert_eq!(
        blocking(move || tcp_get(Some(&bp), sa(ia, 80)))
            .await
            .unwrap(),
        ib.to_string()
    );
    let bp = b.to_path_buf();
    assert_eq!(
        blocking(move || tcp_get(Some(&bp), sa(lan_ip, 8080)))
            .await
            .unwrap(),
        ib.to_string()
    );
    assert_eq!(
        blocking(move || tcp_get(Some(&lp), sa(ia, 80)))
            .await
            .unwrap(),
        lan_ip.to_string()
    );
}

/// Two containers on `net` (driver and parent as given), the LAN host at `lan_ip` in `lan`:
/// each reaches the others, and names resolve.
async fn two_containers_and_the_lan(
    env: &Env,
    net: &str,
    lan: &Path,
    lan_ip: Ipv4Addr,
) -> (wharf::net::Endpoint, wharf::net::Endpoint) {
    let (a, b) = (env.ns(&format!("{net}a")), env.ns(&format!("{net}b")));
    tcp_server(&a, 80);
    let ea = env
        .mgr
        .attach(&a, net, att("a", "srv", None))
        .await
        .unwrap();
    let eb = env
        .mgr
        .attach(&b, net, att("b", "cli", None))
        .await
        .unwrap();
    assert!(
        ea.ip != lan_ip && eb.ip != lan_ip,
        "the LAN host's address was handed out"
    );
    reach_each_other_and_the_lan(&b, lan, (ea.ip, eb.ip), lan_ip).await;
    let ia = ea.ip;
    let bp = b.clone();
    assert_eq!(blocking(move || resolve_in(&bp, "srv")).await, vec![ia]);
    (ea, eb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kernel with 802.1q (module 8021q); this VM's kernel has none"]
async fn macvlan_on_an_8021q_parent_wharf_creates_and_removes() {
    require_root!();
    assert!(
        kernel_has("vlan"),
        "this kernel cannot make 802.1q links (module 8021q)"
    );
    let env = Env::new();
    let (lan, _, _) = env.outside_host(71).await;
    let base = format!("{}o", env.tag);
    let parent = format!("{base}.10");
    // The LAN host on VLAN 10.
    ip_in(
        &lan,
        &[
            "link", "add", "link", "eth0", "name", "eth0.10", "type", "vlan", "id", "10",
        ],
    );
    ip_in(&lan, &["addr", "add", "10.213.72.2/24", "dev", "eth0.10"]);
    ip_in(&lan, &["link", "set", "eth0.10", "up"]);
    let lan_ip = Ipv4Addr::new(10, 213, 72, 2);
    tcp_server(&lan, 8080);
    assert!(!host_has(&parent).await);
    let net = env
        .mgr
        .create_network(NetworkCreate {
            name: "v10".into(),
            driver: Some("macvlan".into()),
            subnet: Some("10.213.72.0/24".into()),
            options: opts(&[("parent", &parent)]),
            aux_addresses: [("lan".to_string(), lan_ip.to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(net.parent_created && host_has(&parent).await);
    let (ea, eb) = two_containers_and_the_lan(&env, "v10", &lan, lan_ip).await;
    env.mgr.detach_all(&ea.container_id).await.unwrap();
    env.mgr.detach_all(&eb.container_id).await.unwrap();
    env.mgr.remove_network("v10").await.unwrap();
    assert!(
        !host_has(&parent).await,
        "the 802.1q parent wharf made is left"
    );
    assert!(host_has(&base).await, "the user's interface was removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kernel with ipvlan; this VM's kernel has none"]
async fn ipvlan_l2_containers_reach_each_other_and_a_lan_host() {
    require_root!();
    assert!(kernel_has("ipvlan"), "this kernel cannot make ipvlan links");
    let env = Env::new();
    let (lan, _, lan_ip) = env.outside_host(74).await;
    tcp_server(&lan, 8080);
    let parent = format!("{}o", env.tag);
    env.mgr
        .create_network(NetworkCreate {
            name: "l2".into(),
            driver: Some("ipvlan".into()),
            subnet: Some("10.213.74.0/24".into()),
            gateway: Some(lan_ip.to_string()),
            options: opts(&[("parent", &parent), ("ipvlan_mode", "l2")]),
            ..Default::default()
        })
        .await
        .unwrap();
    let (ea, eb) = two_containers_and_the_lan(&env, "l2", &lan, lan_ip).await;
    // ipvlan: the parent's MAC for every container.
    assert_eq!(ea.mac, eb.mac);
    env.mgr.detach_all(&ea.container_id).await.unwrap();
    env.mgr.detach_all(&eb.container_id).await.unwrap();
    env.mgr.remove_network("l2").await.unwrap();
    assert!(host_has(&parent).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_macvlan_without_parent_runs_on_a_dummy_link() {
    require_root!();
    let env = Env::new();
    let net = env
        .mgr
        .create_network(NetworkCreate {
            name: "sealed".into(),
            driver: Some("macvlan".into()),
            subnet: Some("10.213.73.0/24".into()),
            internal: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let dummy = net.parent.clone().unwrap();
    env.extra_links.lock().unwrap().push(dummy.clone());
    assert!(net.internal && net.parent_created && host_has(&dummy).await);
    let (a, b) = (env.ns("a"), env.ns("b"));
    tcp_server(&a, 80);
    let ea = env
        .mgr
        .attach(&a, "sealed", att("a", "srv", None))
        .await
        .unwrap();
    let eb = env
        .mgr
        .attach(&b, "sealed", att("b", "cli", None))
        .await
        .unwrap();
    let bp = b.clone();
    let ia = ea.ip;
    assert_eq!(
        blocking(move || tcp_get(Some(&bp), sa(ia, 80)))
            .await
            .unwrap(),
        eb.ip.to_string()
    );
    let bp = b.clone();
    assert_eq!(blocking(move || resolve_in(&bp, "srv")).await, vec![ia]);
    env.mgr.detach_all(&ea.container_id).await.unwrap();
    env.mgr.detach_all(&eb.container_id).await.unwrap();
    env.mgr.remove_network("sealed").await.unwrap();
    assert!(!host_has(&dummy).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macvlan_private_and_passthru_modes_do_what_they_say() {
    require_root!();
    let env = Env::new();
    let (lan, _, lan_ip) = env.outside_host(75).await;
    tcp_server(&lan, 8080);
    let parent = format!("{}o", env.tag);
    let create = |name: &str, mode: &str, third: u8| NetworkCreate {
        name: name.into(),
        driver: Some("macvlan".into()),
        subnet: Some(format!("10.213.{third}.0/24")),
        ip_range: Some(format!("10.213.{third}.128/25")),
        options: opts(&[("parent", &parent), ("macvlan_mode", mode)]),
        ..Default::default()
    };
    // private: containers do not see each other, the LAN host they do.
    env.mgr
        .create_network(create("priv", "private", 75))
        .await
        .unwrap();
    let (a, b) = (env.ns("a"), env.ns("b"));
    tcp_server(&a, 80);
    let ea = env
        .mgr
        .attach(&a, "priv", att("a", "srv", None))
        .await
        .unwrap();
    let eb = env
        .mgr
        .attach(&b, "priv", att("b", "cli", None))
        .await
        .unwrap();
    let (bp, ia) = (b.clone(), ea.ip);
    assert!(
        blocking(move || tcp_get(Some(&bp), sa(ia, 80)))
            .await
            .is_err(),
        "private mode let two containers talk"
    );
    let bp = b.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&bp), sa(lan_ip, 8080)))
            .await
            .unwrap(),
        eb.ip.to_string()
    );
    env.mgr.detach_all(&ea.container_id).await.unwrap();
    env.mgr.detach_all(&eb.container_id).await.unwrap();
    env.mgr.remove_network("priv").await.unwrap();
    // passthru: the parent whole, for one container.
    env.mgr
        .create_network(create("pt", "passthru", 75))
        .await
        .unwrap();
    let ea = env
        .mgr
        .attach(&a, "pt", att("a", "srv", None))
        .await
        .unwrap();
    let ap = a.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&ap), sa(lan_ip, 8080)))
            .await
            .unwrap(),
        ea.ip.to_string()
    );
    let err = env
        .mgr
        .attach(&b, "pt", att("b", "cli", None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("needs its parent interface"),
        "{err}"
    );
    assert!(env
        .mgr
        .endpoints(Some(&format!("{:0<64}", "b")))
        .await
        .is_empty());
    env.mgr.detach_all(&ea.container_id).await.unwrap();
    env.mgr.remove_network("pt").await.unwrap();
    assert!(host_has(&parent).await);
}
