//! Dual-stack networks through the engine: containers reaching each other by name over IPv6 and
//! IPv4, a published port answering on `[::1]`, 127.0.0.1 and from another network namespace
//! over both families, isolation between networks for both, the inspect fields, compose's
//! `enable_ipv6` / `ipv6_address`, and teardown leaving no IPv6 rule, route or address.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;
#[path = "common/leaks.rs"]
mod leaks;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Wharf;
use compose_helpers::Proj;

/// This engine's IPv4 pool (see the harness): 4 /24s.
fn net_base(w: &Wharf) -> String {
    format!("10.{}.{}", 220 + w.slot / 64, (w.slot % 64) * 4)
}

/// An IPv6 /64 of this engine's /48 (`n` > 0: the pool hands out `fd77:<slot>::/64` first).
fn v6_net(w: &Wharf, n: u32) -> String {
    format!("fd77:{}:{n}::", w.slot)
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd).args(args).output().expect(cmd)
}

fn sh(script: &str) {
    let out = run("sh", &["-c", script]);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `curl` (in namespace `ns` when given), retried while a just-started server may not listen.
fn curl(ns: Option<&str>, url: &str) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let mut args: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            args.extend(["ip", "netns", "exec", ns]);
        }
        args.extend(["curl", "-gs", "--max-time", "3", url]);
        let out = run(args[0], &args[1..]);
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).to_string());
        }
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!("curl {url}: {:?}", out.status.code()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A network namespace with a veth to the host (both families), removed on drop.
struct OtherNs {
    name: String,
    host_if: String,
}

impl OtherNs {
    fn new(w: &Wharf, v4: &str, v6: &str) -> OtherNs {
        let o = OtherNs {
            name: format!("w{:03}v6ns", w.slot),
            host_if: format!("w{:03}v6h", w.slot),
        };
        let (ns, h) = (&o.name, &o.host_if);
        sh(&format!(
            "ip netns add {ns} && ip link add {h} type veth peer name eth0 netns {ns} && \
             ip addr add {v4}.1/24 dev {h} && ip addr add {v6}1/64 dev {h} nodad && ip link set {h} up && \
             ip -n {ns} addr add {v4}.2/24 dev eth0 && ip -n {ns} addr add {v6}2/64 dev eth0 nodad && \
             ip -n {ns} link set eth0 up && ip -n {ns} link set lo up"
        ));
        o
    }
}

impl Drop for OtherNs {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.host_if]);
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// The web server of the tests: `/index.html` says `hello` on port 80 of both families.
const HTTPD: &str = "echo hello > /tmp/index.html && exec httpd -f -p 80 -h /tmp";

/// A shell function `get HOST` printing the body of `http://HOST/` (busybox's `nc`, with a
/// connect timeout: its `wget -T` crashes).
const GET: &str = r#"get() { printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 "$1" 80 | tail -n1; }; "#;

