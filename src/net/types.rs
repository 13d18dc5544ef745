//! The records the networking layer hands out and takes back: what the engine stores (networks,
//! endpoints), what it asks for (creation requests, attachments), and how the manager is
//! configured. Plain data with serde, no behaviour, so that the engine's store and the API
//! depend on these and not on the manager.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::ipam::{self, Ipam, Ipam6, Pool, Pool6};
use super::ports::PortMapping;

/// The default network's name (Docker's `bridge`: no DNS on it).
pub const DEFAULT_NETWORK: &str = "bridge";

/// A network as stored by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// `bridge`, `macvlan` or `ipvlan`.
    pub driver: String,
    /// Linux bridge name (≤ 15 bytes); empty for macvlan and ipvlan networks.
    pub bridge: String,
    /// macvlan/ipvlan: the parent link the containers' links are created on (`-o parent=`, or
    /// the dummy link of a network without one).
    #[serde(default)]
    pub parent: Option<String>,
    /// Whether wharf created the parent (an 802.1q sub-interface or a dummy link) and removes it
    /// with the network; a parent the user had is never removed.
    #[serde(default)]
    pub parent_created: bool,
    pub ipam: Ipam,
    /// The IPv6 side of a dual-stack network (`--ipv6`, `enable_ipv6`); `None`: IPv4 only.
    #[serde(default)]
    pub ipam6: Option<Ipam6>,
    /// No outside access, no default route, no upstream DNS, no published ports.
    pub internal: bool,
    /// Embedded DNS on this network (user-defined networks).
    pub dns: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// RFC 3339 creation time (empty for networks recorded before it was kept).
    #[serde(default)]
    pub created: String,
}

impl Network {
    /// A bridge network (NAT, published ports, isolation rules, veths), as opposed to macvlan
    /// and ipvlan ones (a link on a parent, nothing on the host per container).
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }
    pub fn subnet(&self) -> Ipv4Net {
        self.ipam.subnet
    }
    pub fn gateway(&self) -> Ipv4Addr {
        self.ipam.gateway
    }
    /// Docker's `EnableIPv6`.
    pub fn enable_ipv6(&self) -> bool {
        self.ipam6.is_some()
    }
    pub fn subnet6(&self) -> Option<Ipv6Net> {
        self.ipam6.as_ref().map(|i| i.subnet)
    }
}

/// `network create` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreate {
    pub name: String,
    /// Generated when `None`.
    pub id: Option<String>,
    /// `bridge` (default).
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    /// Bridge name; default `<bridge_prefix><id>` cut to 15 bytes.
    pub bridge_name: Option<String>,
    pub mtu: Option<u32>,
    /// Embedded DNS; default on (off for the default `bridge` network).
    pub dns: Option<bool>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `AuxiliaryAddresses` (`--aux-address name=ip`): kept out of allocation (either family).
    pub aux_addresses: BTreeMap<String, String>,
    /// `--ipv6` / `EnableIPv6`: give the network an IPv6 subnet too (from `v6`, or the IPv6
    /// pools).
    pub enable_ipv6: bool,
    /// The IPv6 IPAM config (`--subnet fd00::/64` and its `--gateway`, `--ip-range`).
    pub v6: Option<SubnetRequest>,
}

/// One IPAM config entry of a creation request (Docker's `IPAM.Config[]`), as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetRequest {
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
}

impl SubnetRequest {
    /// Whether the entry is about IPv6 (its subnet, else its gateway or range, has a `:`).
    pub fn is_v6(&self) -> bool {
        [&self.subnet, &self.gateway, &self.ip_range]
            .into_iter()
            .flatten()
            .next()
            .is_some_and(|s| s.contains(':'))
    }
}

impl NetworkCreate {
    /// Take Docker's list of IPAM configs (`--subnet` given several times): at most one per
    /// family, the IPv4 one into `subnet`/`gateway`/`ip_range`, the IPv6 one into `v6`.
    pub fn set_ipam_configs(&mut self, configs: Vec<SubnetRequest>) -> Result<(), super::NetError> {
        for c in configs {
            if c.is_v6() {
                if self.v6.is_some() {
                    return Err(super::NetError::Invalid(
                        "more than one IPv6 subnet: give at most one IPv4 and one IPv6 --subnet"
                            .into(),
                    ));
                }
                self.v6 = Some(c);
            } else {
                if self.subnet.is_some() || self.gateway.is_some() || self.ip_range.is_some() {
                    return Err(super::NetError::Invalid(
                        "more than one IPv4 subnet: give at most one IPv4 and one IPv6 --subnet"
                            .into(),
                    ));
                }
                self.subnet = c.subnet;
                self.gateway = c.gateway;
                self.ip_range = c.ip_range;
            }
        }
        Ok(())
    }
}

