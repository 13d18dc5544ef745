//! The embedded DNS from inside real namespaces: names, aliases and service names over UDP and
//! TCP, several addresses for one name, answers scoped to the asker's network, live updates,
//! forwarding to an upstream (a test server on 127.0.0.213), the default network without DNS.
//! Needs root and the `nft` binary (Debian: nftables).

#[path = "net_util.rs"]
mod net_util;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use net_util::*;
use wharf::net::dns::{build_query, parse_a_response};
use wharf::net::{Attachment, NetworkCreate};

fn att(id: &str, name: &str, aliases: &[&str]) -> Attachment {
    Attachment {
        container_id: format!("{id}{}", "0".repeat(64 - id.len())),
        container_name: name.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

/// A tiny upstream resolver: `upstream.test` → 192.0.2.55, anything else NXDOMAIN. UDP and TCP.
async fn upstream() -> SocketAddr {
    fn answer(q: &[u8]) -> Vec<u8> {
        let q = Message::from_vec(q).unwrap();
        let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
        r.add_queries(q.queries.iter().cloned());
        let qq = &q.queries[0];
        if qq.name().to_ascii().trim_end_matches('.') == "upstream.test" {
            r.add_answer(Record::from_rdata(
                qq.name().clone(),
                30,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 55))),
            ));
        } else {
            r.metadata.response_code = ResponseCode::NXDomain;
        }
        r.to_vec().unwrap()
    }
    let udp = tokio::net::UdpSocket::bind("127.0.0.213:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, src)) = udp.recv_from(&mut buf).await {
            let _ = udp.send_to(&answer(&buf[..n]), src).await;
        }
    });
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                s.read_exact(&mut len).await.unwrap();
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut q).await.unwrap();
                let r = answer(&q);
                let mut out = (r.len() as u16).to_be_bytes().to_vec();
                out.extend(r);
                s.write_all(&out).await.unwrap();
            });
        }
    });
    addr
}

