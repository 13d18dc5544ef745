//! Port specs as Docker writes them: `[ip:][host[-end]:]container[-end][/proto]`, the host
//! address IPv4 or bracketed IPv6 (`[::1]:8080:80`), protocols tcp, udp and sctp. A host
//! range with a single container port asks for one free port of the range (Docker's
//! semantics); two ranges must have the same length.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use bollard_stubs::models::PortBinding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed port spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// `None`: every host address.
    pub host_ip: Option<IpAddr>,
    /// Inclusive range; `None`: an ephemeral port chosen at publish time.
    pub host_ports: Option<(u16, u16)>,
    /// Inclusive range.
    pub container_ports: (u16, u16),
    pub protocol: Protocol,
}

/// Why a spec is not a port spec; the message names the spec and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port spec {spec:?}: {reason}")]
pub struct PortSpecError {
    pub spec: String,
    pub reason: String,
}

const EXPECTED: &str =
    "expected [ip:][host-port:]container-port[/tcp|udp|sctp], e.g. 80, 8080:80, 127.0.0.1:8080:80, [::1]:8080:80, 8000-8010:80-90 or 53:53/udp";

fn range(s: &str, what: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| match p.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "{what} {s:?} is not a port 1-65535 or a range such as 8000-8010"
        )),
        Ok(n) => Ok(n),
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(s)?;
            (p, p)
        }
    };
    if b < a {
        return Err(format!("{what} range {s:?} ends before it starts"));
    }
    Ok((a, b))
}

/// Split `ip:host:container` (the ip possibly bracketed IPv6) into its three parts.
fn split_addr(body: &str) -> Result<(Option<&str>, Option<&str>, &str), String> {
    if let Some(rest) = body.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 address opened with [ is not closed".to_string())?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| EXPECTED.to_string())?;
        let (host, container) = after.split_once(':').ok_or_else(|| EXPECTED.to_string())?;
        return Ok((Some(ip), Some(host), container));
    }
    let parts: Vec<&str> = body.split(':').collect();
    match parts.as_slice() {
        [c] => Ok((None, None, c)),
        [h, c] => Ok((None, Some(h), c)),
        [ip, h, c] => Ok((Some(ip), Some(h), c)),
        _ => Err(EXPECTED.to_string()),
    }
}

/// Parse one spec.
pub fn parse(spec: &str) -> Result<PortSpec, PortSpecError> {
    parse_inner(spec.trim()).map_err(|reason| PortSpecError {
        spec: spec.to_string(),
        reason,
    })
}

fn parse_inner(s: &str) -> Result<PortSpec, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let (body, protocol) = match s.rsplit_once('/') {
        Some((b, p)) => (
            b,
            match p.to_ascii_lowercase().as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => return Err(format!("unknown protocol {p:?}: expected tcp, udp or sctp")),
            },
        ),
        None => (s, Protocol::Tcp),
    };
    let (ip, host, container) = split_addr(body)?;
    let host_ip = match ip.filter(|i| !i.is_empty()) {
        None => None,
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| format!("{ip:?} is not an IPv4 or IPv6 address"))?,
        ),
    };
    let container_ports = range(container, "container port")?;
    let host_ports = match host.filter(|h| !h.is_empty()) {
        None => None,
        Some(h) => Some(range(h, "host port")?),
    };
    if let Some((ha, hb)) = host_ports {
        let (ca, cb) = container_ports;
        if ca != cb && hb - ha != cb - ca {
            return Err(format!(
                "the host range {ha}-{hb} ({} ports) and the container range {ca}-{cb} ({} ports) differ in size",
                hb - ha + 1,
                cb - ca + 1
            ));
        }
    }
    Ok(PortSpec {
        host_ip: host_ip.filter(|ip| !ip.is_unspecified()),
        host_ports,
        container_ports,
        protocol,
    })
}

