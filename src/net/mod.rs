//! Container networking: bridge networks, IPAM, NAT and published ports, isolation, embedded DNS.
//!
//! # The seam
//!
//! The engine owns one [`NetworkManager`] (async, tokio) and persists what it returns:
//! [`Network`] records (config + IPAM state, serde) and, per container and network, an
//! [`Endpoint`] (serde). Every container with a bridge network gets a persistent network
//! namespace file (see [`netns`]), e.g. `<run-root>/netns/<container-id>`, which the runtime joins
//! through `NetworkNamespace::Path`:
//!
//! ```text
//! create:  netns::create(path)  →  manager.attach(path, "backend", Attachment{..})  → Endpoint
//!          (write resolv.conf/hosts with resolv_conf()/hosts_file(), start the container)
//! connect: manager.attach(...) on the running container's namespace; disconnect: detach(...)
//! stop:    manager.unpublish(id) (ports off while stopped; publish() again at start) — or
//!          detach_all(id) + netns::delete(path) if addresses should not be kept
//! remove:  manager.detach_all(id); netns::delete(path)
//! daemon start: manager.restore(networks, endpoints of live containers) → RepairReport
//! ```
//!
//! After each call that changes state, store `manager.network(id)` (its IPAM allocations) and the
//! returned endpoints. All `NetworkManager` methods are async and serialised by one lock;
//! [`netns`] functions are synchronous (and short), [`ipam`], [`ports`] parsing and
//! [`firewall::render`] are pure.

pub mod bridge;
pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod netns;
pub mod ports;
pub mod reaper;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub use bridge::Netlink;
pub use dns::DnsServer;
pub use ipam::{Ipam, Pool};
pub use ports::{PortMapping, Proto};

/// Errors of the networking layer: one line each. The variant tells the API status
/// (400 / 404 / 409 / 409 / 507-ish / 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InUse(String),
    #[error("{0}")]
    Exhausted(String),
    #[error("{0}")]
    System(String),
}

/// The default network's name (Docker's `bridge`: no DNS on it).
pub const DEFAULT_NETWORK: &str = "bridge";

/// A network as stored by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// Always `bridge` for now.
    pub driver: String,
    /// Linux bridge name (≤ 15 bytes).
    pub bridge: String,
    pub ipam: Ipam,
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
    pub fn subnet(&self) -> Ipv4Net {
        self.ipam.subnet
    }
    pub fn gateway(&self) -> Ipv4Addr {
        self.ipam.gateway
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
    /// `AuxiliaryAddresses` (`--aux-address name=ip`): kept out of allocation.
    pub aux_addresses: BTreeMap<String, String>,
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
    /// Published ports (host_port 0: ephemeral). Forwarded to this network's address.
    pub ports: Vec<PortMapping>,
    /// Interface name inside the container; default the first free `ethN`.
    pub ifname: Option<String>,
    /// `--dns` servers for this container on networks with embedded DNS: its queries that are
    /// not about containers are forwarded there instead of the daemon's upstreams.
    pub dns_upstreams: Vec<SocketAddr>,
}

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
    /// Host end of the veth pair.
    pub host_ifname: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// Resolved (no ephemeral 0 left).
    pub ports: Vec<PortMapping>,
    /// The nameserver for the container's resolv.conf when the network has embedded DNS.
    pub dns_server: Option<Ipv4Addr>,
    #[serde(default)]
    pub dns_upstreams: Vec<SocketAddr>,
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
    pub released_ips: Vec<Ipv4Addr>,
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
    /// DNS port on each gateway.
    pub dns_port: u16,
    /// Upstream resolvers; default: the host's /etc/resolv.conf.
    pub upstreams: Option<Vec<SocketAddr>>,
    /// Set net.ipv4.ip_forward=1 when a non-internal network is created (like Docker).
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
            dns_port: 53,
            upstreams: None,
            enable_ip_forward: true,
        }
    }
}

#[derive(Default)]
struct State {
    networks: BTreeMap<String, Network>,
    /// (container id, network id) → endpoint.
    endpoints: BTreeMap<(String, String), Endpoint>,
}

impl State {
    fn find(&self, name_or_id: &str) -> Option<&Network> {
        if let Some(n) = self.networks.get(name_or_id) {
            return Some(n);
        }
        if let Some(n) = self.networks.values().find(|n| n.name == name_or_id) {
            return Some(n);
        }
        let mut it = self
            .networks
            .values()
            .filter(|n| n.id.starts_with(name_or_id));
        match (it.next(), it.next()) {
            (Some(n), None) if name_or_id.len() >= 3 => Some(n),
            _ => None,
        }
    }

