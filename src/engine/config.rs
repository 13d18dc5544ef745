//! Daemon configuration from `<root>/daemon.json` (optional), in the spirit of Docker's: the
//! default bridge, address pools, and the names of what wharf creates on the host, so that
//! several engines (tests, CI) can share one machine without touching each other.

use serde::Deserialize;

use super::error::{Error, Result};
use super::paths::Paths;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DaemonConfig {
    /// Linux bridge of the default `bridge` network (default `wharf0`).
    pub bridge: Option<String>,
    /// Subnet of the default `bridge` network (Docker's `bip`, as a CIDR).
    pub bip: Option<String>,
    /// The default `bridge` network gets IPv6 too (from `fixed-cidr-v6` or the IPv6 pools).
    pub ipv6: Option<bool>,
    /// IPv6 subnet of the default `bridge` network (gives it IPv6 even without `ipv6`).
    pub fixed_cidr_v6: Option<String>,
    /// Pools for networks created without a subnet: `[{"base": "10.1.0.0/16", "size": 24}]`;
    /// IPv6 bases (`{"base": "fd00:1::/56", "size": 64}`) are the pools of `--ipv6` networks.
    pub default_address_pools: Option<Vec<PoolConfig>>,
    /// nftables table owned by this engine (default `wharf`).
    pub nft_table: Option<String>,
    /// Prefix of bridges of user-defined networks (default `wh-`).
    pub bridge_prefix: Option<String>,
    /// Prefix of host-side veth interfaces (default `wv`).
    pub veth_prefix: Option<String>,
    /// Upstream DNS servers for the embedded DNS (default: the host's resolv.conf).
    pub dns_upstreams: Option<Vec<String>>,
    /// Registries spoken to without TLS verification, then over plain HTTP: `host[:port]`s or
    /// CIDRs (`10.0.0.0/8`, matched against the addresses a name resolves to); loopback ones
    /// always are.
    pub insecure_registries: Option<Vec<String>>,
    /// Mirrors of Docker Hub (`https://mirror.example` or `http://host:port`), tried in order
    /// for docker.io images before Docker Hub itself.
    pub registry_mirrors: Option<Vec<String>>,
    /// Layers downloaded at once, over all pulls (default 3, as dockerd).
    pub max_concurrent_downloads: Option<usize>,
    /// Layers uploaded at once, over all pushes (default 5, as dockerd).
    pub max_concurrent_uploads: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PoolConfig {
    pub base: String,
    pub size: u8,
}

impl DaemonConfig {
    pub fn load(paths: &Paths) -> Result<Self> {
        let path = paths.root.join("daemon.json");
        let config: DaemonConfig = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DaemonConfig::default(),
            Err(e) => return Err(Error::invalid(format!("{}: {e}", path.display()))),
        };
        config
            .validate()
            .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// The registry keys checked once, so that a typo stops the daemon instead of a pull.
    fn validate(&self) -> std::result::Result<(), String> {
        for (key, n) in [
            ("max-concurrent-downloads", self.max_concurrent_downloads),
            ("max-concurrent-uploads", self.max_concurrent_uploads),
        ] {
            if n == Some(0) {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        crate::engine::registry::Insecure::parse(self.insecure_registries.as_deref())?;
        crate::engine::registry::parse_mirrors(self.registry_mirrors.as_deref())?;
        Ok(())
    }

    /// The networking layer's configuration.
    pub fn manager_config(&self) -> Result<crate::net::ManagerConfig> {
        let mut cfg = crate::net::ManagerConfig::default();
        if let Some(b) = &self.bridge {
            cfg.default_bridge = b.clone();
        }
        if let Some(t) = &self.nft_table {
            cfg.table = t.clone();
        }
        if let Some(p) = &self.bridge_prefix {
            cfg.bridge_prefix = p.clone();
        }
        if let Some(p) = &self.veth_prefix {
            cfg.veth_prefix = p.clone();
        }
        if let Some(pools) = &self.default_address_pools {
            // Like dockerd: the list replaces the defaults of each family it has pools of.
            let (v6, v4): (Vec<&PoolConfig>, Vec<&PoolConfig>) =
                pools.iter().partition(|p| p.base.contains(':'));
            if !v4.is_empty() {
                cfg.pools = parse_pools(&v4)?;
            }
            if !v6.is_empty() {
                cfg.pools6 = parse_pools(&v6)?;
            }
        }
        if let Some(up) = &self.dns_upstreams {
            cfg.upstreams = Some(
                up.iter()
                    .map(|u| {
                        // An address (IPv4 or IPv6) on port 53, or `ip:port` / `[ip6]:port`.
                        match u.parse::<std::net::IpAddr>() {
                            Ok(ip) => Ok(std::net::SocketAddr::new(ip, 53)),
                            Err(_) => u.parse().map_err(|e| {
                                Error::invalid(format!(
                                    "dns-upstreams: {u}: {e} (expected an IP address or ip:port)"
                                ))
                            }),
                        }
                    })
                    .collect::<Result<_>>()?,
            );
        }
        Ok(cfg)
    }

    /// The default `bridge` network's IPv6 config: `None` unless `ipv6` or `fixed-cidr-v6`
    /// is set; then its subnet request (empty: from the IPv6 pools).
    pub fn default_bridge_v6(&self) -> Option<crate::net::types::SubnetRequest> {
        (self.ipv6 == Some(true) || self.fixed_cidr_v6.is_some()).then(|| {
            crate::net::types::SubnetRequest {
                subnet: self.fixed_cidr_v6.clone(),
                ..Default::default()
            }
        })
    }
}

/// `default-address-pools` entries of one family.
fn parse_pools<N: crate::net::family::Family>(
    pools: &[&PoolConfig],
) -> Result<Vec<crate::net::ipam::PoolOf<N>>> {
    pools
        .iter()
        .map(|p| {
            let err = |e: String| Error::invalid(format!("default-address-pools: {}: {e}", p.base));
            let base =
                crate::net::ipam::parse_subnet_of::<N>(&p.base).map_err(|e| err(e.to_string()))?;
            crate::net::ipam::pool(base, p.size).map_err(|e| err(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> DaemonConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn ipv6_keys_and_pools_of_both_families() {
        let c = parse(
            r#"{"default-address-pools": [{"base": "10.9.0.0/16", "size": 24},
                {"base": "fd00:9::/48", "size": 64}], "dns-upstreams": ["fd00::53", "[fd00::54]:5353", "10.0.0.1"]}"#,
        );
        let m = c.manager_config().unwrap();
        assert_eq!(m.pools.len(), 1);
        assert_eq!(m.pools[0].base.to_string(), "10.9.0.0/16");
        assert_eq!(m.pools6[0].base.to_string(), "fd00:9::/48");
        let up: Vec<String> = m.upstreams.unwrap().iter().map(|u| u.to_string()).collect();
        assert_eq!(up, ["[fd00::53]:53", "[fd00::54]:5353", "10.0.0.1:53"]);
        assert!(c.default_bridge_v6().is_none());
        // IPv4 pools only: the IPv6 defaults stay.
        let m = parse(r#"{"default-address-pools": [{"base": "10.9.0.0/16", "size": 24}]}"#)
            .manager_config()
            .unwrap();
        assert_eq!(m.pools6, crate::net::ManagerConfig::default().pools6);
        let bad = parse(r#"{"default-address-pools": [{"base": "fd00:9::/48", "size": 40}]}"#);
        let e = bad.manager_config().unwrap_err().to_string();
        assert!(
            e.contains("fd00:9::/48") && e.contains("/48 and /126"),
            "{e}"
        );
        // The default bridge: IPv4 unless ipv6 or fixed-cidr-v6.
        let v6 = parse(r#"{"ipv6": true}"#).default_bridge_v6().unwrap();
        assert_eq!(v6.subnet, None);
        let fixed = parse(r#"{"fixed-cidr-v6": "fd00:17::/64"}"#).default_bridge_v6();
        assert_eq!(fixed.unwrap().subnet.as_deref(), Some("fd00:17::/64"));
        assert!(parse(r#"{"ipv6": false}"#).default_bridge_v6().is_none());
    }
}