async fn ask(ns: &Path, server: Ipv4Addr, name: &str, tcp: bool) -> (ResponseCode, Vec<Ipv4Addr>) {
    let (ns, name) = (ns.to_path_buf(), name.to_string());
    let q = build_query(&name, RecordType::A, 0x1234);
    let server = SocketAddr::new(server.into(), 53);
    let resp = blocking(move || {
        if tcp {
            tcp_dns(Some(&ns), server, &q)
        } else {
            udp_ask(Some(&ns), server, &q)
        }
    })
    .await
    .unwrap_or_else(|e| panic!("query {name}: {e}"));
    let (code, mut ips) = parse_a_response(&resp).unwrap();
    ips.sort();
    (code, ips)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_aliases_and_services_resolve_on_the_askers_network() {
    require_root!();
    let up = upstream().await;
    let env = Env::with(|c| c.upstreams = Some(vec![up]));
    let n1 = env.net("app", 40, false).await;
    let n2 = env.net("other", 41, false).await;
    let (web, db1, db2, stranger) = (
        env.ns("web"),
        env.ns("db1"),
        env.ns("db2"),
        env.ns("stranger"),
    );
    let ew = env
        .mgr
        .attach(&web, "app", att("w1", "web", &["frontend"]))
        .await
        .unwrap();
    let e1 = env
        .mgr
        .attach(&db1, "app", att("d1", "db-1", &["db"]))
        .await
        .unwrap();
    let e2 = env
        .mgr
        .attach(&db2, "app", att("d2", "db-2", &["db"]))
        .await
        .unwrap();
    let es = env
        .mgr
        .attach(&stranger, "other", att("s1", "stranger", &["db"]))
        .await
        .unwrap();
    let gw = n1.gateway();
    for tcp in [false, true] {
        assert_eq!(
            ask(&web, gw, "db-1", tcp).await,
            (ResponseCode::NoError, vec![e1.ip]),
            "tcp={tcp}"
        );
        assert_eq!(
            ask(&db1, gw, "FrontEnd.", tcp).await,
            (ResponseCode::NoError, vec![ew.ip])
        );
        // Several containers under one (service) name: all their addresses, of this network only.
        let mut both = vec![e1.ip, e2.ip];
        both.sort();
        assert_eq!(
            ask(&web, gw, "db", tcp).await,
            (ResponseCode::NoError, both)
        );
        // By short id.
        assert_eq!(
            ask(&web, gw, &e2.container_id[..12], tcp).await.1,
            vec![e2.ip]
        );
        // A container of another network is not resolvable; the query goes upstream (NXDOMAIN).
        assert_eq!(
            ask(&web, gw, "stranger", tcp).await,
            (ResponseCode::NXDomain, vec![])
        );
        // The stranger sees only its own network's "db".
        assert_eq!(
            ask(&stranger, n2.gateway(), "db", tcp).await,
            (ResponseCode::NoError, vec![es.ip])
        );
        // Forwarded to the upstream.
        let ans = ask(&web, gw, "upstream.test", tcp).await;
        assert_eq!(
            ans,
            (ResponseCode::NoError, vec![Ipv4Addr::new(192, 0, 2, 55)])
        );
    }
    // Live updates: detach db-2, connect the stranger to app.
    env.mgr.detach(&e2.container_id, "app").await.unwrap();
    assert_eq!(ask(&web, gw, "db", false).await.1, vec![e1.ip]);
    let es_app = env
        .mgr
        .attach(&stranger, "app", att("s1", "stranger", &[]))
        .await
        .unwrap();
    assert_eq!(ask(&web, gw, "stranger", false).await.1, vec![es_app.ip]);
    // The stranger, now on both, asks on its first network: "web" is found on its other one.
    assert_eq!(
        ask(&stranger, n2.gateway(), "web", false).await.1,
        vec![ew.ip]
    );
    env.mgr
        .set_names(&e1.container_id, "app", "db-1", &["database".into()])
        .await
        .unwrap();
    assert_eq!(ask(&web, gw, "database", false).await.1, vec![e1.ip]);
    assert_eq!(ask(&web, gw, "db", false).await.0, ResponseCode::NXDomain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_container_upstreams_internal_networks_and_the_default_bridge() {
    require_root!();
    let up = upstream().await;
    // The daemon's upstream is dead (nothing listens on 127.0.0.214:9); a container with
    // --dns pointing at the test upstream gets its answers.
    let env = Env::with(|c| c.upstreams = Some(vec!["127.0.0.214:9".parse().unwrap()]));
    let n = env.net("dnsup", 42, false).await;
    let (a, b) = (env.ns("a"), env.ns("b"));
    env.mgr
        .attach(&a, "dnsup", att("aa", "a", &[]))
        .await
        .unwrap();
    let mut bb = att("bb", "b", &[]);
    bb.dns_upstreams = vec![up];
    env.mgr.attach(&b, "dnsup", bb).await.unwrap();
    assert_eq!(
        ask(&a, n.gateway(), "upstream.test", false).await.0,
        ResponseCode::ServFail
    );
    assert_eq!(
        ask(&b, n.gateway(), "upstream.test", false).await.1,
        vec![Ipv4Addr::new(192, 0, 2, 55)]
    );
    // Internal network: names resolve, nothing is forwarded.
    env.mgr.dns().set_upstreams(vec![up]);
    let i = env.net("dnsin", 43, true).await;
    let c = env.ns("c");
    let ec = env
        .mgr
        .attach(&c, "dnsin", att("cc", "c", &[]))
        .await
        .unwrap();
    assert_eq!(ask(&c, i.gateway(), "c", false).await.1, vec![ec.ip]);
    assert_eq!(
        ask(&c, i.gateway(), "upstream.test", false).await.0,
        ResponseCode::ServFail
    );
    // The default network has no DNS (like Docker's bridge) and its endpoints say so.
    let bridge = format!("{}b8", env.tag);
    env.bridges.lock().unwrap().push(bridge.clone());
    let def = env
        .mgr
        .create_network(NetworkCreate {
            name: "bridge".into(),
            subnet: Some("10.213.44.0/24".into()),
            bridge_name: Some(bridge),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!def.dns);
    let d = env.ns("d");
    let ed = env
        .mgr
        .attach(&d, "bridge", att("dd", "d", &[]))
        .await
        .unwrap();
    assert_eq!(ed.dns_server, None);
    let q = build_query("d", RecordType::A, 1);
    let server = SocketAddr::new(def.gateway().into(), 53);
    assert!(blocking(move || udp_ask(Some(&d), server, &q))
        .await
        .is_err());
}