    fn fw(&self) -> (Vec<firewall::FwNetwork>, Vec<firewall::FwForward>) {
        let nets = self
            .networks
            .values()
            .map(|n| firewall::FwNetwork {
                bridge: n.bridge.clone(),
                subnet: n.subnet(),
                internal: n.internal,
            })
            .collect();
        let mut fwd = Vec::new();
        for ep in self.endpoints.values() {
            if self
                .networks
                .get(&ep.network_id)
                .map(|n| n.internal)
                .unwrap_or(true)
            {
                continue;
            }
            fwd.extend(firewall::forwards_for(ep.ip, &ep.ports));
        }
        (nets, fwd)
    }

    fn published(&self) -> impl Iterator<Item = (&Endpoint, &PortMapping)> {
        self.endpoints
            .values()
            .flat_map(|ep| ep.ports.iter().map(move |p| (ep, p)))
    }
}

/// The bridge driver plus IPAM, firewall and DNS, behind one lock. See the module docs.
pub struct NetworkManager {
    cfg: ManagerConfig,
    state: tokio::sync::Mutex<State>,
    dns: DnsServer,
    nl: Netlink,
    /// Deletes detached host veths in the background (see [`NetworkManager::detach`]).
    reaper: reaper::Reaper,
}

fn join_errors(errs: Vec<String>) -> Result<(), NetError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(NetError::System(errs.join("; ")))
    }
}

/// dockerd takes any network name that is not empty (`test 01` too); control characters
/// and `/` (which would make API paths ambiguous) are refused.
fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && !name.chars().any(|c| c.is_control() || c == '/')
}