/// A container to attach to a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub container_id: String,
    /// Resolvable name (without the leading `/`).
    pub container_name: String,
    /// `--network-alias`, compose service names, ...
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
    /// `--ip6` (on a network with IPv6 only).
    pub ip6: Option<Ipv6Addr>,
    /// Published ports (host_port 0: ephemeral). Forwarded to this network's address.
    pub ports: Vec<PortMapping>,
    /// Interface name inside the container; default the first free `ethN`.
    pub ifname: Option<String>,
    /// `--dns` servers for this container on networks with embedded DNS: its queries that are
    /// not about containers are forwarded there instead of the daemon's upstreams.
    pub dns_upstreams: Vec<SocketAddr>,
    /// `--mac-address`: the container's link gets this address instead of a random one.
    pub mac: Option<Mac>,
    /// Links on this network (alias, linked container's name): names only this container
    /// resolves through the embedded DNS.
    pub links: Vec<(String, String)>,
}

/// A link-layer (MAC) address.
pub type Mac = [u8; 6];

/// One container's attachment to one network, as set up: what `attach` returns and the engine
/// stores (and hands back to `restore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network_name: String,
    pub container_id: String,
    pub container_name: String,
    pub aliases: Vec<String>,
    pub netns: PathBuf,
    /// Inside the container.
    pub ifname: String,
    /// Host end of the veth pair (empty on macvlan and ipvlan networks).
    pub host_ifname: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// Resolved (no ephemeral 0 left).
    pub ports: Vec<PortMapping>,
    /// The nameserver for the container's resolv.conf when the network has embedded DNS (the
    /// gateway on bridge networks; 127.0.0.11 inside the container on macvlan/ipvlan ones).
    pub dns_server: Option<Ipv4Addr>,
    #[serde(default)]
    pub dns_upstreams: Vec<SocketAddr>,
    /// As [`Attachment::links`].
    #[serde(default)]
    pub links: Vec<(String, String)>,
    /// The IPv6 address on a dual-stack network.
    #[serde(default)]
    pub v6: Option<EndpointV6>,
}

/// An endpoint's IPv6 side (Docker's `GlobalIPv6Address`, `GlobalIPv6PrefixLen`, `IPv6Gateway`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointV6 {
    pub ip: Ipv6Addr,
    pub prefix_len: u8,
    pub gateway: Ipv6Addr,
}

impl Endpoint {
    /// The container's addresses on this network, IPv4 first.
    pub fn ips(&self) -> Vec<IpAddr> {
        let mut v = vec![IpAddr::V4(self.ip)];
        v.extend(self.v6.map(|s| IpAddr::V6(s.ip)));
        v
    }
}

/// What `restore` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Host links deleted (veths of dead containers, bridges of unknown networks).
    pub removed_links: Vec<String>,
    /// Endpoints dropped because their namespace is gone (container id, network name).
    pub dropped_endpoints: Vec<(String, String)>,
    /// Endpoints whose veth had vanished and was set up again.
    pub reattached: Vec<(String, String)>,
    /// Addresses released because no live endpoint held them.
    pub released_ips: Vec<IpAddr>,
    pub errors: Vec<String>,
}

/// Manager configuration. Tests use their own table name and prefixes to stay hermetic.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// nftables table (`ip` family) owned by this manager.
    pub table: String,
    /// Prefix of bridge names generated for user-defined networks (`wh-` + id).
    pub bridge_prefix: String,
    /// Bridge of the default network.
    pub default_bridge: String,
    /// Prefix of host-side veth names.
    pub veth_prefix: String,
    pub pools: Vec<Pool>,
    /// Where `--ipv6` networks without an IPv6 subnet take theirs (a ULA /48 as /64s).
    pub pools6: Vec<Pool6>,
    /// DNS port on each gateway.
    pub dns_port: u16,
    /// Upstream resolvers; default: the host's /etc/resolv.conf.
    pub upstreams: Option<Vec<SocketAddr>>,
    /// Set net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1 for IPv6 ones) when a non-internal network is created (like Docker).
    pub enable_ip_forward: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            table: "wharf".into(),
            bridge_prefix: "wh-".into(),
            default_bridge: "wharf0".into(),
            veth_prefix: "wv".into(),
            pools: ipam::default_pools(),
            pools6: ipam::default_pools6(
                std::fs::read_to_string("/etc/machine-id")
                    .unwrap_or_default()
                    .trim(),
            ),
            dns_port: 53,
            upstreams: None,
            enable_ip_forward: true,
        }
    }
}
