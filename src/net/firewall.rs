//! NAT, published ports and isolation with nftables, for both address families: one `inet`
//! table, so that the interface-based rules (isolation between networks, internal networks)
//! hold for IPv4 and IPv6 alike and only the address-based ones (masquerade, DNAT) are written
//! per family.
//!
//! Choice: the `nft` binary fed a text script on stdin (`nft -f -`), with the whole wharf table
//! rendered from the manager's state by a pure function ([`render`]) and replaced in one
//! transaction (`table` + `delete table` + the new table in one script, which nft applies
//! atomically). Why:
//! - the `nftables` crate netavark uses also runs the `nft` binary (with JSON): it would add a
//!   schema layer and no capability;
//! - rendering everything from state makes every operation idempotent and self-repairing: a crash
//!   between two steps is fixed by the next render, stale rules of dead containers disappear at
//!   the first render after `repair_at_startup`, and there are no rule handles to track;
//! - one table owned by wharf, so nothing outside it is ever touched, and the rendered script is
//!   unit-tested as text.
//!
//! The cost is one `nft` run (~2-4 ms) per change of networks or published ports; attaching a
//! container without published ports renders nothing.
//!
//! Published ports on 127.0.0.1: DNAT in the `output` hook plus `route_localnet=1` on the bridges
//! (set by the bridge driver) and a masquerade of loopback sources towards the bridges, like
//! kube-proxy, rather than a userland proxy like docker-proxy: the forwarding then lives in the
//! kernel and keeps working while the daemon restarts (containers outlive the daemon), costs no
//! copy, and needs no process per port. What docker-proxy also does, holding the host port so
//! that nothing else binds it, is done by a socket per mapping in the daemon
//! ([`super::ports::HeldPort`]), which never carries traffic. The risk route_localnet opens (a
//! container sending to 127.0.0.1 through the bridge) is closed by a raw-prerouting rule
//! dropping packets that arrive from a wharf bridge addressed to 127.0.0.0/8.
//!
//! IPv6 has no `route_localnet`: the kernel drops a packet from `::1` DNATed out of the host.
//! Published ports of dual-stack networks are therefore DNATed in the kernel for every local
//! IPv6 address but `::1`, and `[::1]` reaches the daemon's `[::]` hold, which forwards those
//! connections in userland (see [`super::ports`]), as docker-proxy does. A port published on
//! one IPv6 address is DNATed for that address alone (`[::1]`: by its hold alone); one on a
//! specific IPv4 address has no IPv6 side.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::ports::PortMapping;
use super::NetError;

/// A network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwNetwork {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// The IPv6 subnet of a dual-stack network.
    pub subnet6: Option<Ipv6Net>,
    pub internal: bool,
}

/// Everything the table holds, as rendered from the manager's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub networks: Vec<FwNetwork>,
    pub forwards: Vec<FwForward>,
}

/// A published port forwarded to a container address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FwForward {
    pub mapping: PortMapping,
    pub container_ip: Ipv4Addr,
    /// On a dual-stack network, a mapping on every address (0.0.0.0) is forwarded from the
    /// host's IPv6 addresses to this one too.
    pub container_ip6: Option<Ipv6Addr>,
}

fn q(s: &str) -> String {
    // Interface names are validated (no quotes) but be safe.
    format!("\"{}\"", s.replace('"', ""))
}

/// The chains of the table, with their base-chain headers (empty: a regular chain).
const CHAINS: &[(&str, &str)] = &[
    // Nothing from a container may reach the host's loopback (route_localnet is on).
    (
        "raw_prerouting",
        "type filter hook prerouting priority raw; policy accept;",
    ),
    // DNAT for published ports, from outside (prerouting) and from the host itself (output).
    (
        "prerouting",
        "type nat hook prerouting priority dstnat; policy accept;",
    ),
    (
        "output",
        "type nat hook output priority -100; policy accept;",
    ),
    ("published", ""),
    (
        "postrouting",
        "type nat hook postrouting priority srcnat; policy accept;",
    ),
    // Forwarded traffic: isolation between networks, internal networks closed.
    (
        "forward",
        "type filter hook forward priority filter; policy accept;",
    ),
];