/// What the host's firewall table holds now.
fn table(w: &Wharf) -> String {
    let out = run(
        "nft",
        &["list", "table", "inet", &format!("wharf_t{:03}", w.slot)],
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn dual_stack_names_ports_isolation_and_teardown() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let base = net_base(&w);
    let (s6, o6) = (v6_net(&w, 1), v6_net(&w, 3));
    let subnet6 = format!("{s6}/64");
    // An IPv6 subnet without --ipv6 is refused, as dockerd does.
    let (_, err) = w.fails(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.0/24"),
        "--subnet",
        &subnet6,
        "nov6",
    ]);
    assert!(err.contains("needs IPv6 enabled"), "{err}");
    w.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{base}.0/24"),
        "--subnet",
        &subnet6,
        "dual",
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&w.ok(&["network", "inspect", "dual"])).unwrap();
    let n = &inspect[0];
    assert_eq!(n["EnableIPv6"], true, "{n}");
    let cfg = n["IPAM"]["Config"].as_array().unwrap();
    assert_eq!(cfg.len(), 2, "{n}");
    assert_eq!(cfg[1]["Subnet"], subnet6.as_str(), "{n}");
    assert_eq!(cfg[1]["Gateway"], format!("{s6}1"), "{n}");

    let port = 22000 + w.slot;
    let ip6 = format!("{s6}10");
    w.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "dual",
        "--ip6",
        &ip6,
        "-p",
        &format!("{port}:80"),
        "box",
        "sh",
        "-c",
        HTTPD,
    ]);
    assert_eq!(
        w.inspect(
            "web",
            "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}"
        ),
        ip6
    );
    assert_eq!(
        w.inspect(
            "web",
            "{{.NetworkSettings.Networks.dual.GlobalIPv6PrefixLen}}"
        ),
        "64"
    );
    assert_eq!(
        w.inspect("web", "{{.NetworkSettings.Networks.dual.IPv6Gateway}}"),
        format!("{s6}1")
    );
    let ip4 = w.inspect("web", "{{.NetworkSettings.Networks.dual.IPAddress}}");
    let hosts = w.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{ip4}\t")) && hosts.contains(&format!("{ip6}\t")),
        "{hosts}"
    );

    // By name over both families: A and AAAA from the embedded DNS, then HTTP to each.
    let script = "set -e; \
        a=$(nslookup web | awk '/^Address/ && $2 !~ /:/ && $2 !~ /#/ {print $2}' | tail -n1); \
        aaaa=$(nslookup -type=aaaa web | awk '/^Address/ && $2 ~ /:/ && $2 !~ /#/ {print $2}' | tail -n1); \
        echo A=$a AAAA=$aaaa; get $a; get $aaaa";
    let script = format!("{GET}{script}");
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "box",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(
        out,
        format!("A={ip4} AAAA={ip6}\nhello\nhello\n"),
        "reaching web by name over IPv4 and IPv6"
    );
    // The reverse name of the IPv6 address is the container's.
    let ptr = w.ok(&["run", "--rm", "--network", "dual", "box", "nslookup", &ip6]);
    assert!(ptr.contains("web"), "{ptr}");

    // The published port on the host: 127.0.0.1, [::1] (the daemon's [::] hold forwards it),
    // and from another namespace through the host's addresses of both families.
    assert_eq!(
        curl(None, &format!("http://127.0.0.1:{port}/")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        curl(None, &format!("http://[::1]:{port}/")).unwrap(),
        "hello\n"
    );
    let other4 = format!("{}.{}", base.rsplit_once('.').unwrap().0, {
        let third: u32 = base.rsplit_once('.').unwrap().1.parse().unwrap();
        third + 3
    });
    let other = OtherNs::new(&w, &other4, &o6);
    let url4 = format!("http://{other4}.1:{port}/");
    let url6 = format!("http://[{o6}1]:{port}/");
    assert_eq!(curl(Some(&other.name), &url4).unwrap(), "hello\n");
    assert_eq!(curl(Some(&other.name), &url6).unwrap(), "hello\n");
    // A restarted daemon takes the [::] hold again and forwards [::1] as before; the kernel's
    // DNAT kept working meanwhile.
    w.ok(&["daemon", "stop"]);
    assert_eq!(curl(Some(&other.name), &url6).unwrap(), "hello\n");
    w.ok(&["ps", "-q"]);
    assert_eq!(
        curl(None, &format!("http://[::1]:{port}/")).unwrap(),
        "hello\n"
    );
    // Ports on one IPv6 address: [::1] (its hold forwards it) and the host's address towards
    // the other namespace (DNATed for that address alone); neither answers on IPv4 or on the
    // other IPv6 address.
    let (lo_port, one_port) = (26000 + w.slot, 26500 + w.slot);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "lo6",
        "--network",
        "dual",
        "-p",
        &format!("[::1]:{lo_port}:80"),
        "-p",
        &format!("[{o6}1]:{one_port}:80"),
        "box",
        "sh",
        "-c",
        HTTPD,
    ]);
    assert_eq!(
        curl(None, &format!("http://[::1]:{lo_port}/")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        curl(Some(&other.name), &format!("http://[{o6}1]:{one_port}/")).unwrap(),
        "hello\n"
    );
    let refused = |ns: Option<&str>, url: &str| {
        let mut args: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            args.extend(["ip", "netns", "exec", ns]);
        }
        args.extend(["curl", "-gs", "--max-time", "2", url]);
        !run(args[0], &args[1..]).status.success()
    };
    assert!(refused(None, &format!("http://127.0.0.1:{lo_port}/")));
    assert!(refused(None, &format!("http://[::1]:{one_port}/")));
    assert!(refused(
        Some(&other.name),
        &format!("http://{other4}.1:{one_port}/")
    ));
    let ps = w.ok(&["ps", "--filter", "name=lo6", "--format", "{{.Ports}}"]);
    assert!(
        ps.contains(&format!("[::1]:{lo_port}->80/tcp"))
            && ps.contains(&format!("[{o6}1]:{one_port}->80/tcp")),
        "{ps}"
    );
    let lo6_ports = w.inspect("lo6", "{{json .NetworkSettings.Ports}}");
    assert!(
        lo6_ports.contains(r#"{"HostIp":"::1","HostPort":"#),
        "{lo6_ports}"
    );
    // The port is held: a second container cannot take it, on [::] either.
    let (_, err) = w.fails(&[
        "run",
        "-d",
        "--name",
        "taker",
        "--network",
        "dual",
        "-p",
        &format!("[::]:{lo_port}:80"),
        "box",
    ]);
    assert!(err.contains("already"), "{err}");
    // An IPv6 host address needs an IPv6 address of the container.
    let (_, err) = w.fails(&["run", "-d", "--name", "v4only", "-p", "[::1]:9:80", "box"]);
    assert!(err.contains("no IPv6 address"), "{err}");
    // (Created, not started, as docker leaves them.)
    w.ok(&["rm", "-f", "lo6", "taker", "v4only"]);
    assert!(refused(None, &format!("http://[::1]:{lo_port}/")));

    let inspect_ports = w.inspect("web", "{{json .NetworkSettings.Ports}}");
    assert!(
        inspect_ports.contains("\"HostIp\":\"::\""),
        "{inspect_ports}"
    );
    assert_eq!(
        w.ok(&["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{port}\n80/tcp -> [::]:{port}\n")
    );

    // Isolation for both families: a container of another dual-stack network (its IPv6 /64
    // from the pool) reaches neither address; one of the same network reaches both.
    w.ok(&["network", "create", "--ipv6", "other"]);
    let other_net: serde_json::Value =
        serde_json::from_str(&w.ok(&["network", "inspect", "other"])).unwrap();
    let sub = &other_net[0]["IPAM"]["Config"][1]["Subnet"];
    assert_eq!(sub, &format!("fd77:{}::/64", w.slot), "{other_net}");
    let probe = format!(
        "{GET}[ \"$(get {ip4})\" = hello ] && echo v4; [ \"$(get {ip6})\" = hello ] && echo v6; true"
    );
    let from_other = w.ok(&[
        "run",
        "--rm",
        "--network",
        "other",
        "box",
        "sh",
        "-c",
        &probe,
    ]);
    assert_eq!(from_other, "", "isolation between networks");
    let from_same = w.ok(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "box",
        "sh",
        "-c",
        &probe,
    ]);
    assert_eq!(from_same, "v4\nv6\n");
    // The default bridge stays IPv4 only.
    w.ok(&["run", "-d", "--name", "plain", "box", "sleep", "60"]);
    assert_eq!(
        w.inspect(
            "plain",
            "{{.NetworkSettings.Networks.bridge.GlobalIPv6Address}}"
        ),
        ""
    );
    let bridge: serde_json::Value =
        serde_json::from_str(&w.ok(&["network", "inspect", "bridge"])).unwrap();
    assert_eq!(bridge[0]["EnableIPv6"], false);

    // Teardown: no IPv6 rule, route or address of these networks is left.
    assert!(table(&w).contains("dnat ip6 to"), "{}", table(&w));
    let ids = leaks::all_ids(&w);
    w.ok(&["rm", "-f", "web", "plain"]);
    w.ok(&["network", "rm", "dual", "other"]);
    let t = table(&w);
    assert!(!t.contains("ip6"), "IPv6 rules left:\n{t}");
    w.ok(&["daemon", "stop"]);
    drop(other);
    let routes = String::from_utf8_lossy(&run("ip", &["-6", "route"]).stdout).to_string();
    assert!(!routes.contains(&format!("fd77:{}:", w.slot)), "{routes}");
    leaks::assert_clean(&w, &ids);
}

