//! Bridge networks with real namespaces and real traffic: attach/detach, isolation, NAT,
//! published ports (TCP/UDP, from 127.0.0.1 and from another namespace), port conflicts,
//! internal networks, teardown leak check, repair at startup, bad input.
//! Needs root and the `nft` binary (Debian: nftables).

#[path = "net_util.rs"]
mod net_util;

use std::net::{Ipv4Addr, SocketAddr};

use net_util::*;
use wharf::net::{netns, Attachment, NetError, NetworkCreate, PortMapping, Proto};

fn att(id: &str, name: &str) -> Attachment {
    Attachment {
        container_id: format!("{id}{}", "0".repeat(64 - id.len())),
        container_name: name.into(),
        ..Default::default()
    }
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_namespaces_talk_on_one_bridge() {
    require_root!();
    let env = Env::new();
    let net = env.net("front", 10, false).await;
    let (a, b) = (env.ns("a"), env.ns("b"));
    let ea = env.mgr.attach(&a, "front", att("aa", "a")).await.unwrap();
    let eb = env.mgr.attach(&b, "front", att("bb", "b")).await.unwrap();
    assert_eq!(ea.ip, Ipv4Addr::new(10, 213, 10, 2));
    assert_eq!(eb.ip, Ipv4Addr::new(10, 213, 10, 3));
    assert_eq!(ea.gateway, net.gateway());
    assert_eq!(ea.ifname, "eth0");
    assert_eq!(ea.mac.len(), 17, "{}", ea.mac);
    assert_eq!(ea.dns_server, Some(net.gateway()));
    // Inside: address, up, default route, lo up.
    let nl = wharf::net::Netlink::connect_in(&a).await.unwrap();
    let eth0 = nl.link("eth0").await.unwrap().unwrap();
    assert!(eth0.up);
    assert_eq!(nl.addresses(eth0.index).await.unwrap(), vec![(ea.ip, 24)]);
    assert!(nl.has_default_route().await.unwrap());
    assert!(nl.link("lo").await.unwrap().unwrap().up);
    // TCP both ways, no NAT inside a network.
    tcp_server(&a, 8080);
    tcp_server(&b, 8080);
    let bp = b.clone();
    let got = blocking(move || tcp_get(Some(&bp), sa(ea.ip, 8080)))
        .await
        .unwrap();
    assert_eq!(got, eb.ip.to_string());
    let ap = a.clone();
    let got = blocking(move || tcp_get(Some(&ap), sa(eb.ip, 8080)))
        .await
        .unwrap();
    assert_eq!(got, ea.ip.to_string());
    // UDP.
    udp_server(&a, 7000);
    let bp = b.clone();
    let got = blocking(move || udp_ask(Some(&bp), sa(ea.ip, 7000), b"hi"))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&got), format!("hi from {}", eb.ip));
    // The host reaches containers through the bridge.
    let got = blocking(move || tcp_get(None, sa(ea.ip, 8080)))
        .await
        .unwrap();
    assert_eq!(got, net.gateway().to_string());
    // Detach: veth gone, address released and reused later.
    env.mgr.detach(&eb.container_id, "front").await.unwrap();
    // The veth is deleted in the background; settle() waits for it.
    env.mgr.settle().await.unwrap();
    assert!(!link_names().await.contains(&eb.host_ifname));
    let ap = a.clone();
    assert!(blocking(move || tcp_get(Some(&ap), sa(eb.ip, 8080)))
        .await
        .is_err());
    assert!(env
        .mgr
        .network("front")
        .await
        .unwrap()
        .ipam
        .owner(eb.ip)
        .is_none());
    let err = env.mgr.detach(&eb.container_id, "front").await.unwrap_err();
    assert!(matches!(err, NetError::NotFound(_)), "{err}");
    env.mgr.detach(&ea.container_id, "front").await.unwrap();
    env.mgr.remove_network("front").await.unwrap();
    assert!(!link_names().await.contains(&net.bridge));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_are_isolated_and_multi_network_containers_reach_both() {
    require_root!();
    let env = Env::new();
    env.net("n1", 12, false).await;
    env.net("n2", 13, false).await;
    let (a, b, c) = (env.ns("a"), env.ns("b"), env.ns("c"));
    let ea = env.mgr.attach(&a, "n1", att("aa", "a")).await.unwrap();
    let eb = env.mgr.attach(&b, "n2", att("bb", "b")).await.unwrap();
    // c on both: eth0 on n1, eth1 on n2.
    let c1 = env.mgr.attach(&c, "n1", att("cc", "c")).await.unwrap();
    let c2 = env.mgr.attach(&c, "n2", att("cc", "c")).await.unwrap();
    assert_eq!((c1.ifname.as_str(), c2.ifname.as_str()), ("eth0", "eth1"));
    tcp_server(&a, 80);
    tcp_server(&b, 80);
    let bp = b.clone();
    let r = blocking(move || tcp_get(Some(&bp), sa(ea.ip, 80))).await;
    assert!(r.is_err(), "n2 reached n1: {r:?}");
    let ap = a.clone();
    let r = blocking(move || tcp_get(Some(&ap), sa(eb.ip, 80))).await;
    assert!(r.is_err(), "n1 reached n2: {r:?}");
    let cp = c.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&cp), sa(ea.ip, 80)))
            .await
            .unwrap(),
        c1.ip.to_string()
    );
    let cp = c.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&cp), sa(eb.ip, 80)))
            .await
            .unwrap(),
        c2.ip.to_string()
    );
    // Disconnect c from n2 while "running": n2 is out of reach again, n1 still fine.
    env.mgr.detach(&c2.container_id, "n2").await.unwrap();
    env.mgr.settle().await.unwrap();
    let cp = c.clone();
    assert!(blocking(move || tcp_get(Some(&cp), sa(eb.ip, 80)))
        .await
        .is_err());
    let cp = c.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&cp), sa(ea.ip, 80)))
            .await
            .unwrap(),
        c1.ip.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_ports_from_loopback_and_another_namespace() {
    require_root!();
    let env = Env::new();
    let net = env.net("pub", 14, false).await;
    let (outside, host_ip, outside_ip) = env.outside_host(16).await;
    let c = env.ns("c");
    tcp_server(&c, 80);
    udp_server(&c, 53);
    let (tp, up) = (free_port(), free_port());
    let mut a = att("cc", "web");
    a.ports = vec![
        PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: tp,
            container_port: 80,
            proto: Proto::Tcp,
        },
        PortMapping {
            host_ip: Ipv4Addr::LOCALHOST.into(),
            host_port: up,
            container_port: 53,
            proto: Proto::Udp,
        },
        PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: 0,
            container_port: 80,
            proto: Proto::Tcp,
        },
    ];
    let ep = env.mgr.attach(&c, "pub", a).await.unwrap();
    let eph = ep.ports[2].host_port;
    assert_ne!(eph, 0);
    let table = nft_table(&env.table).expect("table");
    assert!(
        table.contains(&format!("dport {tp} dnat ip to {}:80", ep.ip)),
        "{table}"
    );
    // From 127.0.0.1: the container sees the gateway (masquerade of loopback sources).
    let got = blocking(move || tcp_get(None, sa(Ipv4Addr::LOCALHOST, tp)))
        .await
        .unwrap();
    assert_eq!(got, net.gateway().to_string());
    let got = blocking(move || tcp_get(None, sa(Ipv4Addr::LOCALHOST, eph)))
        .await
        .unwrap();
    assert_eq!(got, net.gateway().to_string());
    // From another namespace through a host address: the client's address is preserved.
    let o = outside.clone();
    let got = blocking(move || tcp_get(Some(&o), sa(host_ip, tp)))
        .await
        .unwrap();
    assert_eq!(got, outside_ip.to_string());
    // UDP on 127.0.0.1 only.
    let got = blocking(move || udp_ask(None, sa(Ipv4Addr::LOCALHOST, up), b"q"))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("q from {}", net.gateway())
    );
    let o = outside.clone();
    assert!(
        blocking(move || udp_ask(Some(&o), sa(host_ip, up), b"q"))
            .await
            .is_err(),
        "127.0.0.1-only port reachable from outside"
    );
    // The container reaches the outside host (masqueraded to the host's address there).
    tcp_server(&outside, 9999);
    let cp = c.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&cp), sa(outside_ip, 9999)))
            .await
            .unwrap(),
        host_ip.to_string()
    );
    assert_eq!(env.mgr.ports(&ep.container_id).await, ep.ports);
    // Stopped container: rules removed.
    env.mgr.unpublish(&ep.container_id).await.unwrap();
    assert!(blocking(move || tcp_get(None, sa(Ipv4Addr::LOCALHOST, tp)))
        .await
        .is_err());
    let table = nft_table(&env.table).expect("table");
    assert!(!table.contains("dnat ip to"), "{table}");
    // Started again.
    let again = env
        .mgr
        .publish(&ep.container_id, "pub", &ep.ports[..1])
        .await
        .unwrap();
    assert_eq!(again, ep.ports[..1].to_vec());
    let got = blocking(move || tcp_get(None, sa(Ipv4Addr::LOCALHOST, tp)))
        .await
        .unwrap();
    assert_eq!(got, net.gateway().to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_conflicts_name_the_port_and_holder_and_leave_nothing() {
    require_root!();
    let env = Env::new();
    env.net("conf", 17, false).await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let c = env.ns("c");
    let before = links_with(&env.tag).await;
    let mut a = att("cc", "web");
    a.ports = vec![PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: port,
        container_port: 80,
        proto: Proto::Tcp,
    }];
    let err = env.mgr.attach(&c, "conf", a).await.unwrap_err().to_string();
    assert!(err.contains(&format!("port {port}/tcp")), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert_eq!(
        links_with(&env.tag).await,
        before,
        "half-configured attach left a link"
    );
    assert!(env.mgr.endpoints(None).await.is_empty());
    assert!(env
        .mgr
        .network("conf")
        .await
        .unwrap()
        .ipam
        .allocated
        .is_empty());
    // Between two containers.
    drop(holder);
    let p2 = free_port();
    let ports = vec![PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: p2,
        container_port: 80,
        proto: Proto::Tcp,
    }];
    let mut a = att("c1", "first");
    a.ports = ports.clone();
    env.mgr.attach(&c, "conf", a).await.unwrap();
    let d = env.ns("d");
    let mut b = att("c2", "second");
    b.ports = vec![PortMapping {
        host_ip: Ipv4Addr::LOCALHOST.into(),
        ..ports[0]
    }];
    let err = env.mgr.attach(&d, "conf", b).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("port {p2}/tcp")) && err.contains("container first"),
        "{err}"
    );
    // Same port, other protocol: fine.
    let mut b = att("c2", "second");
    b.ports = vec![PortMapping {
        proto: Proto::Udp,
        ..ports[0]
    }];
    env.mgr.attach(&d, "conf", b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_network_has_no_outside_route() {
    require_root!();
    let env = Env::new();
    env.net("inner", 18, true).await;
    env.net("outer", 19, false).await;
    let (outside, _host_ip, outside_ip) = env.outside_host(20).await;
    tcp_server(&outside, 9999);
    let (i, o) = (env.ns("i"), env.ns("o"));
    let mut ai = att("ii", "in");
    ai.ports = vec![PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: free_port(),
        container_port: 80,
        proto: Proto::Tcp,
    }];
    let ei = env.mgr.attach(&i, "inner", ai).await.unwrap();
    assert!(
        ei.ports.is_empty(),
        "ports are not published on internal networks"
    );
    env.mgr.attach(&o, "outer", att("oo", "out")).await.unwrap();
    let nl = wharf::net::Netlink::connect_in(&i).await.unwrap();
    assert!(!nl.has_default_route().await.unwrap());
    let ip = i.clone();
    let r = blocking(move || tcp_get(Some(&ip), sa(outside_ip, 9999))).await;
    assert!(r.is_err(), "internal container reached the outside: {r:?}");
    // Even with a route added by hand, the firewall drops it.
    let ip = i.clone();
    let gw = ei.gateway;
    let r = blocking(move || {
        netns::run_in(&ip, move || {
            std::process::Command::new("ip")
                .args(["route", "add", "default", "via", &gw.to_string()])
                .status()
                .unwrap()
        })
        .unwrap();
        tcp_get(Some(&ip), sa(outside_ip, 9999))
    })
    .await;
    assert!(
        r.is_err(),
        "internal container reached the outside with a route: {r:?}"
    );
    // Internal containers still talk to each other.
    let j = env.ns("j");
    let ej = env.mgr.attach(&j, "inner", att("jj", "j")).await.unwrap();
    tcp_server(&j, 81);
    let ip = i.clone();
    assert_eq!(
        blocking(move || tcp_get(Some(&ip), sa(ej.ip, 81)))
            .await
            .unwrap(),
        ei.ip.to_string()
    );
    let op = o.clone();
    assert!(blocking(move || tcp_get(Some(&op), sa(outside_ip, 9999)))
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_leaves_no_link_rule_or_listener() {
    require_root!();
    // Tests run in parallel: look at this test's own links (its tag) and addresses (10.213.21-22).
    let ours = |l: &String| l.contains("10.213.21.") || l.contains("10.213.22.");
    let listeners0: Vec<String> = listeners().into_iter().filter(ours).collect();
    let tag;
    {
        let env = Env::new();
        tag = env.tag.clone();
        let links0 = links_with(&tag).await;
        assert!(nft_table(&env.table).is_none());
        let net = env.net("tear", 21, false).await;
        let n2 = env.net("tear2", 22, true).await;
        let (a, b) = (env.ns("a"), env.ns("b"));
        let mut aa = att("aa", "a");
        aa.ports = vec![PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: 0,
            container_port: 80,
            proto: Proto::Tcp,
        }];
        let ea = env.mgr.attach(&a, "tear", aa).await.unwrap();
        let eb = env.mgr.attach(&b, "tear", att("bb", "b")).await.unwrap();
        env.mgr.attach(&b, "tear2", att("bb", "b")).await.unwrap();
        assert!(links_with(&tag).await.contains(&ea.host_ifname));
        assert!(listeners().contains(&format!("udp/{}:53", net.gateway())));
        assert!(listeners().contains(&format!("tcp/{}:53", net.gateway())));
        assert!(nft_table(&env.table).unwrap().contains("dnat ip to"));
        let err = env
            .mgr
            .remove_network("tear")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has active endpoints") && err.contains('a') && err.contains('b'),
            "{err}"
        );
        env.mgr.detach_all(&ea.container_id).await.unwrap();
        env.mgr.detach_all(&eb.container_id).await.unwrap();
        env.mgr.remove_network("tear").await.unwrap();
        env.mgr.remove_network(&n2.id).await.unwrap();
        netns::delete(&a).unwrap();
        netns::delete(&b).unwrap();
        assert!(!a.exists());
        assert!(nft_table(&env.table).is_none(), "table left behind");
        assert_eq!(links_with(&tag).await, links0, "links left behind");
        let l: Vec<String> = listeners().into_iter().filter(ours).collect();
        assert_eq!(l, listeners0, "listeners left behind");
        let routes = std::process::Command::new("ip")
            .args(["-4", "route"])
            .output()
            .unwrap();
        let routes = String::from_utf8_lossy(&routes.stdout);
        assert!(
            !routes.contains("10.213.21.") && !routes.contains("10.213.22."),
            "{routes}"
        );
    }
    assert!(links_with(&tag).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_repairs_after_a_crash() {
    require_root!();
    let env = Env::new();
    let net = env.net("rep", 23, false).await;
    let (a, b) = (env.ns("a"), env.ns("b"));
    let mut aa = att("aa", "a");
    aa.ports = vec![PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: free_port(),
        container_port: 80,
        proto: Proto::Tcp,
    }];
    let ea = env.mgr.attach(&a, "rep", aa).await.unwrap();
    let eb = env.mgr.attach(&b, "rep", att("bb", "b")).await.unwrap();
    let stored_net = env.mgr.network("rep").await.unwrap();
    // A crash: the old daemon's DNS listeners die with it.
    env.mgr.shutdown().await;
    // State of the new daemon is the stored network and the only live container, a.
    // Also a bridge of a network that was never stored, with our prefix.
    let stale_bridge = format!("{}bzz", env.tag);
    {
        let (conn, h, _) = rtnetlink::new_connection().unwrap();
        tokio::spawn(conn);
        h.link()
            .add(rtnetlink::LinkBridge::new(&stale_bridge).build())
            .execute()
            .await
            .unwrap();
    }
    env.bridges.lock().unwrap().push(stale_bridge.clone());
    // And the firewall table wiped (e.g. `nft flush ruleset` by someone).
    std::process::Command::new("nft")
        .args(["delete", "table", "inet", &env.table])
        .status()
        .unwrap();
    let env2 = Env::with(|c| {
        c.table = env.table.clone();
        c.bridge_prefix = format!("{}b", env.tag);
        c.veth_prefix = format!("{}v", env.tag);
    });
    let rep = env2.mgr.restore(vec![stored_net], vec![ea.clone()]).await;
    assert!(rep.errors.is_empty(), "{rep:?}");
    assert!(rep.removed_links.contains(&eb.host_ifname), "{rep:?}");
    assert!(rep.removed_links.contains(&stale_bridge), "{rep:?}");
    assert_eq!(rep.released_ips, vec![eb.ip]);
    let links = link_names().await;
    assert!(
        links.contains(&ea.host_ifname)
            && !links.contains(&eb.host_ifname)
            && links.contains(&net.bridge)
    );
    // Ports work again.
    tcp_server(&a, 80);
    let p = ea.ports[0].host_port;
    assert_eq!(
        blocking(move || tcp_get(None, sa(Ipv4Addr::LOCALHOST, p)))
            .await
            .unwrap(),
        net.gateway().to_string()
    );
    // a's veth deleted behind our back: repaired by a second restore.
    let nl = wharf::net::Netlink::connect().unwrap();
    nl.delete_link(&ea.host_ifname).await.unwrap();
    let stored = env2.mgr.network("rep").await.unwrap();
    let rep = env2.mgr.restore(vec![stored], vec![ea.clone()]).await;
    assert!(rep.errors.is_empty(), "{rep:?}");
    assert_eq!(rep.reattached.len(), 1, "{rep:?}");
    assert_eq!(
        blocking(move || tcp_get(None, sa(Ipv4Addr::LOCALHOST, p)))
            .await
            .unwrap(),
        net.gateway().to_string()
    );
    // Endpoints whose namespace is gone are dropped.
    netns::delete(&a).unwrap();
    let stored = env2.mgr.network("rep").await.unwrap();
    let rep = env2.mgr.restore(vec![stored], vec![ea.clone()]).await;
    assert_eq!(rep.dropped_endpoints.len(), 1, "{rep:?}");
    assert!(env2
        .mgr
        .network("rep")
        .await
        .unwrap()
        .ipam
        .allocated
        .is_empty());
    drop(env2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_clear_line_and_configures_nothing() {
    require_root!();
    let env = Env::new();
    env.net("ok", 25, false).await;
    let links = links_with(&env.tag).await;
    let create =
        |name: &str, subnet: Option<&str>, gw: Option<&str>, range: Option<&str>| NetworkCreate {
            name: name.into(),
            subnet: subnet.map(Into::into),
            gateway: gw.map(Into::into),
            ip_range: range.map(Into::into),
            bridge_name: Some(format!("{}bx", env.tag)),
            ..Default::default()
        };
    let cases = [
        (
            create("x", Some("10.213.25.128/25"), None, None),
            "overlaps",
        ),
        (
            create("x", Some("10.213.26.0/24"), Some("10.213.27.1"), None),
            "gateway 10.213.27.1",
        ),
        (
            create("x", Some("10.213.26.0/24"), None, Some("10.213.27.0/25")),
            "not inside",
        ),
        (create("x", Some("10.213.26.5/24"), None, None), "host bits"),
        (create("x", Some("nonsense"), None, None), "invalid subnet"),
        (
            create("ok", Some("10.213.26.0/24"), None, None),
            "already exists",
        ),
        (
            create("bad/name", Some("10.213.26.0/24"), None, None),
            "invalid network name",
        ),
    ];
    for (req, want) in cases {
        let e = env.mgr.create_network(req).await.unwrap_err().to_string();
        assert!(e.contains(want) && !e.contains('\n'), "{e} (wanted {want})");
    }
    assert_eq!(links_with(&env.tag).await, links);
    let c = env.ns("c");
    let mut a = att("cc", "c");
    a.ip = Some(Ipv4Addr::new(10, 213, 99, 2));
    let e = env.mgr.attach(&c, "ok", a).await.unwrap_err().to_string();
    assert!(
        e.contains("10.213.99.2") && e.contains("10.213.25.0/24"),
        "{e}"
    );
    let mut a = att("cc", "c");
    a.ip = Some(Ipv4Addr::new(10, 213, 25, 9));
    env.mgr.attach(&c, "ok", a).await.unwrap();
    let d = env.ns("d");
    let mut b = att("dd", "d");
    b.ip = Some(Ipv4Addr::new(10, 213, 25, 9));
    let e = env.mgr.attach(&d, "ok", b).await.unwrap_err().to_string();
    assert!(e.contains("already in use"), "{e}");
    let e = env
        .mgr
        .attach(&d, "nope", att("dd", "d"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, NetError::NotFound(_)) && e.to_string().contains("nope"),
        "{e}"
    );
    let e = env.mgr.remove_network("ok").await.unwrap_err().to_string();
    assert!(e.contains("active endpoints: c"), "{e}");
    assert_eq!(links_with(&env.tag).await.len(), links.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_subnets_skip_routed_ones() {
    require_root!();
    let env = Env::with(|c| c.pools = wharf::net::ipam::parse_pools("10.213.30.0/23:24").unwrap());
    // 10.213.30.0/24 is routed on the host (our outside link): the next one is chosen.
    let _outside = env.outside_host(30).await;
    let bridge = format!("{}b9", env.tag);
    env.bridges.lock().unwrap().push(bridge.clone());
    let net = env
        .mgr
        .create_network(NetworkCreate {
            name: "auto".into(),
            bridge_name: Some(bridge),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(net.subnet().to_string(), "10.213.31.0/24");
    let e = env
        .mgr
        .create_network(NetworkCreate {
            name: "auto2".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("pools"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_deletes_a_burst_of_veths_and_nothing_else() {
    require_root!();
    let env = Env::new();
    let ip = |args: &[&str]| {
        let st = std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    let names: Vec<String> = (0..12).map(|i| format!("{}v{i}", env.tag)).collect();
    for (i, n) in names.iter().enumerate() {
        ip(&[
            "link",
            "add",
            n,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{}p{i}", env.tag),
        ]);
    }
    let keep = format!("{}vkeep", env.tag);
    ip(&[
        "link",
        "add",
        &keep,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{}pkeep", env.tag),
    ]);
    let reaper = wharf::net::reaper::Reaper::new();
    // A burst (most of it lands in one batch) plus a name that does not exist.
    for n in &names {
        reaper.delete(n);
    }
    reaper.delete(&format!("{}vnone", env.tag));
    reaper.settle_link(&names[11]).await;
    assert!(!link_names().await.contains(&names[11]));
    reaper.settle().await.unwrap();
    // Both ends of every pair are gone; the unqueued pair stays.
    let left = links_with(&env.tag).await;
    assert_eq!(left, vec![format!("{}pkeep", env.tag), keep.clone()]);
    // Queued again after the batch: deleted on its own.
    reaper.delete(&keep);
    reaper.settle().await.unwrap();
    assert!(links_with(&env.tag).await.is_empty());
}
