//! Dual-stack networks against the in-memory host: the IPv6 side planned (given subnet, pool,
//! refusals), addresses and routes on the container's link, the bridge's IPv6 gateway, IPv6
//! forwarding, firewall rules and `[::]` holds, release at detach and repair at restore.

use std::net::{Ipv6Addr, SocketAddrV6};

use super::*;
use crate::net::ipam::Pool6;
use crate::net::types::SubnetRequest;

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().expect("IPv6 address")
}

fn dual(name: &str, v4: &str, v6: Option<&str>) -> NetworkCreate {
    NetworkCreate {
        name: name.into(),
        subnet: Some(v4.into()),
        enable_ipv6: true,
        v6: v6.map(|s| SubnetRequest {
            subnet: Some(s.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn env6() -> Env {
    let mut e = env();
    let cfg = ManagerConfig {
        pools6: vec![Pool6 {
            base: "fd00:77::/48".parse().expect("pool"),
            size: 64,
        }],
        ..e.mgr.config().clone()
    };
    e.mgr = NetworkManager::with_drivers(cfg, e.host.clone(), e.fw.clone());
    e
}

#[tokio::test]
async fn dual_stack_network_gets_both_subnets_and_the_bridge_both_gateways() {
    let e = env6();
    let net = e
        .mgr
        .create_network(dual("dual", "127.77.20.0/24", Some("fd00:20::/64")))
        .await
        .expect("create");
    assert!(net.enable_ipv6());
    let i6 = net.ipam6.clone().expect("IPv6 IPAM");
    assert_eq!(
        (i6.subnet.to_string(), i6.gateway),
        ("fd00:20::/64".into(), ip6("fd00:20::1"))
    );
    assert_eq!(
        e.host.state().addresses6.get(&net.bridge),
        Some(&(ip6("fd00:20::1"), 64))
    );
    assert!(e.host.state().ip6_forward);
    let rules = e.fw.state().tables[TABLE].clone();
    assert_eq!(rules.networks[0].subnet6, Some(i6.subnet));
    // Without a subnet: the next free /64 of the IPv6 pools; the IPv4-only stays IPv4 only.
    let auto = e
        .mgr
        .create_network(dual("auto", "127.77.21.0/24", None))
        .await
        .expect("create");
    assert_eq!(
        auto.subnet6().map(|s| s.to_string()),
        Some("fd00:77::/64".into())
    );
    let v4 = e.net("plain").await;
    assert!(!v4.enable_ipv6() && !e.host.state().addresses6.contains_key(&v4.bridge));
}

#[tokio::test]
async fn ipv6_requests_are_refused_clearly() {
    let e = env6();
    e.mgr
        .create_network(dual("dual", "127.77.20.0/24", Some("fd00:20::/64")))
        .await
        .expect("create");
    let cases: Vec<(NetworkCreate, &str)> = vec![
        // An IPv6 subnet without --ipv6, as dockerd refuses it.
        (
            NetworkCreate {
                enable_ipv6: false,
                ..dual("a", "127.77.30.0/24", Some("fd00:30::/64"))
            },
            "needs IPv6 enabled",
        ),
        (
            dual("b", "127.77.31.0/24", Some("fd00:20:0:0:1::/80")),
            "overlaps",
        ),
        (
            dual("c", "127.77.32.0/24", Some("10.0.0.0/24")),
            "expected an IPv6 CIDR",
        ),
        (
            dual("d", "127.77.33.0/24", Some("fd00:33::1/64")),
            "host bits",
        ),
        (
            dual("e", "127.77.34.0/24", Some("fd00:34::/127")),
            "/126 or larger",
        ),
    ];
    for (req, want) in cases {
        let name = req.name.clone();
        let err = e
            .mgr
            .create_network(req)
            .await
            .expect_err(&name)
            .to_string();
        assert!(err.contains(want), "{name}: {err}");
        assert!(e.mgr.network(&name).await.is_none());
    }
    let mut two = create("two");
    let cfg = |s: &str| SubnetRequest {
        subnet: Some(s.into()),
        ..Default::default()
    };
    let err = two
        .set_ipam_configs(vec![cfg("fd00:1::/64"), cfg("fd00:2::/64")])
        .expect_err("two IPv6 subnets");
    assert!(
        err.to_string().contains("at most one IPv4 and one IPv6"),
        "{err}"
    );
    // --ip6 on an IPv4-only network.
    e.net("plain").await;
    let err = e
        .attach(
            "/ns/b",
            "plain",
            b_with(|a| a.ip6 = Some(ip6("fd00:20::9"))),
        )
        .await
        .expect_err("ip6 on IPv4 network")
        .to_string();
    assert!(err.contains("has no IPv6"), "{err}");
}

#[tokio::test]
async fn attach_gives_both_addresses_routes_dns_and_dual_holds() {
    let e = env6();
    let net = e
        .mgr
        .create_network(dual("app", "127.77.20.0/24", Some("fd00:20::/64")))
        .await
        .expect("create");
    let att = Attachment {
        ip6: Some(ip6("fd00:20::10")),
        ports: vec![port(8080, 80)],
        ..container("a", "web")
    };
    let ep = e.attach("/ns/a", "app", att).await.expect("attach");
    let v6 = ep.v6.expect("IPv6 side");
    assert_eq!(
        (v6.ip, v6.prefix_len, v6.gateway),
        (ip6("fd00:20::10"), 64, ip6("fd00:20::1"))
    );
    let inside = e.host.state().namespaces[&PathBuf::from("/ns/a")]["eth0"].clone();
    let peer = inside.v6.expect("IPv6 on the link");
    assert_eq!((peer.ip, peer.default_gateway), (v6.ip, Some(v6.gateway)));
    // A dynamic one next to it; the fixed one is taken.
    let b = e
        .attach("/ns/b", "app", container("b", "db"))
        .await
        .expect("attach");
    assert_eq!(b.v6.map(|v| v.ip), Some(ip6("fd00:20::2")));
    let err = e
        .attach(
            "/ns/c",
            "app",
            Attachment {
                ip6: Some(v6.ip),
                ..container("c", "c")
            },
        )
        .await
        .expect_err("taken");
    assert!(err.to_string().contains("already in use"), "{err}");
    // The published port: forwarded to both addresses, held on [::] towards the container.
    let fwd = e.fw.forwards(TABLE);
    assert_eq!(fwd[0].container_ip6, Some(v6.ip));
    assert_eq!(
        e.fw.state().held6.get(&(Proto::Tcp, 8080)),
        Some(&SocketAddrV6::new(v6.ip, 80, 0, 0))
    );
    // DNS has the AAAA side (the resolver answers IPv4 here; AAAA is in dns's own tests).
    assert_eq!(e.resolve(&net, "web"), vec![ep.ip]);
    // Detach releases both addresses and the [::] hold.
    e.mgr.detach(&ep.container_id, "app").await.expect("detach");
    let n = e.mgr.network("app").await.expect("network");
    assert!(!n.ipam6.expect("ipam6").allocated.contains_key(&v6.ip));
    assert!(e.fw.state().held6.is_empty());
}

#[tokio::test]
async fn restore_reconciles_ipv6_allocations() {
    let e = env6();
    e.mgr
        .create_network(dual("app", "127.77.20.0/24", Some("fd00:20::/64")))
        .await
        .expect("create");
    let a = e
        .attach("/ns/a", "app", container("a", "a"))
        .await
        .expect("a");
    let b = e
        .attach("/ns/b", "app", container("b", "b"))
        .await
        .expect("b");
    let nets = e.mgr.networks().await;
    // b's namespace is gone: its addresses of both families are released.
    e.host.state().namespaces.remove(&PathBuf::from("/ns/b"));
    let fresh = NetworkManager::with_drivers(e.mgr.config().clone(), e.host.clone(), e.fw.clone());
    let rep = fresh.restore(nets, vec![a.clone(), b.clone()]).await;
    let b6 = b.v6.expect("b's IPv6").ip;
    assert!(rep.released_ips.contains(&b6.into()), "{rep:?}");
    assert!(rep.released_ips.contains(&b.ip.into()), "{rep:?}");
    let n = fresh.network("app").await.expect("network");
    let owners: Vec<Ipv6Addr> = n.ipam6.expect("ipam6").allocated.keys().copied().collect();
    assert_eq!(owners, vec![a.v6.expect("a's IPv6").ip]);
}