#[test]
fn compose_enable_ipv6_with_both_subnets_and_a_fixed_ipv6_address() {
    let w = Wharf::new();
    w.busybox_image("busybox", &[]);
    let base = net_base(&w);
    let s6 = v6_net(&w, 2);
    let yaml = format!(
        r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "{HTTPD}"]
    stop_signal: SIGKILL
    networks:
      dual:
        ipv6_address: {s6}20
  client:
    image: busybox
    command: ["sleep", "60"]
    stop_signal: SIGKILL
    networks: [dual]
networks:
  dual:
    enable_ipv6: true
    ipam:
      config:
        - subnet: {base}.0/24
        - subnet: {s6}/64
"#
    );
    let p = Proj::new(&w, "six", &yaml);
    p.ok(&["up", "-d"]);
    assert_eq!(
        w.inspect(
            "six-web-1",
            "{{.NetworkSettings.Networks.six_dual.GlobalIPv6Address}}"
        ),
        format!("{s6}20")
    );
    let got = w.ok(&[
        "exec",
        "six-client-1",
        "sh",
        "-c",
        &format!("{GET}get {s6}20"),
    ]);
    assert_eq!(got, "hello\n");
    // Up again changes nothing (the network's options compare equal).
    let (_, err) = p.ok(&["up", "-d"]);
    assert!(!err.contains("Recreate"), "{err}");
    p.ok(&["down"]);
    assert!(
        table(&w).is_empty() || !table(&w).contains("ip6"),
        "{}",
        table(&w)
    );
}

