//! macvlan and ipvlan networks against the in-memory host: parents (the user's, an 802.1q one
//! wharf creates, a dummy one for a network without a parent) made and removed, containers'
//! links in their namespaces, no firewall or host link per container, repair at restore. The
//! embedded DNS is off here (it listens inside real namespaces: see tests/net_macvlan.rs).

use std::collections::BTreeMap;

use super::*;

fn sub(name: &str, driver: &str, opts: &[(&str, &str)]) -> NetworkCreate {
    NetworkCreate {
        name: name.into(),
        driver: Some(driver.into()),
        subnet: Some("192.168.50.0/24".into()),
        dns: Some(false),
        options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    }
}

#[tokio::test]
async fn macvlan_on_the_users_parent_links_containers_and_never_removes_it() {
    let e = env();
    e.host.state().add_link("eth9", "veth", None);
    let links_before = e.host.state().links.len();
    let net = e
        .mgr
        .create_network(NetworkCreate {
            gateway: Some("192.168.50.1".into()),
            ip_range: Some("192.168.50.128/25".into()),
            aux_addresses: [("router".to_string(), "192.168.50.128".to_string())].into(),
            ..sub(
                "lan",
                "macvlan",
                &[("parent", "eth9"), ("macvlan_mode", "bridge")],
            )
        })
        .await
        .expect("create");
    assert_eq!((net.driver.as_str(), net.bridge.as_str()), ("macvlan", ""));
    assert_eq!(net.parent.as_deref(), Some("eth9"));
    assert!(!net.parent_created && !net.internal);
    assert_eq!(e.host.state().links.len(), links_before, "no bridge");
    let a = e
        .attach(
            "/ns/a",
            "lan",
            Attachment {
                ports: vec![port(8080, 80)],
                ..container("a", "a")
            },
        )
        .await
        .expect("a");
    let b = e
        .attach(
            "/ns/b",
            "lan",
            b_with(|b| b.ip = Some(ip("192.168.50.200"))),
        )
        .await
        .expect("b");
    // From the range, past the auxiliary address; the fixed one as asked.
    assert_eq!(a.ip, ip("192.168.50.129"));
    assert_eq!(b.ip, ip("192.168.50.200"));
    assert!(a.host_ifname.is_empty() && a.ports.is_empty(), "{a:?}");
    assert!(e.fw.held().is_empty(), "no published port on macvlan");
    let ifs = e.host.interfaces(&PathBuf::from("/ns/a"));
    assert_eq!(ifs["eth0"].ip, a.ip);
    assert_eq!(ifs["eth0"].default_gateway, Some(ip("192.168.50.1")));
    assert_eq!(
        e.host.state().sub_parents[&(PathBuf::from("/ns/a"), "eth0".to_string())],
        "eth9"
    );
    assert_eq!(
        e.host.state().links.len(),
        links_before,
        "nothing on the host"
    );
    assert!(e
        .fw
        .state()
        .tables
        .values()
        .all(|t| t.networks.is_empty() && t.forwards.is_empty()));
    let busy = e.mgr.remove_network("lan").await;
    assert!(matches!(busy, Err(NetError::InUse(_))), "{busy:?}");
    e.mgr.detach(&a.container_id, "lan").await.expect("detach");
    assert!(e.host.interfaces(&PathBuf::from("/ns/a")).is_empty());
    e.mgr.detach_all(&b.container_id).await.expect("detach b");
    assert!(e.allocated("lan").await.is_empty());
    e.mgr.remove_network("lan").await.expect("rm");
    assert!(e.host.has_link("eth9"), "the user's parent stays");
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn an_8021q_parent_is_created_and_removed_with_its_network() {
    let e = env();
    e.host.state().add_link("eth9", "veth", None);
    let net = e
        .mgr
        .create_network(sub(
            "v10",
            "ipvlan",
            &[("parent", "eth9.10"), ("ipvlan_mode", "l2")],
        ))
        .await
        .expect("create");
    assert!(net.parent_created);
    assert_eq!(
        e.host.state().links["eth9.10"].kind.as_deref(),
        Some("vlan")
    );
    e.attach("/ns/a", "v10", container("a", "a"))
        .await
        .expect("a");
    // A second network on the existing sub-interface does not own it.
    let other = NetworkCreate {
        subnet: Some("192.168.51.0/24".into()),
        ..sub("v10b", "macvlan", &[("parent", "eth9.10")])
    };
    let other = e.mgr.create_network(other).await.expect("second");
    assert!(!other.parent_created);
    e.mgr.remove_network("v10b").await.expect("rm second");
    assert!(e.host.has_link("eth9.10"));
    e.mgr
        .detach_all(&format!("{:0<64}", "a"))
        .await
        .expect("detach");
    e.mgr.remove_network("v10").await.expect("rm");
    assert!(!e.host.has_link("eth9.10") && e.host.has_link("eth9"));
    // A missing base or a missing plain parent: refused, nothing made.
    for parent in ["eth8.10", "eth8"] {
        let err = e
            .mgr
            .create_network(sub("x", "macvlan", &[("parent", parent)]))
            .await
            .expect_err(parent);
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
    assert!(e.mgr.networks().await.is_empty());
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn without_a_parent_a_dummy_link_makes_an_internal_network() {
    let e = env();
    let net = e
        .mgr
        .create_network(NetworkCreate {
            internal: true,
            ..sub("sealed", "macvlan", &[])
        })
        .await
        .expect("create");
    let dummy = net.parent.clone().expect("parent");
    assert!(net.internal && net.parent_created);
    assert!(dummy.starts_with("wh-d") && dummy.len() <= 15, "{dummy}");
    assert_eq!(e.host.state().links[&dummy].kind.as_deref(), Some("dummy"));
    e.attach("/ns/a", "sealed", container("a", "a"))
        .await
        .expect("a");
    let ifs = e.host.interfaces(&PathBuf::from("/ns/a"));
    assert_eq!(
        ifs["eth0"].default_gateway, None,
        "internal: no default route"
    );
    e.mgr
        .detach_all(&format!("{:0<64}", "a"))
        .await
        .expect("detach");
    e.mgr.remove_network("sealed").await.expect("rm");
    assert!(!e.host.has_link(&dummy));
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn bad_driver_options_are_refused_before_anything_is_made() {
    let e = env();
    e.host.state().add_link("eth9", "veth", None);
    let cases = [
        (
            "macvlan",
            vec![("parent", "eth9"), ("macvlan_mode", "l2")],
            "expected bridge, private, vepa or passthru",
        ),
        (
            "ipvlan",
            vec![("parent", "eth9"), ("ipvlan_mode", "bridge")],
            "expected l2, l3 or l3s",
        ),
        (
            "macvlan",
            vec![("parent", "eth9"), ("colour", "red")],
            "unknown macvlan option \"colour\"",
        ),
        (
            "macvlan",
            vec![("parent", "bad name")],
            "invalid parent interface",
        ),
        ("vxlan", vec![], "not supported (bridge, macvlan, ipvlan)"),
    ];
    let links = e.host.state().links.len();
    for (driver, opts, msg) in cases {
        let err = e
            .mgr
            .create_network(sub("x", driver, &opts))
            .await
            .expect_err(msg);
        assert!(err.to_string().contains(msg), "{driver} {opts:?}: {err}");
    }
    assert_eq!(e.host.state().links.len(), links);
    for mode in ["l2", "l3", "l3s"] {
        let name = format!("ip{mode}");
        let req = NetworkCreate {
            subnet: Some(format!("10.9.{}.0/24", mode.len())),
            ..sub(
                &name,
                "ipvlan",
                &[("parent", "eth9"), ("ipvlan_mode", mode)],
            )
        };
        e.mgr.create_network(req).await.expect(mode);
        e.mgr.remove_network(&name).await.expect("rm");
    }
    e.mgr.shutdown().await;
}

#[tokio::test]
async fn restore_keeps_macvlan_endpoints_and_repairs_the_parents_wharf_made() {
    let before = env();
    before.host.state().add_link("eth9", "veth", None);
    before
        .mgr
        .create_network(sub("lan", "macvlan", &[("parent", "eth9.20")]))
        .await
        .expect("lan");
    before
        .mgr
        .create_network(NetworkCreate {
            subnet: Some("192.168.60.0/24".into()),
            ..sub("dummy", "ipvlan", &[])
        })
        .await
        .expect("dummy");
    let ep = before
        .attach("/ns/a", "lan", container("a", "a"))
        .await
        .expect("a");
    let nets = before.mgr.networks().await;
    before.mgr.shutdown().await;
    let e = env();
    *e.host.state() = before.host.state().clone();
    let dummy = nets
        .iter()
        .find(|n| n.name == "dummy")
        .unwrap()
        .parent
        .clone()
        .unwrap();
    e.host.state().remove_link("eth9.20");
    e.host.state().remove_link(&dummy);
    let rep = e.mgr.restore(nets.clone(), vec![ep.clone()]).await;
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert!(
        rep.reattached.is_empty() && rep.removed_links.is_empty(),
        "{rep:?}"
    );
    assert!(e.host.has_link("eth9.20") && e.host.has_link(&dummy));
    assert_eq!(e.mgr.endpoints(None).await, vec![ep.clone()]);
    // The user's parent gone: reported, not created.
    let f = env();
    *f.host.state() = before.host.state().clone();
    let mut nets2 = nets.clone();
    for n in nets2.iter_mut().filter(|n| n.name == "lan") {
        n.parent_created = false;
    }
    f.host.state().remove_link("eth9.20");
    let rep = f.mgr.restore(nets2, vec![ep]).await;
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(
        rep.errors[0].contains("parent interface eth9.20 does not exist"),
        "{:?}",
        rep.errors
    );
    assert!(!f.host.has_link("eth9.20"));
    e.mgr.shutdown().await;
    f.mgr.shutdown().await;
}
