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
    /// Pools for networks created without a subnet: `[{"base": "10.1.0.0/16", "size": 24}]`.
    pub default_address_pools: Option<Vec<PoolConfig>>,
    /// nftables table owned by this engine (default `wharf`).
    pub nft_table: Option<String>,
    /// Prefix of bridges of user-defined networks (default `wh-`).
    pub bridge_prefix: Option<String>,
    /// Prefix of host-side veth interfaces (default `wv`).
    pub veth_prefix: Option<String>,
    /// Upstream DNS servers for the embedded DNS (default: the host's resolv.conf).
    pub dns_upstreams: Option<Vec<String>>,
    /// Registries spoken to over plain HTTP (`host:port`); loopback ones always are.
    pub insecure_registries: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PoolConfig {
    pub base: String,
    pub size: u8,
}

impl DaemonConfig {
    pub fn load(paths: &Paths) -> Result<Self> {
        let path = paths.root.join("daemon.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DaemonConfig::default()),
            Err(e) => Err(Error::invalid(format!("{}: {e}", path.display()))),
        }
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
            cfg.pools = pools
                .iter()
                .map(|p| {
                    Ok(crate::net::Pool {
                        base: p.base.parse().map_err(|e| {
                            Error::invalid(format!("default-address-pools: {}: {e}", p.base))
                        })?,
                        size: p.size,
                    })
                })
                .collect::<Result<_>>()?;
        }
        if let Some(up) = &self.dns_upstreams {
            cfg.upstreams = Some(
                up.iter()
                    .map(|u| {
                        let with_port = if u.contains(':') {
                            u.clone()
                        } else {
                            format!("{u}:53")
                        };
                        with_port
                            .parse()
                            .map_err(|e| Error::invalid(format!("dns-upstreams: {u}: {e}")))
                    })
                    .collect::<Result<_>>()?,
            );
        }
        Ok(cfg)
    }
}