#[test]
fn default_bridge_is_dual_stack_with_fixed_cidr_v6() {
    let w = Wharf::new();
    let conf = w.root.join("daemon.json");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&conf).unwrap()).unwrap();
    let fixed = format!("{}/64", v6_net(&w, 4));
    c["fixed-cidr-v6"] = fixed.clone().into();
    std::fs::write(&conf, serde_json::to_vec(&c).unwrap()).unwrap();
    w.busybox_image("box", &[]);
    w.ok(&["run", "-d", "--name", "a", "box", "sh", "-c", HTTPD]);
    let bridge: serde_json::Value =
        serde_json::from_str(&w.ok(&["network", "inspect", "bridge"])).unwrap();
    assert_eq!(bridge[0]["EnableIPv6"], true, "{bridge}");
    assert_eq!(bridge[0]["IPAM"]["Config"][1]["Subnet"], fixed.as_str());
    let ip6 = w.inspect("a", "{{.NetworkSettings.GlobalIPv6Address}}");
    assert!(ip6.starts_with(&v6_net(&w, 4)), "{ip6}");
    let got = w.ok(&["run", "--rm", "box", "sh", "-c", &format!("{GET}get {ip6}")]);
    assert_eq!(got, "hello\n");
    w.ok(&["rm", "-f", "a"]);
}
