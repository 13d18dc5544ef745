//! `ports:`: the long syntax checked, the short syntax (Docker's one grammar,
//! [`crate::docker::port`]) expanded to one long entry per container port.

use crate::compose::error::{ComposeError, Result};
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{seq, to_int, to_string};
use super::Map;

/// Parse a port range `a` or `a-b`.
pub(super) fn port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => {
            let a: u16 = s.parse().ok()?;
            Some((a, a))
        }
    }
}

/// One mapping of a short port spec: host ip, published port or range, target, protocol.
pub type PortMapping = (Option<String>, Option<String>, u16, String);

/// Parse a short port spec (Docker's grammar, [`crate::docker::port`]) into long-syntax
/// mappings.
pub fn parse_port_spec(spec: &str) -> Result<Vec<PortMapping>, String> {
    let parsed = crate::docker::port::parse(spec).map_err(|_| {
        "a port such as 80, 8080:80, 127.0.0.1:8080:80, 8000-8010:80-90 or 53:53/udp".to_string()
    })?;
    Ok(parsed
        .published()
        .into_iter()
        .map(|p| {
            let published = Some(p.host_port_text()).filter(|h| !h.is_empty());
            let ip = p.host_ip.map(|ip| ip.to_string());
            (ip, published, p.container_port, p.protocol.to_string())
        })
        .collect())
}

pub(super) fn ports(n: &Node, p: &KeyPath) -> Result<Node> {
    let items = seq(n, p, "a list of ports")?;
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let ip = p.index(i);
        match &it.v {
            V::Map(m) => {
                let mut o = Map::new();
                if let Some(x) = m.get("name") {
                    o.insert(
                        "name".into(),
                        x.derive(V::Str(to_string(x, &ip.key("name"))?)),
                    );
                }
                let mode = match m.get("mode") {
                    Some(x) => to_string(x, &ip.key("mode"))?,
                    None => "ingress".into(),
                };
                o.insert("mode".into(), it.derive(V::Str(mode)));
                if let Some(x) = m.get("host_ip") {
                    o.insert(
                        "host_ip".into(),
                        x.derive(V::Str(to_string(x, &ip.key("host_ip"))?)),
                    );
                }
                let t = m.get("target").ok_or_else(|| {
                    ComposeError::invalid(it.pos.clone(), &ip, "missing required key \"target\"")
                })?;
                let tv = to_int(t, &ip.key("target"))?;
                if !(1..=65535).contains(&tv) {
                    return Err(ComposeError::value(
                        t.pos.clone(),
                        &ip.key("target"),
                        tv.to_string(),
                        "a port number between 1 and 65535",
                    ));
                }
                o.insert("target".into(), t.derive(V::Int(tv)));
                if let Some(x) = m.get("published") {
                    let s = to_string(x, &ip.key("published"))?;
                    if !s.is_empty() {
                        port_range(&s).ok_or_else(|| {
                            ComposeError::value(
                                x.pos.clone(),
                                &ip.key("published"),
                                s.clone(),
                                "a port or a port range",
                            )
                        })?;
                        o.insert("published".into(), x.derive(V::Str(s)));
                    }
                }
                let proto = match m.get("protocol") {
                    Some(x) => to_string(x, &ip.key("protocol"))?,
                    None => "tcp".into(),
                };
                o.insert("protocol".into(), it.derive(V::Str(proto)));
                if let Some(x) = m.get("app_protocol") {
                    o.insert(
                        "app_protocol".into(),
                        x.derive(V::Str(to_string(x, &ip.key("app_protocol"))?)),
                    );
                }
                out.push(it.derive(V::Map(o)));
            }
            _ => {
                let spec = to_string(it, &ip)?;
                let parsed = parse_port_spec(&spec)
                    .map_err(|e| ComposeError::value(it.pos.clone(), &ip, spec.clone(), e))?;
                for (host_ip, published, target, proto) in parsed {
                    if target == 0 {
                        return Err(ComposeError::value(
                            it.pos.clone(),
                            &ip,
                            spec.clone(),
                            "a port number between 1 and 65535",
                        ));
                    }
                    let mut o = Map::new();
                    o.insert("mode".into(), it.derive(V::Str("ingress".into())));
                    if let Some(h) = host_ip {
                        o.insert("host_ip".into(), it.derive(V::Str(h)));
                    }
                    o.insert("target".into(), it.derive(V::Int(target as i64)));
                    if let Some(pb) = published {
                        o.insert("published".into(), it.derive(V::Str(pb)));
                    }
                    o.insert("protocol".into(), it.derive(V::Str(proto)));
                    out.push(it.derive(V::Map(o)));
                }
            }
        }
    }
    Ok(n.derive(V::Seq(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        let f = |s: &str| parse_port_spec(s).unwrap();
        assert_eq!(f("80"), vec![(None, None, 80, "tcp".into())]);
        assert_eq!(
            f("8080:80/udp"),
            vec![(None, Some("8080".into()), 80, "udp".into())]
        );
        assert_eq!(
            f("127.0.0.1:8080:80"),
            vec![(
                Some("127.0.0.1".into()),
                Some("8080".into()),
                80,
                "tcp".into()
            )]
        );
        assert_eq!(
            f("127.0.0.1::80"),
            vec![(Some("127.0.0.1".into()), None, 80, "tcp".into())]
        );
        assert_eq!(
            f("[::1]:8080:80"),
            vec![(Some("::1".into()), Some("8080".into()), 80, "tcp".into())]
        );
        assert_eq!(f("8000-8001:80-81").len(), 2);
        assert_eq!(f("3000-3002").len(), 3);
        assert_eq!(
            f("9000-9010:80"),
            vec![(None, Some("9000-9010".into()), 80, "tcp".into())]
        );
        assert!(parse_port_spec("80/xyz").is_err());
        assert!(parse_port_spec("8000-8002:80-81").is_err());
        assert!(parse_port_spec("a:b").is_err());
    }
}