/// One container port of a spec and where it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host_ip: Option<IpAddr>,
    /// The host port, a range to choose from (`8000-8010`), or `None` for an ephemeral one.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl Published {
    /// The host port as Docker's API writes it: `8080`, `8000-8010`, or empty.
    pub fn host_port_text(&self) -> String {
        match self.host_ports {
            None => String::new(),
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}-{b}"),
        }
    }
}

impl PortSpec {
    /// One entry per container port, host ports paired with container ports in order.
    pub fn published(&self) -> Vec<Published> {
        let (c0, c1) = self.container_ports;
        (c0..=c1)
            .enumerate()
            .map(|(i, container_port)| Published {
                host_ip: self.host_ip,
                host_ports: self.host_ports.map(|(h0, h1)| {
                    if c0 == c1 {
                        (h0, h1)
                    } else {
                        (h0 + i as u16, h0 + i as u16)
                    }
                }),
                container_port,
                protocol: self.protocol,
            })
            .collect()
    }
}

/// Add a `-p` spec to Docker's `PortBindings` (keyed `port/proto`); returns the keys, which
/// are also the container's exposed ports.
pub fn add_bindings(
    spec: &str,
    bindings: &mut HashMap<String, Option<Vec<PortBinding>>>,
) -> Result<Vec<String>, PortSpecError> {
    let mut keys = Vec::new();
    for p in parse(spec)?.published() {
        let key = format!("{}/{}", p.container_port, p.protocol);
        bindings
            .entry(key.clone())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.map(|ip| ip.to_string()).unwrap_or_default()),
                host_port: Some(p.host_port_text()),
            });
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortSpec {
        parse(s).unwrap()
    }

    #[test]
    fn every_form_docker_accepts() {
        assert_eq!(p("80").container_ports, (80, 80));
        assert_eq!(p("80").host_ports, None);
        assert_eq!(p("8080:80/udp").protocol, Protocol::Udp);
        assert_eq!(p("8080:80").host_ports, Some((8080, 8080)));
        assert_eq!(
            p("127.0.0.1:8080:80").host_ip,
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(p("127.0.0.1::80").host_ports, None);
        assert_eq!(p("0.0.0.0:8080:80").host_ip, None);
        assert_eq!(p("[::1]:8080:80").host_ip, Some("::1".parse().unwrap()));
        assert_eq!(p("[::]:8080:80").host_ip, None);
        assert_eq!(p("132/sctp").protocol, Protocol::Sctp);
        assert_eq!(p("8000-8001:80-81").published().len(), 2);
        assert_eq!(p("3000-3002").published().len(), 3);
        let range_to_one = p("9000-9010:80").published();
        assert_eq!(range_to_one.len(), 1);
        assert_eq!(range_to_one[0].host_port_text(), "9000-9010");
        let pairs = p("8000-8001:80-81").published();
        assert_eq!(pairs[1].host_port_text(), "8001");
        assert_eq!(pairs[1].container_port, 81);
    }

    #[test]
    fn what_it_refuses_and_says_why() {
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert!(e("80/xyz").contains("unknown protocol \"xyz\""));
        assert!(e("8000-8002:80-81").contains("differ in size"));
        assert!(e("a:b").contains("container port \"b\""));
        assert!(e("0").contains("is not a port"));
        assert!(e("70000").contains("is not a port"));
        assert!(e("90-80").contains("ends before it starts"));
        assert!(e("1:2:3:4").contains("expected [ip:]"));
        assert!(e("[::1:80").contains("not closed"));
        assert!(e("nothost:8080:80").contains("not an IPv4 or IPv6 address"));
        assert!(e("").contains("empty"));
    }

    #[test]
    fn bindings_in_dockers_shape() {
        let mut b = HashMap::new();
        let keys = add_bindings("127.0.0.1:8080:80", &mut b).unwrap();
        add_bindings("8081:80", &mut b).unwrap();
        assert_eq!(keys, vec!["80/tcp".to_string()]);
        let list = b["80/tcp"].clone().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(list[1].host_ip.as_deref(), Some(""));
        assert_eq!(list[1].host_port.as_deref(), Some("8081"));
    }
}
