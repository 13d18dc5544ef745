//! The files a container's resolver reads, rendered from its endpoints: `/etc/resolv.conf`
//! (pointing at the embedded DNS where the network has one) and `/etc/hosts`. Pure functions of
//! their inputs; the engine writes the results into the container's directory.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::NetError;

/// The container's /etc/resolv.conf. With embedded DNS (`dns_server`), the only nameserver is it
/// (`--dns` servers become its upstreams for that container, see [`Attachment::dns_upstreams`]);
/// otherwise `--dns` or the host's nameservers, loopback ones left out (unreachable from a
/// container). Search domains and options: `--dns-search`/`--dns-option` or the host's.
pub fn resolv_conf(
    dns_server: Option<Ipv4Addr>,
    host_resolv_conf: &str,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> String {
    let mut host_ns = Vec::new();
    let mut host_search = Vec::new();
    let mut host_opts = Vec::new();
    for l in host_resolv_conf.lines() {
        let mut it = l.split_whitespace();
        match it.next() {
            Some("nameserver") => host_ns.extend(it.next().map(str::to_string)),
            Some("search") | Some("domain") => host_search = it.map(str::to_string).collect(),
            Some("options") => host_opts.extend(it.map(str::to_string)),
            _ => {}
        }
    }
    let mut s = String::new();
    match dns_server {
        Some(ip) => {
            let _ = writeln!(s, "nameserver {ip}");
        }
        None => {
            let list: Vec<String> = if dns.is_empty() {
                host_ns
                    .into_iter()
                    .filter(|n| {
                        n.parse::<Ipv4Addr>()
                            .map(|i| !i.is_loopback())
                            .unwrap_or(true)
                    })
                    .collect()
            } else {
                dns.to_vec()
            };
            for n in list {
                let _ = writeln!(s, "nameserver {n}");
            }
        }
    }
    let search = if search.is_empty() {
        host_search
    } else {
        search.to_vec()
    };
    if !search.is_empty() && search != ["."] {
        let _ = writeln!(s, "search {}", search.join(" "));
    }
    let opts = if options.is_empty() {
        host_opts
    } else {
        options.to_vec()
    };
    if !opts.is_empty() {
        let _ = writeln!(s, "options {}", opts.join(" "));
    }
    s
}

/// The container's /etc/hosts: localhost lines, its own addresses (both families) with hostname, and
/// `--add-host name:ip` entries (`host-gateway` is the gateway of its first network).
pub fn hosts_file(
    hostname: &str,
    own: &[IpAddr],
    add_hosts: &[String],
    host_gateway: Option<Ipv4Addr>,
) -> Result<String, NetError> {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for ip in own {
        let _ = writeln!(s, "{ip}\t{hostname}");
    }
    for e in add_hosts {
        let (name, ip) = e
            .split_once(':')
            .or_else(|| e.split_once('='))
            .ok_or_else(|| {
                NetError::Invalid(format!("invalid --add-host {e:?}: expected name:ip"))
            })?;
        let ip = if ip == "host-gateway" {
            host_gateway
                .ok_or_else(|| {
                    NetError::Invalid(format!(
                        "--add-host {e}: host-gateway needs a bridge network"
                    ))
                })?
                .to_string()
        } else {
            ip.parse::<std::net::IpAddr>()
                .map_err(|_| {
                    NetError::Invalid(format!(
                        "invalid --add-host {e:?}: {ip:?} is not an IP address"
                    ))
                })?
                .to_string()
        };
        if name.is_empty() {
            return Err(NetError::Invalid(format!(
                "invalid --add-host {e:?}: empty name"
            )));
        }
        let _ = writeln!(s, "{ip}\t{name}");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_forms() {
        let host =
            "nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions ndots:2\n";
        let r = resolv_conf(Some("10.213.7.1".parse().unwrap()), host, &[], &[], &[]);
        assert_eq!(
            r,
            "nameserver 10.213.7.1\nsearch corp.example\noptions ndots:2\n"
        );
        let r = resolv_conf(None, host, &[], &["a.b".into()], &[]);
        assert_eq!(r, "nameserver 10.1.1.1\nsearch a.b\noptions ndots:2\n");
        let r = resolv_conf(None, host, &["9.9.9.9".into()], &[], &["timeout:1".into()]);
        assert_eq!(
            r,
            "nameserver 9.9.9.9\nsearch corp.example\noptions timeout:1\n"
        );
    }

    #[test]
    fn hosts_file_forms() {
        let h = hosts_file(
            "web",
            &["10.0.0.2".parse().unwrap(), "fd00:1::2".parse().unwrap()],
            &["db:10.0.0.9".into(), "gw:host-gateway".into()],
            Some("10.0.0.1".parse().unwrap()),
        )
        .unwrap();
        assert!(
            h.contains("10.0.0.2\tweb\nfd00:1::2\tweb\n")
                && h.contains("10.0.0.9\tdb\n")
                && h.contains("10.0.0.1\tgw\n"),
            "{h}"
        );
        assert!(hosts_file("w", &[], &["db".into()], None).is_err());
        assert!(hosts_file("w", &[], &["db:nope".into()], None).is_err());
        assert!(hosts_file("w", &[], &["gw:host-gateway".into()], None).is_err());
    }
}
