//! Unit tests of the embedded DNS: answers by asker network, both families, forwarding.
use super::*;

/// The wire answer to one UDP query from `asker` on `network`.
async fn ask(
    d: &DnsServer,
    network: &str,
    asker: IpAddr,
    name: &str,
    qtype: RecordType,
    id: u16,
) -> Vec<u8> {
    let q = build_query(name, qtype, id);
    d.answer(network, asker, &q, false)
        .await
        .expect("an answer")
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn resolv_conf_parsing() {
    let t = "# c\nsearch example.com\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver  127.0.0.53 \noptions ndots:2\n";
    let v = parse_resolv_conf(t);
    assert_eq!(v.len(), 3);
    assert_eq!(v[0], "10.0.0.1:53".parse().unwrap());
    assert_eq!(v[2], "127.0.0.53:53".parse().unwrap());
}

#[test]
fn reverse_names() {
    assert_eq!(
        parse_reverse("4.3.2.10.in-addr.arpa"),
        Some(IpAddr::V4(ip("10.2.3.4")))
    );
    let v6: Ipv6Addr = "fd00:20::10".parse().unwrap();
    let name = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa";
    assert_eq!(parse_reverse(name), Some(IpAddr::V6(v6)));
    assert_eq!(parse_reverse("1.0.ip6.arpa"), None);
    assert_eq!(parse_reverse("10.0.ip6.arpa"), None);
    assert_eq!(parse_reverse("3.2.10.in-addr.arpa"), None);
    assert_eq!(parse_reverse("example.com"), None);
}

#[tokio::test]
async fn answers_by_asker_network() {
    let d = DnsServer::new(vec![]);
    d.set_container("n1", "c1", ip("10.0.1.2"), &["web".into(), "Alias".into()]);
    d.set_container("n1", "c2", ip("10.0.1.3"), &["db".into(), "svc".into()]);
    d.set_container("n1", "c3", ip("10.0.1.4"), &["db2".into(), "svc".into()]);
    d.set_container("n2", "c4", ip("10.0.2.2"), &["other".into(), "svc".into()]);
    // c5 is on both networks.
    d.set_container("n2", "c5", ip("10.0.2.3"), &["both".into()]);
    d.set_container("n1", "c5", ip("10.0.1.5"), &["both".into()]);
    let a1: IpAddr = "10.0.1.2".parse().unwrap();
    assert_eq!(d.resolve("n1", a1, "web"), vec![ip("10.0.1.2")]);
    assert_eq!(d.resolve("n1", a1, "ALIAS."), vec![ip("10.0.1.2")]);
    let mut svc = d.resolve("n1", a1, "svc");
    svc.sort();
    assert_eq!(svc, vec![ip("10.0.1.3"), ip("10.0.1.4")]);
    // Not on the asker's network.
    assert!(d.resolve("n1", a1, "other").is_empty());
    assert_eq!(
        d.resolve("n2", "10.0.2.2".parse().unwrap(), "svc"),
        vec![ip("10.0.2.2")]
    );
    // The asker's network first, then its other networks.
    assert_eq!(d.resolve("n1", a1, "both"), vec![ip("10.0.1.5")]);
    assert_eq!(
        d.resolve("n2", "10.0.2.2".parse().unwrap(), "both"),
        vec![ip("10.0.2.3")]
    );
    assert_eq!(
        d.resolve("n1", "10.0.1.5".parse().unwrap(), "other"),
        vec![ip("10.0.2.2")]
    );
    // A link is the asker's alone, and follows its target's name.
    d.set_links("n1", "c1", &[("Bar".into(), "db".into())]);
    assert_eq!(d.resolve("n1", a1, "bar"), vec![ip("10.0.1.3")]);
    assert!(d
        .resolve("n1", "10.0.1.3".parse().unwrap(), "bar")
        .is_empty());
    // Live removal.
    d.remove_container("n1", "c3");
    assert_eq!(d.resolve("n1", a1, "svc"), vec![ip("10.0.1.3")]);
    // Wire format, internal network: unknown names are not forwarded.
    d.shared.internal.write().unwrap().insert("n1".into(), true);
    let r = ask(&d, "n1", a1, "web", RecordType::A, 7).await;
    assert_eq!(
        parse_a_response(&r).unwrap(),
        (ResponseCode::NoError, vec![ip("10.0.1.2")])
    );
    let r = ask(&d, "n1", a1, "nope.example", RecordType::A, 8).await;
    assert_eq!(parse_a_response(&r).unwrap().0, ResponseCode::ServFail);
    let r = ask(&d, "n1", a1, "web", RecordType::AAAA, 9).await;
    assert_eq!(
        parse_a_response(&r).unwrap(),
        (ResponseCode::NoError, vec![])
    );
    let r = ask(&d, "n1", a1, "3.1.0.10.in-addr.arpa", RecordType::PTR, 10).await;
    let m = Message::from_vec(&r).unwrap();
    assert_eq!(m.answers.len(), 1);
}

#[tokio::test]
async fn no_upstream_gives_servfail() {
    let d = DnsServer::new(vec![]);
    let r = ask(
        &d,
        "n",
        "10.0.0.9".parse().unwrap(),
        "example.org",
        RecordType::A,
        1,
    )
    .await;
    assert_eq!(parse_a_response(&r).unwrap().0, ResponseCode::ServFail);
}

#[tokio::test]
async fn dual_stack_answers_aaaa_and_ip6_ptr() {
    let d = DnsServer::new(vec![]);
    let web6: Ipv6Addr = "fd00:20::10".parse().unwrap();
    let names = ["web".to_string()];
    d.set_container_with_upstreams("n", "c1", ip("10.20.0.2"), Some(web6), &names, &[]);
    d.set_container("n", "c2", ip("10.20.0.3"), &["old".into()]);
    let r = ask(
        &d,
        "n",
        "10.20.0.3".parse().unwrap(),
        "web",
        RecordType::AAAA,
        1,
    )
    .await;
    let m = Message::from_vec(&r).unwrap();
    let got: Vec<RData> = m.answers.iter().map(|a| a.data.clone()).collect();
    assert_eq!(got, vec![RData::AAAA(AAAA(web6))]);
    // A still answers IPv4 only; ANY both.
    let r = ask(
        &d,
        "n",
        "10.20.0.3".parse().unwrap(),
        "web",
        RecordType::A,
        2,
    )
    .await;
    assert_eq!(
        parse_a_response(&r).unwrap(),
        (ResponseCode::NoError, vec![ip("10.20.0.2")])
    );
    let r = ask(
        &d,
        "n",
        "10.20.0.3".parse().unwrap(),
        "web",
        RecordType::ANY,
        3,
    )
    .await;
    assert_eq!(Message::from_vec(&r).unwrap().answers.len(), 2);
    // An IPv6 asker is known by its IPv6 address; PTR of its ip6.arpa name.
    let rev = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa";
    let r = ask(&d, "n", IpAddr::V6(web6), rev, RecordType::PTR, 4).await;
    let m = Message::from_vec(&r).unwrap();
    let got: Vec<RData> = m.answers.iter().map(|a| a.data.clone()).collect();
    assert_eq!(
        got,
        vec![RData::PTR(PTR(Name::from_ascii("web.").unwrap()))]
    );
    // AAAA of an IPv4-only container: the name exists, no data.
    let r = ask(&d, "n", IpAddr::V6(web6), "old", RecordType::AAAA, 5).await;
    let m = Message::from_vec(&r).unwrap();
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
}