/// The rules, chain by chain, and the bridge set's elements.
fn rules(
    networks: &[FwNetwork],
    forwards: &[FwForward],
) -> (Vec<String>, Vec<(&'static str, String)>) {
    let bridges: Vec<String> = networks.iter().map(|n| q(&n.bridge)).collect();
    let mut r: Vec<(&'static str, String)> = Vec::new();
    r.push((
        "raw_prerouting",
        "iifname @bridges ip daddr 127.0.0.0/8 drop".into(),
    ));
    r.push(("prerouting", "fib daddr type local jump published".into()));
    r.push(("output", "fib daddr type local jump published".into()));
    let mut fwd: Vec<&FwForward> = forwards.iter().collect();
    // Specific addresses before wildcard ones.
    fwd.sort_by_key(|f| {
        (
            f.mapping.host_ip.is_unspecified(),
            f.mapping.proto,
            f.mapping.host_port,
            f.mapping.host_ip,
        )
    });
    for f in fwd {
        let m = f.mapping;
        let (proto, port, to) = (m.proto.as_str(), m.host_port, m.container_port);
        let v4_daddr = match m.host_ip {
            IpAddr::V4(ip) if ip.is_unspecified() => Some(String::new()),
            IpAddr::V4(ip) => Some(format!("ip daddr {ip} ")),
            IpAddr::V6(_) => None,
        };
        if let Some(daddr) = v4_daddr {
            r.push((
                "published",
                format!(
                    "{daddr}{proto} dport {port} dnat ip to {}:{to}",
                    f.container_ip
                ),
            ));
        }
        // Not ::1: that one the hold forwards (see the module docs).
        let v6_daddr = match m.ipv6_side() {
            Some(ip) if ip.is_unspecified() => Some("ip6 daddr != ::1".to_string()),
            Some(ip) if !ip.is_loopback() => Some(format!("ip6 daddr {ip}")),
            _ => None,
        };
        if let (Some(daddr), Some(ip6)) = (v6_daddr, f.container_ip6) {
            r.push((
                "published",
                format!("{daddr} {proto} dport {port} dnat ip6 to [{ip6}]:{to}"),
            ));
        }
    }
    r.push((
        "postrouting",
        "ip saddr 127.0.0.0/8 oifname @bridges masquerade".into(),
    ));
    for n in networks {
        let b = q(&n.bridge);
        // Hairpin: a container reaching a published port of its own network via a host address.
        r.push((
            "postrouting",
            format!(
                "oifname {b} ip saddr {} ct status dnat masquerade",
                n.subnet
            ),
        ));
        if let Some(s6) = n.subnet6 {
            r.push((
                "postrouting",
                format!("oifname {b} ip6 saddr {s6} ct status dnat masquerade"),
            ));
        }
        if !n.internal {
            r.push((
                "postrouting",
                format!("ip saddr {} oifname != {b} masquerade", n.subnet),
            ));
            if let Some(s6) = n.subnet6 {
                r.push((
                    "postrouting",
                    format!("ip6 saddr {s6} oifname != {b} masquerade"),
                ));
            }
        }
    }
    for n in networks {
        let b = q(&n.bridge);
        r.push(("forward", format!("iifname {b} oifname {b} accept")));
    }
    r.push((
        "forward",
        "iifname @bridges oifname @bridges ct status dnat accept".into(),
    ));
    r.push(("forward", "iifname @bridges oifname @bridges drop".into()));
    for n in networks.iter().filter(|n| n.internal) {
        let b = q(&n.bridge);
        r.push(("forward", format!("iifname {b} drop")));
        r.push(("forward", format!("oifname {b} drop")));
    }
    (bridges, r)
}

/// Render the whole table as a replacement (delete and create). Pure. Used when the table's
/// layout differs from the current one; see [`render_update`] for the usual path.
pub fn render(table: &str, networks: &[FwNetwork], forwards: &[FwForward]) -> String {
    let (bridges, rules) = rules(networks, forwards);
    let mut s = String::new();
    // Create-if-missing then delete makes the replacement work whether or not it exists.
    // The `ip` table of wharf before IPv6 goes too.
    let _ = write!(s, "{}", render_delete(table));
    let _ = writeln!(s, "table inet {table} {{");
    let _ = writeln!(s, "  set bridges {{");
    let _ = writeln!(s, "    type ifname");
    if !bridges.is_empty() {
        let _ = writeln!(s, "    elements = {{ {} }}", bridges.join(", "));
    }
    let _ = writeln!(s, "  }}");
    for (chain, header) in CHAINS {
        let _ = writeln!(s, "  chain {chain} {{");
        if !header.is_empty() {
            let _ = writeln!(s, "    {header}");
        }
        for (_, rule) in rules.iter().filter(|(c, _)| c == chain) {
            let _ = writeln!(s, "    {rule}");
        }
        let _ = writeln!(s, "  }}");
    }
    let _ = writeln!(s, "}}");
    s
}

/// Render the table as an in-place update: declare the set and chains (no-ops when they exist),
/// flush every rule and the set, add the current ones. One transaction like [`render`], but the
/// base chains stay registered: replacing the table unregisters its netfilter hooks, which waits
/// for RCU grace periods (~20 ms here) on every change.
pub fn render_update(table: &str, networks: &[FwNetwork], forwards: &[FwForward]) -> String {
    let (bridges, rules) = rules(networks, forwards);
    let mut s = String::new();
    let _ = writeln!(s, "table inet {table} {{");
    let _ = writeln!(s, "  set bridges {{ type ifname; }}");
    for (chain, header) in CHAINS {
        let _ = writeln!(s, "  chain {chain} {{ {header} }}");
    }
    let _ = writeln!(s, "}}");
    let _ = writeln!(s, "flush table inet {table}");
    let _ = writeln!(s, "flush set inet {table} bridges");
    if !bridges.is_empty() {
        let _ = writeln!(
            s,
            "add element inet {table} bridges {{ {} }}",
            bridges.join(", ")
        );
    }
    for (chain, rule) in &rules {
        let _ = writeln!(s, "add rule inet {table} {chain} {rule}");
    }
    s
}

/// Script deleting the table if it exists (and the `ip` table of an older wharf).
pub fn render_delete(table: &str) -> String {
    format!(
        "table ip {table}\ndelete table ip {table}\ntable inet {table}\ndelete table inet {table}\n"
    )
}

/// Run `nft -f -` with `script` (one atomic transaction).
pub async fn apply(script: &str) -> Result<(), NetError> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(nft_binary())
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            NetError::System(format!(
                "running nft (is the nftables package installed?): {e}"
            ))
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(script.as_bytes())
        .await
        .map_err(|e| NetError::System(format!("writing to nft: {e}")))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| NetError::System(format!("waiting for nft: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return Err(NetError::System(format!(
            "nft failed ({}): {first}",
            out.status
        )));
    }
    Ok(())
}

