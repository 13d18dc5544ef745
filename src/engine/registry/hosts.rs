//! Which registries are insecure and which mirrors stand in for Docker Hub, from daemon.json.
//!
//! - `insecure-registries` holds `host[:port]`s and CIDRs. As with dockerd, a CIDR matches a
//!   registry whose address, or any address its name resolves to, lies in it (so
//!   `10.0.0.0/8` covers `registry.corp:5000` when that name resolves to 10.1.2.3).
//!   Loopback registries (`localhost`, `127.0.0.0/8`, `::1`, named literally) are always
//!   insecure. Unlike dockerd, a *name* resolving to loopback is not insecure unless a CIDR
//!   says so: a name is resolved only when the user listed CIDRs.
//! - `registry-mirrors` are URLs (`https://mirror.example`, `http://127.0.0.1:5000`), tried
//!   in order for docker.io images only, then Docker Hub itself.

use ipnet::IpNet;

/// The `insecure-registries` of daemon.json, parsed.
#[derive(Debug, Clone, Default)]
pub struct Insecure {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl Insecure {
    /// Parse the entries: each is a CIDR or a `host[:port]` (a URL's scheme is dropped, as
    /// dockerd does).
    pub fn parse(entries: Option<&[String]>) -> Result<Self, String> {
        let mut out = Insecure::default();
        for e in entries.unwrap_or_default() {
            let e = e.trim();
            let bare = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"))
                .unwrap_or(e)
                .trim_end_matches('/');
            if bare.is_empty() {
                return Err(format!("insecure-registries: {e:?} is empty"));
            }
            if bare.contains('/') {
                let net = bare.parse::<IpNet>().map_err(|err| {
                    format!("insecure-registries: {e}: not a CIDR or host[:port] ({err})")
                })?;
                out.nets.push(net);
            } else {
                out.hosts.push(bare.to_string());
            }
        }
        Ok(out)
    }

    /// Whether `registry` (`host[:port]`) is insecure: loopback, listed, or (when CIDRs are
    /// listed) at or resolving to an address in one of them.
    pub async fn covers(&self, registry: &str) -> bool {
        if super::transport::is_loopback(registry) || self.hosts.iter().any(|h| h == registry) {
            return true;
        }
        if self.nets.is_empty() {
            return false;
        }
        let host = host_of(registry);
        let addrs: Vec<std::net::IpAddr> = match host.parse() {
            Ok(ip) => vec![ip],
            Err(_) => match tokio::net::lookup_host((host, 0)).await {
                Ok(it) => it.map(|a| a.ip()).collect(),
                Err(e) => {
                    tracing::debug!("insecure-registries: resolving {host}: {e}");
                    Vec::new()
                }
            },
        };
        self.matches(&addrs)
    }

    fn matches(&self, addrs: &[std::net::IpAddr]) -> bool {
        addrs
            .iter()
            .any(|a| self.nets.iter().any(|n| n.contains(a)))
    }
}

/// The host of `host[:port]` (brackets of an IPv6 address dropped).
fn host_of(registry: &str) -> &str {
    match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    }
}

/// One of `registry-mirrors`: where it is (`http[s]://host[:port]`, no trailing slash) and its
/// `host[:port]` (for certs.d and insecure-registries).
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    pub base: String,
    pub host: String,
}

/// Parse `registry-mirrors`: URLs with an `http` or `https` scheme and no path, as dockerd
/// wants them.
pub fn parse_mirrors(entries: Option<&[String]>) -> Result<Vec<Mirror>, String> {
    entries
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let url = e.trim().trim_end_matches('/');
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or_else(|| {
                    format!("registry-mirrors: {e}: a mirror is an http:// or https:// URL")
                })?;
            if host.is_empty() || host.contains(['/', '?', '#', '@']) {
                return Err(format!(
                    "registry-mirrors: {e}: a mirror is a scheme and host[:port], without a path"
                ));
            }
            Ok(Mirror {
                base: url.to_string(),
                host: host.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hosts_and_cidrs() {
        let i = Insecure::parse(Some(&[
            "reg.corp:5000".to_string(),
            "http://other.corp".to_string(),
            "10.0.0.0/8".to_string(),
            "fd00::/8".to_string(),
        ]))
        .unwrap();
        assert!(i.covers("reg.corp:5000").await);
        assert!(i.covers("other.corp").await);
        assert!(!i.covers("reg.corp:5001").await);
        assert!(i.covers("10.3.4.5:5000").await);
        assert!(i.covers("[fd00::1]:5000").await);
        assert!(!i.covers("11.0.0.1:5000").await);
        assert!(i.covers("127.0.0.1:5000").await);
        // A name resolving into a CIDR (localhost resolves without DNS).
        let lo = Insecure::parse(Some(&["127.0.0.0/8".to_string()])).unwrap();
        assert!(lo.matches(&["127.1.2.3".parse().unwrap()]));
        assert!(!Insecure::default().covers("registry.corp:5000").await);
        let e = Insecure::parse(Some(&["10.0.0.0/33".to_string()])).unwrap_err();
        assert!(e.contains("10.0.0.0/33") && e.contains("CIDR"), "{e}");
    }

    #[test]
    fn mirrors() {
        let m = parse_mirrors(Some(&[
            "https://mirror.example/".to_string(),
            "http://127.0.0.1:5000".to_string(),
        ]))
        .unwrap();
        assert_eq!(m[0].base, "https://mirror.example");
        assert_eq!(m[1].host, "127.0.0.1:5000");
        for bad in ["mirror.example", "https://mirror.example/v2", "ftp://x"] {
            let e = parse_mirrors(Some(&[bad.to_string()])).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