fn random_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// FNV-1a, for short deterministic interface names.
fn fnv(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl NetworkManager {
    /// A manager with no networks. Needs a tokio runtime; touches nothing on the host until
    /// `restore` or `create_network`.
    pub fn new(cfg: ManagerConfig) -> Result<Self, NetError> {
        let upstreams = cfg.upstreams.clone().unwrap_or_else(dns::host_upstreams);
        Ok(NetworkManager {
            dns: DnsServer::new(upstreams),
            nl: Netlink::connect()?,
            state: tokio::sync::Mutex::new(State::default()),
            reaper: reaper::Reaper::new(),
            cfg,
        })
    }

    pub fn config(&self) -> &ManagerConfig {
        &self.cfg
    }

    /// The embedded DNS server (e.g. to change upstreams).
    pub fn dns(&self) -> &DnsServer {
        &self.dns
    }

    /// A network by id, name or unique id prefix.
    pub async fn network(&self, name_or_id: &str) -> Option<Network> {
        self.state.lock().await.find(name_or_id).cloned()
    }

    pub async fn networks(&self) -> Vec<Network> {
        self.state.lock().await.networks.values().cloned().collect()
    }

    /// Endpoints, all or of one container.
    pub async fn endpoints(&self, container_id: Option<&str>) -> Vec<Endpoint> {
        let st = self.state.lock().await;
        st.endpoints
            .values()
            .filter(|e| container_id.is_none_or(|c| e.container_id == c))
            .cloned()
            .collect()
    }

    /// Endpoints attached to a network.
    pub async fn network_endpoints(&self, name_or_id: &str) -> Vec<Endpoint> {
        let st = self.state.lock().await;
        let Some(id) = st.find(name_or_id).map(|n| n.id.clone()) else {
            return Vec::new();
        };
        st.endpoints
            .values()
            .filter(|e| e.network_id == id)
            .cloned()
            .collect()
    }

    /// Wait for the background deletions of detached veths; reports their errors.
    pub async fn settle(&self) -> Result<(), NetError> {
        self.reaper.settle().await
    }

    async fn apply_firewall(&self, st: &State) -> Result<(), NetError> {
        if st.networks.is_empty() && st.endpoints.is_empty() {
            return firewall::apply(&firewall::render_delete(&self.cfg.table)).await;
        }
        let (nets, fwd) = st.fw();
        match firewall::apply(&firewall::render_update(&self.cfg.table, &nets, &fwd)).await {
            Ok(()) => Ok(()),
            // A table of another layout (an older wharf): replace it whole.
            Err(_) => firewall::apply(&firewall::render(&self.cfg.table, &nets, &fwd)).await,
        }
    }

    /// Validate a creation request and compute the network (subnet chosen, nothing touched).
    async fn plan_network(&self, st: &State, req: &NetworkCreate) -> Result<Network, NetError> {
        if !valid_name(&req.name) {
            return Err(NetError::Invalid(format!(
                "invalid network name {:?}: it must not be empty nor contain / or control characters",
                req.name
            )));
        }
        if matches!(req.name.as_str(), "host" | "none") {
            return Err(NetError::Invalid(format!(
                "network name {:?} is reserved",
                req.name
            )));
        }
        if st.find(&req.name).is_some_and(|n| n.name == req.name) {
            return Err(NetError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let driver = req.driver.clone().unwrap_or_else(|| "bridge".into());
        if driver != "bridge" {
            return Err(NetError::Invalid(format!(
                "network driver {driver:?} is not supported (only bridge)"
            )));
        }
        let id = match &req.id {
            Some(id) => id.clone(),
            None => random_id(),
        };
        if st.networks.contains_key(&id) {
            return Err(NetError::Conflict(format!(
                "network id {id} already exists"
            )));
        }
        let bridge = match &req.bridge_name {
            Some(b) => b.clone(),
            None if req.name == DEFAULT_NETWORK => self.cfg.default_bridge.clone(),
            None => {
                let mut b = format!("{}{}", self.cfg.bridge_prefix, id);
                b.truncate(15);
                b
            }
        };
        if !bridge::valid_ifname(&bridge) {
            return Err(NetError::Invalid(format!(
                "invalid bridge name {bridge:?}: at most 15 of [a-zA-Z0-9_.-]"
            )));
        }
        if let Some(other) = st.networks.values().find(|n| n.bridge == bridge) {
            return Err(NetError::Conflict(format!(
                "bridge {bridge} is already used by network {}",
                other.name
            )));
        }
        if self.nl.link(&bridge).await?.is_some() {
            return Err(NetError::Conflict(format!(
                "a network interface named {bridge} already exists on the host"
            )));
        }
        let gateway = match &req.gateway {
            Some(g) => Some(g.parse::<Ipv4Addr>().map_err(|_| {
                NetError::Invalid(format!("invalid gateway {g:?}: expected an IPv4 address"))
            })?),
            None => None,
        };
        let ip_range = match &req.ip_range {
            Some(r) => Some(
                ipam::parse_subnet(r).map_err(|e| NetError::Invalid(format!("--ip-range: {e}")))?,
            ),
            None => None,
        };
        let subnet = match &req.subnet {
            Some(s) => {
                let s = ipam::parse_subnet(s)?;
                if let Some(o) = st
                    .networks
                    .values()
                    .find(|n| ipam::overlaps(&n.subnet(), &s))
                {
                    return Err(NetError::Conflict(format!(
                        "subnet {s} overlaps the subnet {} of network {}",
                        o.subnet(),
                        o.name
                    )));
                }
                s
            }
            None => {
                if gateway.is_some() || ip_range.is_some() {
                    return Err(NetError::Invalid(
                        "--gateway and --ip-range need --subnet".into(),
                    ));
                }
                let mut used: Vec<Ipv4Net> = st.networks.values().map(|n| n.subnet()).collect();
                used.extend(self.nl.routed_subnets().await?);
                ipam::pick_subnet(&self.cfg.pools, &used).ok_or_else(|| {
                    NetError::Exhausted(
                        "all predefined address pools have been fully subnetted".into(),
                    )
                })?
            }
        };
        let mut ipam = Ipam::new(subnet, gateway, ip_range)?;
        for (name, ip) in &req.aux_addresses {
            let addr = ip.parse().map_err(|_| {
                NetError::Invalid(format!(
                    "invalid auxiliary address {name}={ip}: expected an IPv4 address"
                ))
            })?;
            ipam.reserve_aux(name, addr)?;
        }
        Ok(Network {
            id,
            name: req.name.clone(),
            driver,
            bridge,
            ipam,
            internal: req.internal,
            dns: req.dns.unwrap_or(req.name != DEFAULT_NETWORK),
            mtu: req.mtu,
            labels: req.labels.clone(),
            options: req.options.clone(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        })
    }

    /// Create a network: bridge with gateway address, firewall rules, DNS listener. All or
    /// nothing.
    pub async fn create_network(&self, req: NetworkCreate) -> Result<Network, NetError> {
        let mut st = self.state.lock().await;
        let net = self.plan_network(&st, &req).await?;
        if let Err(e) = self.bring_up_network(&mut st, &net).await {
            let mut errs = Vec::new();
            self.tear_down_network(&mut st, &net, &mut errs).await;
            return Err(e);
        }
        Ok(net)
    }

    async fn bring_up_network(&self, st: &mut State, net: &Network) -> Result<(), NetError> {
        bridge::ensure_bridge(
            &self.nl,
            &bridge::BridgeSpec {
                name: &net.bridge,
                gateway: net.gateway(),
                prefix: net.subnet().prefix_len(),
                mtu: net.mtu,
            },
        )
        .await?;
        if !net.internal && self.cfg.enable_ip_forward {
            bridge::write_sysctl("net/ipv4/ip_forward", "1")?;
        }
        st.networks.insert(net.id.clone(), net.clone());
        self.apply_firewall(st).await?;
        if net.dns {
            let addr = SocketAddr::new(net.gateway().into(), self.cfg.dns_port);
            self.dns
                .listen(&net.id, addr, net.internal)
                .await
                .map_err(|e| {
                    NetError::System(format!(
                        "starting DNS for network {} on {addr}: {e}",
                        net.name
                    ))
                })?;
        }
        Ok(())
    }

    async fn tear_down_network(&self, st: &mut State, net: &Network, errs: &mut Vec<String>) {
        self.dns.unlisten(&net.id).await;
        self.dns.remove_network(&net.id);
        if let Err(e) = self.nl.delete_link(&net.bridge).await {
            errs.push(format!("deleting bridge {}: {e}", net.bridge));
        }
        st.networks.remove(&net.id);
        if let Err(e) = self.apply_firewall(st).await {
            errs.push(format!("updating firewall: {e}"));
        }
    }

    /// Create the default `bridge` network if it does not exist.
    pub async fn ensure_default_network(&self) -> Result<Network, NetError> {
        if let Some(n) = self.network(DEFAULT_NETWORK).await {
            return Ok(n);
        }
        self.create_network(NetworkCreate {
            name: DEFAULT_NETWORK.into(),
            ..Default::default()
        })
        .await
    }

    /// Remove a network. Fails, naming them, while containers are attached. Teardown goes on
    /// through errors and reports them all.
    pub async fn remove_network(&self, name_or_id: &str) -> Result<(), NetError> {
        let mut st = self.state.lock().await;
        let net = st
            .find(name_or_id)
            .cloned()
            .ok_or_else(|| NetError::NotFound(format!("network {name_or_id} not found")))?;
        let users: Vec<String> = st
            .endpoints
            .values()
            .filter(|e| e.network_id == net.id)
            .map(|e| e.container_name.clone())
            .collect();
        if !users.is_empty() {
            return Err(NetError::InUse(format!(
                "network {} has active endpoints: {}",
                net.name,
                users.join(", ")
            )));
        }
        let mut errs = Vec::new();
        if let Err(e) = self.settle().await {
            errs.push(e.to_string());
        }
        self.tear_down_network(&mut st, &net, &mut errs).await;
        join_errors(errs)
    }

    fn host_ifname(&self, container_id: &str, network_id: &str) -> String {
        let mut n = format!(
            "{}{:08x}",
            self.cfg.veth_prefix,
            fnv(&format!("{container_id}/{network_id}"))
        );
        n.truncate(15);
        n
    }

    /// Check and resolve published ports for `container_id` (ephemeral ones get a free port).
    fn resolve_ports(
        &self,
        st: &State,
        container_id: &str,
        wanted: &[PortMapping],
    ) -> Result<Vec<PortMapping>, NetError> {
        let mut out: Vec<PortMapping> = Vec::new();
        let others: Vec<(&Endpoint, &PortMapping)> = st
            .published()
            .filter(|(e, _)| e.container_id != container_id)
            .collect();
        let taken = |m: &PortMapping, out: &[PortMapping]| -> Option<String> {
            if let Some((e, _)) = others.iter().find(|(_, p)| firewall::collides(p, m)) {
                return Some(format!("container {}", e.container_name));
            }
            if out.iter().any(|p| firewall::collides(p, m)) {
                return Some("another mapping of the same container".into());
            }
            None
        };
        for m in wanted {
            if m.container_port == 0 {
                return Err(NetError::Invalid(format!(
                    "invalid container port 0 in {m}"
                )));
            }
            if m.host_port != 0 {
                if let Some(who) = taken(m, &out) {
                    return Err(NetError::Conflict(format!(
                        "port {}/{} on {} is already published by {who}",
                        m.host_port, m.proto, m.host_ip
                    )));
                }
                ports::check_port_free(m.proto, m.host_ip, m.host_port)?;
                out.push(*m);
                continue;
            }
            let (lo, hi) = ports::ephemeral_range();
            let span = (hi - lo) as u32 + 1;
            let start = rand::random::<u32>() % span;
            let mut found = None;
            for i in 0..span {
                let port = lo + ((start + i) % span) as u16;
                let cand = PortMapping {
                    host_port: port,
                    ..*m
                };
                if taken(&cand, &out).is_none()
                    && ports::check_port_free(m.proto, m.host_ip, port).is_ok()
                {
                    found = Some(cand);
                    break;
                }
            }
            out.push(found.ok_or_else(|| {
                NetError::Exhausted(format!(
                    "no free host port for {}/{}",
                    m.container_port, m.proto
                ))
            })?);
        }
        Ok(out)
    }

    /// Attach the namespace at `netns` to a network: address from IPAM, veth pair into the
    /// bridge, default route (not on internal networks), DNS records, published ports. All or
    /// nothing. Returns the endpoint to store.
    pub async fn attach(
        &self,
        netns: &Path,
        network: &str,
        att: Attachment,
    ) -> Result<Endpoint, NetError> {
        let mut st = self.state.lock().await;
        let net = st
            .find(network)
            .cloned()
            .ok_or_else(|| NetError::NotFound(format!("network {network} not found")))?;
        if att.container_id.is_empty() {
            return Err(NetError::Invalid("attach: empty container id".into()));
        }
        let key = (att.container_id.clone(), net.id.clone());
        if st.endpoints.contains_key(&key) {
            return Err(NetError::Conflict(format!(
                "container {} is already attached to network {}",
                att.container_name, net.name
            )));
        }
        if !netns::is_netns(netns) {
            return Err(NetError::NotFound(format!(
                "{} is not a network namespace",
                netns.display()
            )));
        }
        let ports = if net.internal {
            Vec::new()
        } else {
            self.resolve_ports(&st, &att.container_id, &att.ports)?
        };
        if let Some(i) = att.ifname.as_ref().filter(|i| !bridge::valid_ifname(i)) {
            return Err(NetError::Invalid(format!("invalid interface name {i:?}")));
        }
        let inside = Netlink::connect_in(netns).await?;
        let ifname = match &att.ifname {
            Some(i) => i.clone(),
            None => bridge::next_ifname(&inside).await?,
        };
        let mut ipam = net.ipam.clone();
        let ip = ipam.allocate(&att.container_id, att.ip)?;
        let host_ifname = self.host_ifname(&att.container_id, &net.id);
        self.reaper.settle_link(&host_ifname).await;
        let mac = bridge::attach_veth(
            &self.nl,
            &inside,
            &bridge::VethSpec {
                host_ifname: &host_ifname,
                bridge: &net.bridge,
                netns,
                ifname: &ifname,
                ip,
                prefix: net.subnet().prefix_len(),
                default_gateway: (!net.internal).then_some(net.gateway()),
                mtu: net.mtu,
            },
        )
        .await?;
        let ep = Endpoint {
            network_id: net.id.clone(),
            network_name: net.name.clone(),
            container_id: att.container_id.clone(),
            container_name: att.container_name.clone(),
            aliases: att.aliases.clone(),
            netns: netns.to_path_buf(),
            ifname,
            host_ifname: host_ifname.clone(),
            ip,
            prefix_len: net.subnet().prefix_len(),
            gateway: net.gateway(),
            mac,
            ports,
            dns_server: net.dns.then_some(net.gateway()),
            dns_upstreams: att.dns_upstreams.clone(),
        };
        if let Some(n) = st.networks.get_mut(&net.id) {
            n.ipam = ipam;
        }
        st.endpoints.insert(key.clone(), ep.clone());
        if !ep.ports.is_empty() {
            if let Err(e) = self.apply_firewall(&st).await {
                st.endpoints.remove(&key);
                if let Some(n) = st.networks.get_mut(&net.id) {
                    n.ipam.release(ip);
                }
                let _ = self.nl.delete_link(&host_ifname).await;
                let _ = self.apply_firewall(&st).await;
                return Err(e);
            }
        }
        if net.dns {
            self.dns_add(&ep);
        }
        Ok(ep)
    }

    fn dns_add(&self, ep: &Endpoint) {
        let mut names = vec![ep.container_name.clone()];
        names.extend(ep.aliases.iter().cloned());
        if ep.container_id.len() >= 12 {
            names.push(ep.container_id[..12].to_string());
        }
        self.dns.set_container_with_upstreams(
            &ep.network_id,
            &ep.container_id,
            ep.ip,
            &names,
            &ep.dns_upstreams,
        );
    }

    /// Change the DNS names of an attached container (e.g. after a rename).
    pub async fn set_names(
        &self,
        container_id: &str,
        network: &str,
        name: &str,
        aliases: &[String],
    ) -> Result<(), NetError> {
        let mut st = self.state.lock().await;
        let nid = st
            .find(network)
            .map(|n| n.id.clone())
            .ok_or_else(|| NetError::NotFound(format!("network {network} not found")))?;
        let dns_on = st.networks.get(&nid).is_some_and(|n| n.dns);
        let ep = st
            .endpoints
            .get_mut(&(container_id.to_string(), nid))
            .ok_or_else(|| {
                NetError::NotFound(format!(
                    "container {container_id} is not attached to network {network}"
                ))
            })?;
        ep.container_name = name.to_string();
        ep.aliases = aliases.to_vec();
        let ep = ep.clone();
        if dns_on {
            self.dns_add(&ep);
        }
        Ok(())
    }

    /// Detach a container from a network: ports, DNS records, address, veth. Goes on through
    /// errors and reports them all. The veth pair is deleted in the background, in batches (see
    /// [`reaper`]). [`settle`](Self::settle) waits for (and reports) pending deletions; `remove_network`, `restore`, `shutdown` and a re-attach of the same pair do
    /// so themselves.
    pub async fn detach(&self, container_id: &str, network: &str) -> Result<(), NetError> {
        let mut st = self.state.lock().await;
        let nid = st
            .find(network)
            .map(|n| n.id.clone())
            .ok_or_else(|| NetError::NotFound(format!("network {network} not found")))?;
        let mut errs = Vec::new();
        self.detach_locked(&mut st, container_id, &nid, &mut errs)
            .await?;
        join_errors(errs)
    }

    async fn detach_locked(
        &self,
        st: &mut State,
        container_id: &str,
        nid: &str,
        errs: &mut Vec<String>,
    ) -> Result<(), NetError> {
        let ep = st
            .endpoints
            .remove(&(container_id.to_string(), nid.to_string()))
            .ok_or_else(|| {
                NetError::NotFound(format!(
                    "container {container_id} is not attached to network {nid}"
                ))
            })?;
        self.dns.remove_container(nid, container_id);
        if !ep.ports.is_empty() {
            if let Err(e) = self.apply_firewall(st).await {
                errs.push(format!("removing published ports: {e}"));
            }
        }
        // The kernel's veth deletion waits for RCU grace periods, so it runs in the background
        // (settle() waits for it). The link is not set down first to cut traffic at once: that
        // would cost the next netlink call as much again (deferred linkwatch work). The DNS
        // records and ports are gone already, and IPAM does not hand the address out at once.
        self.reaper.delete(&ep.host_ifname);
        if let Some(n) = st.networks.get_mut(nid) {
            n.ipam.release(ep.ip);
        }
        Ok(())
    }

    /// Detach a container from every network (container removal).
    pub async fn detach_all(&self, container_id: &str) -> Result<(), NetError> {
        let mut st = self.state.lock().await;
        let nids: Vec<String> = st
            .endpoints
            .keys()
            .filter(|(c, _)| c == container_id)
            .map(|(_, n)| n.clone())
            .collect();
        let mut errs = Vec::new();
        for nid in nids {
            if let Err(e) = self
                .detach_locked(&mut st, container_id, &nid, &mut errs)
                .await
            {
                errs.push(e.to_string());
            }
        }
        join_errors(errs)
    }

    /// Publish ports of an attached container (replacing its current ones on that network).
    /// Returns the resolved mappings.
    pub async fn publish(
        &self,
        container_id: &str,
        network: &str,
        wanted: &[PortMapping],
    ) -> Result<Vec<PortMapping>, NetError> {
        let mut st = self.state.lock().await;
        let net = st
            .find(network)
            .cloned()
            .ok_or_else(|| NetError::NotFound(format!("network {network} not found")))?;
        if net.internal {
            return Ok(Vec::new());
        }
        let key = (container_id.to_string(), net.id.clone());
        if !st.endpoints.contains_key(&key) {
            return Err(NetError::NotFound(format!(
                "container {container_id} is not attached to network {}",
                net.name
            )));
        }
        // Its own current ports do not conflict with the new ones.
        let old = std::mem::take(&mut st.endpoints.get_mut(&key).expect("checked").ports);
        let resolved = match self.resolve_ports(&st, container_id, wanted) {
            Ok(r) => r,
            Err(e) => {
                st.endpoints.get_mut(&key).expect("checked").ports = old;
                return Err(e);
            }
        };
        st.endpoints.get_mut(&key).expect("checked").ports = resolved.clone();
        if let Err(e) = self.apply_firewall(&st).await {
            st.endpoints.get_mut(&key).expect("checked").ports = old;
            let _ = self.apply_firewall(&st).await;
            return Err(e);
        }
        Ok(resolved)
    }

    /// Remove every published port of a container (it stopped). Returns what was published.
    pub async fn unpublish(&self, container_id: &str) -> Result<Vec<PortMapping>, NetError> {
        let mut st = self.state.lock().await;
        let mut removed = Vec::new();
        for ((c, _), ep) in st.endpoints.iter_mut() {
            if c == container_id {
                removed.append(&mut ep.ports);
            }
        }
        if !removed.is_empty() {
            self.apply_firewall(&st).await?;
        }
        Ok(removed)
    }

    /// Published ports of a container (`wharf port`).
    pub async fn ports(&self, container_id: &str) -> Vec<PortMapping> {
        let st = self.state.lock().await;
        st.endpoints
            .values()
            .filter(|e| e.container_id == container_id)
            .flat_map(|e| e.ports.clone())
            .collect()
    }

    /// Daemon start: adopt the stored networks and the endpoints of live containers, and repair
    /// the host: bridges re-created if missing, veths of dead containers and bridges of unknown
    /// networks (with our prefix) deleted, IPAM allocations reconciled with the endpoints, the
    /// firewall table re-rendered, DNS listeners and records restored. Keeps going through
    /// errors; the report lists them. Store the networks and endpoints again afterwards.
    pub async fn restore(&self, networks: Vec<Network>, endpoints: Vec<Endpoint>) -> RepairReport {
        let mut st = self.state.lock().await;
        let mut rep = RepairReport::default();
        let _ = self.settle().await;
        self.dns.shutdown().await;
        st.networks = networks.into_iter().map(|n| (n.id.clone(), n)).collect();
        st.endpoints.clear();
        for mut ep in endpoints {
            if !st.networks.contains_key(&ep.network_id) {
                rep.dropped_endpoints
                    .push((ep.container_id.clone(), ep.network_name.clone()));
                continue;
            }
            if !netns::is_netns(&ep.netns) {
                rep.dropped_endpoints
                    .push((ep.container_id.clone(), ep.network_name.clone()));
                continue;
            }
            ep.host_ifname = self.host_ifname(&ep.container_id, &ep.network_id);
            st.endpoints
                .insert((ep.container_id.clone(), ep.network_id.clone()), ep);
        }
        // Bridges.
        let nets: Vec<Network> = st.networks.values().cloned().collect();
        for net in &nets {
            let spec = bridge::BridgeSpec {
                name: &net.bridge,
                gateway: net.gateway(),
                prefix: net.subnet().prefix_len(),
                mtu: net.mtu,
            };
            if let Err(e) = bridge::ensure_bridge(&self.nl, &spec).await {
                rep.errors.push(format!("network {}: {e}", net.name));
            }
            if !net.internal && self.cfg.enable_ip_forward {
                if let Err(e) = bridge::write_sysctl("net/ipv4/ip_forward", "1") {
                    rep.errors.push(e.to_string());
                }
            }
        }
        // Links: stale veths on our bridges, bridges of unknown networks.
        match self.nl.links().await {
            Ok(links) => {
                let ours: BTreeMap<u32, &Network> = links
                    .iter()
                    .filter_map(|l| {
                        nets.iter()
                            .find(|n| n.bridge == l.name)
                            .map(|n| (l.index, n))
                    })
                    .collect();
                let expected: BTreeSet<&str> = st
                    .endpoints
                    .values()
                    .map(|e| e.host_ifname.as_str())
                    .collect();
                for l in &links {
                    let on_our_bridge = l.controller.is_some_and(|c| ours.contains_key(&c));
                    let stale_veth = on_our_bridge && !expected.contains(l.name.as_str());
                    let stale_bridge = l.kind.as_deref() == Some("bridge")
                        && !self.cfg.bridge_prefix.is_empty()
                        && l.name.starts_with(&self.cfg.bridge_prefix)
                        && !nets.iter().any(|n| n.bridge == l.name);
                    if stale_veth || stale_bridge {
                        match self.nl.delete_link(&l.name).await {
                            Ok(_) => rep.removed_links.push(l.name.clone()),
                            Err(e) => rep.errors.push(format!("deleting {}: {e}", l.name)),
                        }
                    }
                }
                // Endpoints whose veth vanished while the namespace lives: set up again.
                let missing: Vec<Endpoint> = st
                    .endpoints
                    .values()
                    .filter(|e| !links.iter().any(|l| l.name == e.host_ifname))
                    .cloned()
                    .collect();
                for ep in missing {
                    let Some(net) = st.networks.get(&ep.network_id).cloned() else {
                        continue;
                    };
                    let nl_ns = match Netlink::connect_in(&ep.netns).await {
                        Ok(n) => n,
                        Err(e) => {
                            rep.errors.push(e.to_string());
                            continue;
                        }
                    };
                    // A leftover peer of that name in the namespace would block re-creation.
                    let _ = nl_ns.delete_link(&ep.ifname).await;
                    let spec = bridge::VethSpec {
                        host_ifname: &ep.host_ifname,
                        bridge: &net.bridge,
                        netns: &ep.netns,
                        ifname: &ep.ifname,
                        ip: ep.ip,
                        prefix: net.subnet().prefix_len(),
                        default_gateway: (!net.internal).then_some(net.gateway()),
                        mtu: net.mtu,
                    };
                    match bridge::attach_veth(&self.nl, &nl_ns, &spec).await {
                        Ok(mac) => {
                            if let Some(e) = st
                                .endpoints
                                .get_mut(&(ep.container_id.clone(), ep.network_id.clone()))
                            {
                                e.mac = mac;
                            }
                            rep.reattached
                                .push((ep.container_id.clone(), net.name.clone()));
                        }
                        Err(e) => {
                            rep.errors.push(format!(
                                "re-attaching {} to {}: {e}",
                                ep.container_name, net.name
                            ));
                            st.endpoints
                                .remove(&(ep.container_id.clone(), ep.network_id.clone()));
                            rep.dropped_endpoints
                                .push((ep.container_id.clone(), net.name.clone()));
                        }
                    }
                }
            }
            Err(e) => rep.errors.push(format!("listing links: {e}")),
        }
        // IPAM: allocations must match the live endpoints exactly.
        let held: BTreeMap<String, BTreeSet<Ipv4Addr>> =
            st.endpoints.values().fold(BTreeMap::new(), |mut m, e| {
                m.entry(e.network_id.clone()).or_default().insert(e.ip);
                m
            });
        let owners: BTreeMap<(String, Ipv4Addr), String> = st
            .endpoints
            .values()
            .map(|e| ((e.network_id.clone(), e.ip), e.container_id.clone()))
            .collect();
        for (nid, net) in st.networks.iter_mut() {
            let live = held.get(nid).cloned().unwrap_or_default();
            let stale: Vec<Ipv4Addr> = net
                .ipam
                .allocated
                .keys()
                .filter(|ip| !live.contains(ip))
                .copied()
                .collect();
            for ip in stale {
                net.ipam.release(ip);
                rep.released_ips.push(ip);
            }
            for ip in live {
                if let Some(owner) = owners.get(&(nid.clone(), ip)) {
                    net.ipam.allocated.insert(ip, owner.clone());
                }
            }
        }
        // Firewall.
        if let Err(e) = self.apply_firewall(&st).await {
            rep.errors.push(format!("firewall: {e}"));
        }
        // DNS.
        for net in st.networks.values().filter(|n| n.dns) {
            let addr = SocketAddr::new(net.gateway().into(), self.cfg.dns_port);
            if let Err(e) = self.dns.listen(&net.id, addr, net.internal).await {
                rep.errors
                    .push(format!("DNS for network {} on {addr}: {e}", net.name));
            }
        }
        for ep in st.endpoints.values() {
            if st.networks.get(&ep.network_id).is_some_and(|n| n.dns) {
                self.dns_add(ep);
            }
        }
        rep
    }

    /// Stop the DNS listeners (daemon shutdown). Bridges, veths and rules stay: containers
    /// outlive the daemon.
    pub async fn shutdown(&self) {
        let _ = self.settle().await;
        self.dns.shutdown().await;
    }
}

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

/// The container's /etc/hosts: localhost lines, its own addresses with hostname, and
/// `--add-host name:ip` entries (`host-gateway` is the gateway of its first network).
pub fn hosts_file(
    hostname: &str,
    own: &[Ipv4Addr],
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
            &["10.0.0.2".parse().unwrap()],
            &["db:10.0.0.9".into(), "gw:host-gateway".into()],
            Some("10.0.0.1".parse().unwrap()),
        )
        .unwrap();
        assert!(
            h.contains("10.0.0.2\tweb\n")
                && h.contains("10.0.0.9\tdb\n")
                && h.contains("10.0.0.1\tgw\n"),
            "{h}"
        );
        assert!(hosts_file("w", &[], &["db".into()], None).is_err());
        assert!(hosts_file("w", &[], &["db:nope".into()], None).is_err());
        assert!(hosts_file("w", &[], &["gw:host-gateway".into()], None).is_err());
    }

    #[test]
    fn names_and_ids() {
        assert!(valid_name("backend") && valid_name("my_net.1-x"));
        assert!(valid_name("a b") && valid_name("-x"));
        assert!(!valid_name("") && !valid_name(" ") && !valid_name("a/b") && !valid_name("a\nb"));
        assert_eq!(random_id().len(), 64);
        assert_ne!(fnv("a/b"), fnv("a/c"));
    }
}