/// Whether the table exists.
pub async fn table_exists(table: &str) -> bool {
    tokio::process::Command::new(nft_binary())
        .args(["list", "table", "inet", table])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

fn nft_binary() -> &'static str {
    for p in ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    "nft"
}

/// Forwards of a container, from its mappings (ephemeral ones must already be resolved).
pub fn forwards_for(
    container_ip: Ipv4Addr,
    container_ip6: Option<Ipv6Addr>,
    mappings: &[PortMapping],
) -> Vec<FwForward> {
    mappings
        .iter()
        .map(|m| FwForward {
            mapping: *m,
            container_ip,
            container_ip6,
        })
        .collect()
}

/// Whether two host bindings collide (same protocol and port, and an address that both take:
/// the same one, or one of them a wildcard that covers the other's).
pub fn collides(a: &PortMapping, b: &PortMapping) -> bool {
    a.proto == b.proto && a.host_port == b.host_port && (a.covers(b.host_ip) || b.covers(a.host_ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ports::Proto;

    #[test]
    fn renders_nat_isolation_and_ports() {
        let nets = vec![
            FwNetwork {
                bridge: "wh-a".into(),
                subnet: "10.213.1.0/24".parse().unwrap(),
                subnet6: Some("fd00:213:1::/64".parse().unwrap()),
                internal: false,
            },
            FwNetwork {
                bridge: "wh-b".into(),
                subnet: "10.213.2.0/24".parse().unwrap(),
                subnet6: None,
                internal: true,
            },
        ];
        let fwd = vec![
            FwForward {
                mapping: PortMapping {
                    host_ip: Ipv4Addr::UNSPECIFIED.into(),
                    host_port: 8080,
                    container_port: 80,
                    proto: Proto::Tcp,
                },
                container_ip: "10.213.1.2".parse().unwrap(),
                container_ip6: Some("fd00:213:1::2".parse().unwrap()),
            },
            FwForward {
                mapping: PortMapping {
                    host_ip: Ipv4Addr::LOCALHOST.into(),
                    host_port: 9000,
                    container_port: 9000,
                    proto: Proto::Udp,
                },
                container_ip: "10.213.1.3".parse().unwrap(),
                container_ip6: Some("fd00:213:1::3".parse().unwrap()),
            },
        ];
        let up = render_update("wharf", &nets, &fwd);
        assert!(
            up.contains("flush table inet wharf\nflush set inet wharf bridges\n"),
            "{up}"
        );
        assert!(up.contains("add rule inet wharf published ip daddr 127.0.0.1 udp dport 9000 dnat ip to 10.213.1.3:9000"), "{up}");
        // IPv6: every address but ::1 (which the hold forwards), and only for 0.0.0.0 mappings.
        assert!(up.contains("add rule inet wharf published ip6 daddr != ::1 tcp dport 8080 dnat ip6 to [fd00:213:1::2]:80"), "{up}");
        assert!(!up.contains("[fd00:213:1::3]"), "{up}");
        assert!(
            up.contains("ip6 saddr fd00:213:1::/64 oifname != \"wh-a\" masquerade"),
            "{up}"
        );
        assert!(
            up.contains("add element inet wharf bridges { \"wh-a\", \"wh-b\" }"),
            "{up}"
        );
        let s = render("wharf", &nets, &fwd);
        assert!(
            s.starts_with("table ip wharf\ndelete table ip wharf\ntable inet wharf\ndelete table inet wharf\ntable inet wharf {\n"),
            "{s}"
        );
        assert!(s.contains("elements = { \"wh-a\", \"wh-b\" }"), "{s}");
        assert!(
            s.contains("ip saddr 10.213.1.0/24 oifname != \"wh-a\" masquerade"),
            "{s}"
        );
        assert!(
            !s.contains("ip saddr 10.213.2.0/24 oifname != \"wh-b\" masquerade"),
            "{s}"
        );
        assert!(s.contains("iifname \"wh-b\" drop"), "{s}");
        assert!(s.contains("iifname @bridges oifname @bridges drop"), "{s}");
        let udp = s
            .find("ip daddr 127.0.0.1 udp dport 9000 dnat ip to 10.213.1.3:9000")
            .expect(&s);
        let tcp = s
            .find("    tcp dport 8080 dnat ip to 10.213.1.2:80")
            .expect(&s);
        assert!(udp < tcp, "specific addresses first:\n{s}");
        // Balanced braces.
        assert_eq!(s.matches('{').count(), s.matches('}').count());
    }

    #[test]
    fn empty_state_renders_valid_skeleton() {
        let s = render("t", &[], &[]);
        assert!(s.contains("set bridges {\n    type ifname\n  }"), "{s}");
        assert_eq!(
            render_delete("t"),
            "table ip t\ndelete table ip t\ntable inet t\ndelete table inet t\n"
        );
    }

    #[test]
    fn collision_rules() {
        let m = |ip: [u8; 4], port, proto| PortMapping {
            host_ip: ip.into(),
            host_port: port,
            container_port: 1,
            proto,
        };
        assert!(collides(
            &m([0, 0, 0, 0], 80, Proto::Tcp),
            &m([127, 0, 0, 1], 80, Proto::Tcp)
        ));
        assert!(collides(
            &m([127, 0, 0, 1], 80, Proto::Tcp),
            &m([127, 0, 0, 1], 80, Proto::Tcp)
        ));
        assert!(!collides(
            &m([127, 0, 0, 2], 80, Proto::Tcp),
            &m([127, 0, 0, 1], 80, Proto::Tcp)
        ));
        assert!(!collides(
            &m([0, 0, 0, 0], 80, Proto::Tcp),
            &m([0, 0, 0, 0], 80, Proto::Udp)
        ));
        assert!(!collides(
            &m([0, 0, 0, 0], 81, Proto::Tcp),
            &m([0, 0, 0, 0], 80, Proto::Tcp)
        ));
    }
}
