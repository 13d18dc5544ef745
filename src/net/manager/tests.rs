//! The manager against the in-memory host: create, attach, detach, publish, remove and restore,
//! with their refusals, their undo on failure and their error reports. No root needed: the
//! networks use loopback subnets so that the embedded DNS can listen (on port 0) for real.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::plan::{random_id, valid_name};
use super::{fnv, NetworkManager};
use crate::net::fake::{FakeFirewall, FakeHost};
use crate::net::ipam::Pool;
use crate::net::types::{Attachment, Endpoint, ManagerConfig, Network, NetworkCreate};
use crate::net::{NetError, PortMapping, Proto};

const TABLE: &str = "wharf_test";

struct Env {
    mgr: NetworkManager<FakeHost, FakeFirewall>,
    host: FakeHost,
    fw: FakeFirewall,
}

fn env() -> Env {
    let cfg = ManagerConfig {
        table: TABLE.into(),
        pools: vec![Pool {
            base: "127.77.0.0/16".parse().expect("pool"),
            size: 24,
        }],
        dns_port: 0,
        upstreams: Some(vec![]),
        ..ManagerConfig::default()
    };
    let host = FakeHost::default();
    let fw = FakeFirewall::default();
    Env {
        mgr: NetworkManager::with_drivers(cfg, host.clone(), fw.clone()),
        host,
        fw,
    }
}

fn create(name: &str) -> NetworkCreate {
    NetworkCreate {
        name: name.into(),
        ..Default::default()
    }
}

/// A creation request for network `x`, changed by `f`.
fn net_with(f: impl FnOnce(&mut NetworkCreate)) -> NetworkCreate {
    let mut r = create("x");
    f(&mut r);
    r
}

/// Container `b`'s attachment, changed by `f`.
fn b_with(f: impl FnOnce(&mut Attachment)) -> Attachment {
    let mut a = container("b", "b");
    f(&mut a);
    a
}

fn container(id: &str, name: &str) -> Attachment {
    Attachment {
        container_id: format!("{id:0<64}"),
        container_name: name.into(),
        ..Default::default()
    }
}

fn port(host: u16, container: u16) -> PortMapping {
    PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: host,
        container_port: container,
        proto: Proto::Tcp,
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("address")
}

impl Env {
    async fn net(&self, name: &str) -> Network {
        self.mgr.create_network(create(name)).await.expect("create")
    }

    async fn attach(&self, ns: &str, net: &str, att: Attachment) -> Result<Endpoint, NetError> {
        let ns = self.host.add_netns(ns);
        self.mgr.attach(&ns, net, att).await
    }

    /// Container `a` (named `name`) on network `app`, publishing `ports`.
    async fn publishing(&self, name: &str, ports: Vec<PortMapping>) -> Endpoint {
        let att = Attachment {
            ports,
            ..container("a", name)
        };
        self.attach("/ns/a", "app", att).await.expect("attach")
    }

    /// The addresses IPAM has handed out on a network.
    async fn allocated(&self, net: &str) -> Vec<Ipv4Addr> {
        let net = self.mgr.network(net).await.expect("network");
        net.ipam.allocated.keys().copied().collect()
    }

    fn resolve(&self, net: &Network, name: &str) -> Vec<Ipv4Addr> {
        self.mgr
            .dns()
            .resolve(&net.id, IpAddr::V4(Ipv4Addr::LOCALHOST), name)
    }
}

#[test]
fn names_and_ids() {
    assert!(valid_name("backend") && valid_name("my_net.1-x"));
    assert!(valid_name("a b") && valid_name("-x"));
    assert!(!valid_name("") && !valid_name(" ") && !valid_name("a/b") && !valid_name("a\nb"));
    assert_eq!(random_id().len(), 64);
    assert_ne!(fnv("a/b"), fnv("a/c"));
}

#[tokio::test]
async fn create_network_brings_up_bridge_firewall_and_dns() {
    let e = env();
    let net = e.net("backend").await;
    assert_eq!(net.subnet().to_string(), "127.77.0.0/24");
    assert_eq!(net.gateway(), ip("127.77.0.1"));
    assert!(net.bridge.starts_with("wh-") && net.bridge.len() == 15);
    assert!(e.host.has_link(&net.bridge));
    assert_eq!(
        e.host.state().addresses.get(&net.bridge),
        Some(&(ip("127.77.0.1"), 24))
    );
    assert!(e.host.state().ip_forward);
    let synced = e.fw.state().tables[TABLE].networks.clone();
    assert_eq!(synced.len(), 1);
    assert_eq!(synced[0].bridge, net.bridge);
    assert!(e.mgr.dns().listen_addr(&net.id).await.is_some());
    // The next one takes the next free subnet, skipping what the host routes.
    e.host
        .state()
        .routed
        .push("127.77.1.0/24".parse().expect("subnet"));
    let second = e.net("frontend").await;
    assert_eq!(second.subnet().to_string(), "127.77.2.0/24");
    assert_eq!(e.mgr.network("frontend").await, Some(second));
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn create_network_refusals_touch_nothing() {
    let e = env();
    e.net("taken").await;
    e.host.state().add_link("wh-hostbr", "bridge", None);
    let links_before = e.host.state().links.len();
    let calls_before = e.fw.state().calls;
    let refused = [
        (create(""), "invalid network name"),
        (create("host"), "is reserved"),
        (create("taken"), "already exists"),
        (
            net_with(|r| r.driver = Some("overlay".into())),
            "wharf stack deploy",
        ),
        (
            net_with(|r| r.driver = Some("weave".into())),
            "not supported",
        ),
        (
            net_with(|r| r.bridge_name = Some("wh-hostbr".into())),
            "already exists on the host",
        ),
        (
            net_with(|r| r.subnet = Some("127.77.0.0/16".into())),
            "overlaps",
        ),
        (
            net_with(|r| r.gateway = Some("10.0.0.1".into())),
            "need --subnet",
        ),
        (
            net_with(|r| {
                r.subnet = Some("10.9.0.0/24".into());
                r.aux_addresses = [("a".to_string(), "nope".to_string())].into()
            }),
            "invalid auxiliary address",
        ),
    ];
    for (req, msg) in refused {
        let err = e
            .mgr
            .create_network(req.clone())
            .await
            .expect_err(&req.name);
        assert!(err.to_string().contains(msg), "{req:?}: {err}");
    }
    assert_eq!(e.host.state().links.len(), links_before);
    assert_eq!(e.fw.state().calls, calls_before);
    assert_eq!(e.mgr.networks().await.len(), 1);
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn create_network_undoes_the_bridge_when_the_firewall_fails() {
    let e = env();
    e.fw.set_failing(true);
    let err = e.mgr.create_network(create("n")).await.expect_err("fails");
    assert!(matches!(err, NetError::System(_)), "{err}");
    assert!(e.host.state().links.is_empty());
    assert!(e.mgr.networks().await.is_empty());
}

#[tokio::test]
async fn attach_sets_up_address_veth_route_dns_and_ports() {
    let e = env();
    let net = e.net("app").await;
    let att = Attachment {
        aliases: vec!["db".into()],
        ports: vec![port(8080, 80)],
        ..container("c1", "web")
    };
    let ep = e.attach("/ns/c1", "app", att).await.expect("attach");
    assert_eq!(
        (ep.ip, ep.ifname.as_str(), ep.prefix_len),
        (ip("127.77.0.2"), "eth0", 24)
    );
    assert_eq!(ep.dns_server, Some(net.gateway()));
    let inside = e.host.interfaces(&PathBuf::from("/ns/c1"));
    assert_eq!(inside["eth0"].ip, ep.ip);
    assert_eq!(inside["eth0"].default_gateway, Some(net.gateway()));
    assert_eq!(inside["eth0"].mac, ep.mac);
    let bridge_index = e.host.state().links[&net.bridge].index;
    assert_eq!(
        e.host.state().links[&ep.host_ifname].controller,
        Some(bridge_index)
    );
    for name in ["web", "db", &ep.container_id[..12]] {
        assert_eq!(e.resolve(&net, name), vec![ep.ip], "{name}");
    }
    let fwd = e.fw.forwards(TABLE);
    assert_eq!(fwd.len(), 1);
    assert_eq!(
        (fwd[0].container_ip, fwd[0].mapping),
        (ep.ip, port(8080, 80))
    );
    assert_eq!(e.mgr.ports(&ep.container_id).await, vec![port(8080, 80)]);
    // A second network: the next interface name.
    e.net("other").await;
    let ns = PathBuf::from("/ns/c1");
    let ep2 = e.mgr.attach(&ns, "other", container("c1", "web")).await;
    assert_eq!(ep2.expect("second").ifname, "eth1");
    assert_eq!(e.mgr.endpoints(Some(&ep.container_id)).await.len(), 2);
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn attach_refusals() {
    let e = env();
    e.net("app").await;
    e.publishing("a", vec![port(8080, 80)]).await;
    e.fw.state().busy_ports.insert(9090);
    let missing = e
        .mgr
        .attach(&PathBuf::from("/ns/none"), "app", container("b", "b"))
        .await;
    assert!(matches!(missing, Err(NetError::NotFound(_))), "{missing:?}");
    let cases = [
        ("nope", container("b", "b"), "not found"),
        ("app", container("a", "a"), "already attached"),
        (
            "app",
            b_with(|a| a.ports = vec![port(8080, 80)]),
            "already published by container a",
        ),
        (
            "app",
            b_with(|a| a.ports = vec![port(8081, 80), port(8081, 81)]),
            "another mapping of the same container",
        ),
        (
            "app",
            b_with(|a| a.ports = vec![port(9090, 80)]),
            "held by another process",
        ),
        (
            "app",
            b_with(|a| a.ports = vec![port(1, 0)]),
            "container port 0",
        ),
        (
            "app",
            b_with(|a| a.ifname = Some("bad name".into())),
            "invalid interface name",
        ),
        ("app", b_with(|a| a.ip = Some(ip("10.1.1.1"))), ""),
    ];
    for (net, att, msg) in cases {
        let err = e.attach("/ns/b", net, att.clone()).await.expect_err(msg);
        assert!(err.to_string().contains(msg), "{att:?}: {err}");
    }
    assert!(e.host.interfaces(&PathBuf::from("/ns/b")).is_empty());
    assert_eq!(e.mgr.endpoints(None).await.len(), 1);
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn attach_takes_an_ephemeral_port_when_asked_for_none() {
    let e = env();
    e.net("app").await;
    let ep = e.publishing("a", vec![port(0, 80)]).await;
    assert_ne!(ep.ports[0].host_port, 0);
    assert_eq!(ep.ports[0].container_port, 80);
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn attach_undoes_everything_when_the_firewall_refuses_the_ports() {
    let e = env();
    e.net("app").await;
    let bridge_only = e.host.state().links.len();
    e.fw.set_failing(true);
    let att = Attachment {
        ports: vec![port(8080, 80)],
        ..container("a", "a")
    };
    e.attach("/ns/a", "app", att.clone())
        .await
        .expect_err("firewall fails");
    assert_eq!(e.host.state().links.len(), bridge_only);
    assert!(e.host.interfaces(&PathBuf::from("/ns/a")).is_empty());
    assert!(e.mgr.endpoints(None).await.is_empty());
    assert!(e.allocated("app").await.is_empty());
    e.fw.set_failing(false);
    let ep = e.attach("/ns/a", "app", att).await.expect("then works");
    assert_eq!(e.allocated("app").await, vec![ep.ip]);
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn detach_removes_ports_dns_address_and_veth() {
    let e = env();
    let net = e.net("app").await;
    let ep = e.publishing("web", vec![port(8080, 80)]).await;
    e.mgr.detach(&ep.container_id, "app").await.expect("detach");
    assert!(e.fw.forwards(TABLE).is_empty());
    assert!(e.resolve(&net, "web").is_empty());
    assert!(e.allocated("app").await.is_empty());
    assert_eq!(e.host.state().queued, vec![ep.host_ifname.clone()]);
    e.mgr.settle().await.expect("settle");
    assert!(!e.host.has_link(&ep.host_ifname));
    let again = e.mgr.detach(&ep.container_id, "app").await;
    assert!(matches!(again, Err(NetError::NotFound(_))), "{again:?}");
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn detach_all_goes_on_through_errors_and_reports_them() {
    let e = env();
    e.net("one").await;
    e.net("two").await;
    let ns = e.host.add_netns("/ns/a");
    for net in ["one", "two"] {
        let att = Attachment {
            ports: vec![port(if net == "one" { 8080 } else { 8081 }, 80)],
            ..container("a", "a")
        };
        e.mgr.attach(&ns, net, att).await.expect("attach");
    }
    e.fw.set_failing(true);
    let id = format!("{:0<64}", "a");
    let err = e.mgr.detach_all(&id).await.expect_err("firewall fails");
    assert_eq!(
        err.to_string().matches("removing published ports").count(),
        2
    );
    assert!(e.mgr.endpoints(None).await.is_empty());
    assert_eq!(e.host.state().queued.len(), 2);
    e.fw.set_failing(false);
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn remove_network_refuses_while_in_use_and_reports_every_teardown_error() {
    let e = env();
    let net = e.net("app").await;
    let ep = e.publishing("web", vec![]).await;
    let busy = e.mgr.remove_network("app").await;
    assert!(
        matches!(&busy, Err(NetError::InUse(m)) if m.contains("web")),
        "{busy:?}"
    );
    e.mgr.detach(&ep.container_id, "app").await.expect("detach");
    e.host.fail("settle");
    e.host.fail("delete_link");
    e.fw.set_failing(true);
    let err = e
        .mgr
        .remove_network("app")
        .await
        .expect_err("teardown fails")
        .to_string();
    for part in ["settle failed", "deleting bridge", "updating firewall"] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(e.mgr.network("app").await.is_none());
    assert!(e.mgr.dns().listen_addr(&net.id).await.is_none());
    let gone = e.mgr.remove_network("app").await;
    assert!(matches!(gone, Err(NetError::NotFound(_))), "{gone:?}");
}

#[tokio::test]
async fn publish_replaces_ports_and_keeps_the_old_ones_on_failure() {
    let e = env();
    e.net("app").await;
    let ep = e.publishing("a", vec![port(8080, 80)]).await;
    let id = ep.container_id.clone();
    // Its own port does not conflict with itself.
    let got = e
        .mgr
        .publish(&id, "app", &[port(8080, 80), port(8443, 443)])
        .await;
    assert_eq!(got.expect("publish").len(), 2);
    assert_eq!(e.fw.forwards(TABLE).len(), 2);
    e.fw.set_failing(true);
    e.mgr
        .publish(&id, "app", &[port(9000, 90)])
        .await
        .expect_err("fails");
    e.fw.set_failing(false);
    assert_eq!(
        e.mgr.ports(&id).await,
        vec![port(8080, 80), port(8443, 443)]
    );
    assert_eq!(e.mgr.unpublish(&id).await.expect("unpublish").len(), 2);
    assert!(e.fw.forwards(TABLE).is_empty() && e.mgr.ports(&id).await.is_empty());
    let other = e.mgr.publish("nobody", "app", &[port(1, 1)]).await;
    assert!(matches!(other, Err(NetError::NotFound(_))), "{other:?}");
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn set_names_changes_the_dns_records() {
    let e = env();
    let net = e.net("app").await;
    let ep = e.publishing("old", vec![]).await;
    e.mgr
        .set_names(&ep.container_id, "app", "new", &["alias".into()])
        .await
        .expect("rename");
    assert!(e.resolve(&net, "old").is_empty());
    assert_eq!(e.resolve(&net, "alias"), vec![ep.ip]);
    e.mgr.shutdown().await;
}

/// A daemon's state before its restart: two networks, three endpoints.
async fn stored_state(e: &Env) -> (Vec<Network>, Vec<Endpoint>) {
    e.net("app").await;
    e.net("db").await;
    let mut eps = Vec::new();
    for (c, net) in [("a", "app"), ("b", "app"), ("c", "db")] {
        let ns = format!("/ns/{c}");
        eps.push(e.attach(&ns, net, container(c, c)).await.expect("attach"));
    }
    (e.mgr.networks().await, eps)
}

#[tokio::test]
async fn restore_adopts_live_endpoints_and_repairs_the_host() {
    let before = env();
    let (nets, eps) = stored_state(&before).await;
    before.mgr.shutdown().await;
    // The restarted daemon's host: the same links, then damage.
    let e = env();
    *e.host.state() = before.host.state().clone();
    let (app, db) = (&nets[0], &nets[1]);
    let (app, db) = if app.name == "app" {
        (app, db)
    } else {
        (db, app)
    };
    {
        let mut st = e.host.state();
        st.remove_link(&db.bridge); // bridge gone (with it the veth of c)
        st.remove_link(&eps[2].host_ifname);
        st.remove_link(&eps[0].host_ifname); // a's veth vanished, its namespace lives
        st.namespaces.remove(&PathBuf::from("/ns/b")); // b died
        st.add_link("wh-stray", "bridge", None);
        st.add_link("wvstray", "veth", Some(&app.bridge));
    }
    let rep = e.mgr.restore(nets.clone(), eps.clone()).await;
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    let b_id = eps[1].container_id.clone();
    assert_eq!(rep.dropped_endpoints, vec![(b_id, "app".to_string())]);
    let mut reattached = rep.reattached.clone();
    reattached.sort();
    assert_eq!(reattached.len(), 2, "{reattached:?}");
    let mut removed = rep.removed_links.clone();
    removed.sort();
    let mut stray = vec![
        "wh-stray".to_string(),
        "wvstray".to_string(),
        eps[1].host_ifname.clone(), // b's
    ];
    stray.sort();
    assert_eq!(removed, stray);
    assert_eq!(rep.released_ips, vec![eps[1].ip]);
    assert!(e.host.has_link(&db.bridge));
    assert!(e.host.has_link(&eps[0].host_ifname) && e.host.has_link(&eps[2].host_ifname));
    assert_eq!(e.mgr.endpoints(None).await.len(), 2);
    assert_eq!(e.fw.state().tables[TABLE].networks.len(), 2);
    let app_net = e.mgr.network("app").await.expect("app");
    assert_eq!(e.resolve(&app_net, "a"), vec![eps[0].ip]);
    assert!(e.resolve(&app_net, "b").is_empty());
    assert!(e.mgr.dns().listen_addr(&app.id).await.is_some());
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn restore_goes_on_through_errors_and_reports_them() {
    let before = env();
    let (nets, eps) = stored_state(&before).await;
    before.mgr.shutdown().await;
    let e = env();
    for ns in ["/ns/a", "/ns/b", "/ns/c"] {
        e.host.add_netns(ns);
    }
    e.host.fail("ensure_bridge");
    e.fw.set_failing(true);
    let rep = e.mgr.restore(nets.clone(), eps.clone()).await;
    // Two bridges, three veths (no bridge to plug into), the firewall.
    assert_eq!(rep.errors.len(), 6, "{:?}", rep.errors);
    assert_eq!(rep.dropped_endpoints.len(), 3);
    assert!(rep.errors.iter().any(|m| m.starts_with("firewall:")));
    e.host.fail("links");
    e.host.heal("ensure_bridge");
    e.fw.set_failing(false);
    let rep = e.mgr.restore(nets, eps).await;
    assert_eq!(
        rep.errors,
        vec!["listing links: links failed (fake)".to_string()]
    );
    assert_eq!(e.mgr.endpoints(None).await.len(), 3);
    e.mgr.shutdown().await;
}

fn udp(host: u16, container: u16) -> PortMapping {
    PortMapping {
        proto: Proto::Udp,
        ..port(host, container)
    }
}

#[tokio::test]
async fn published_ports_hold_their_host_ports_while_mapped() {
    let e = env();
    e.net("app").await;
    let ep = e
        .publishing("a", vec![port(8080, 80), udp(5353, 53), port(0, 81)])
        .await;
    let eph = ep.ports[2].host_port;
    assert_ne!(eph, 0);
    // Each mapping holds its port, armed (TCP listening) only once its rule was in place.
    assert_eq!(
        e.fw.held(),
        vec![
            (Proto::Tcp, 8080, true),
            (Proto::Tcp, eph, true),
            (Proto::Udp, 5353, true)
        ]
    );
    assert_eq!(e.mgr.held_ports().len(), 3);
    let id = ep.container_id.clone();
    // Stopped: released; started again: held again; the same mapping keeps its hold.
    e.mgr.unpublish(&id).await.expect("unpublish");
    assert!(e.fw.held().is_empty());
    e.mgr
        .publish(&id, "app", &[port(8080, 80)])
        .await
        .expect("publish");
    assert_eq!(e.fw.held(), vec![(Proto::Tcp, 8080, true)]);
    e.mgr
        .publish(&id, "app", &[port(8080, 80), port(9000, 90)])
        .await
        .expect("publish more");
    assert_eq!(e.fw.held().len(), 2);
    // Removed: released.
    e.mgr.detach_all(&id).await.expect("detach");
    assert!(e.fw.held().is_empty() && e.mgr.held_ports().is_empty());
    assert!(e.fw.state().armed_without_rule.is_empty());
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn a_refused_or_failed_publication_holds_nothing_new() {
    let e = env();
    e.net("app").await;
    e.fw.state().busy_ports.insert(9090);
    let att = b_with(|a| a.ports = vec![port(8080, 80), port(9090, 90)]);
    let err = e.attach("/ns/b", "app", att).await.expect_err("busy");
    assert!(err.to_string().contains("port 9090/tcp"), "{err}");
    assert!(e.fw.held().is_empty(), "{:?}", e.fw.held());
    // The firewall refuses: the holds go with the endpoint.
    e.fw.set_failing(true);
    let att = b_with(|a| a.ports = vec![port(8080, 80)]);
    e.attach("/ns/b", "app", att).await.expect_err("firewall");
    assert!(e.fw.held().is_empty());
    e.fw.set_failing(false);
    // A failed change keeps the old ports held.
    let ep = e.publishing("a", vec![port(8080, 80)]).await;
    let bad = e
        .mgr
        .publish(&ep.container_id, "app", &[port(8081, 80), port(9090, 90)])
        .await;
    assert!(bad.is_err());
    assert_eq!(e.fw.held(), vec![(Proto::Tcp, 8080, true)]);
    assert_eq!(e.mgr.ports(&ep.container_id).await, vec![port(8080, 80)]);
    e.fw.set_failing(true);
    let bad = e
        .mgr
        .publish(&ep.container_id, "app", &[port(8082, 80)])
        .await;
    assert!(bad.is_err());
    e.fw.set_failing(false);
    assert_eq!(e.fw.held(), vec![(Proto::Tcp, 8080, true)]);
    assert!(e.fw.state().armed_without_rule.is_empty());
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn restore_takes_the_held_ports_again_and_reports_a_lost_one() {
    let before = env();
    before.net("app").await;
    let a = before.publishing("a", vec![port(8080, 80)]).await;
    let b = before
        .attach(
            "/ns/b",
            "app",
            b_with(|b| b.ports = vec![port(8081, 80), udp(8081, 53)]),
        )
        .await
        .expect("b");
    let nets = before.mgr.networks().await;
    before.mgr.shutdown().await;
    assert!(before.fw.held().is_empty(), "shutdown releases the holds");
    let e = env();
    *e.host.state() = before.host.state().clone();
    // While no daemon held it, another program took 8080.
    e.fw.state().busy_ports.insert(8080);
    let rep = e.mgr.restore(nets, vec![a.clone(), b.clone()]).await;
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(
        rep.errors[0].contains("container a") && rep.errors[0].contains("8080"),
        "{:?}",
        rep.errors
    );
    assert_eq!(
        e.fw.held(),
        vec![(Proto::Tcp, 8081, true), (Proto::Udp, 8081, true)]
    );
    // The lost port keeps its rule (the container still answers on it) ...
    assert_eq!(e.fw.forwards(TABLE).len(), 3);
    // ... and a port-0 mapping that the kernel would give it skips it.
    e.fw.state().busy_ports.remove(&8080);
    e.fw.state().next_ephemeral = 8080;
    let c = e
        .attach("/ns/c", "app", {
            let mut c = container("c", "c");
            c.ports = vec![port(0, 80)];
            c
        })
        .await
        .expect("c");
    assert_ne!(c.ports[0].host_port, 8080);
    assert!(e.fw.state().armed_without_rule.is_empty());
    e.mgr.shutdown().await;
}

#[path = "tests_sublink.rs"]
mod sublink;

#[path = "tests_ipv6.rs"]
mod ipv6;
