//! The network manager: networks, endpoints and published ports behind one lock, kept in step
//! with the host (bridges, veths, firewall table, DNS listeners) through the drivers of
//! [`super::driver`]. One module per phase of a network's life: [`plan`] (validate a creation
//! request and choose its subnet, touching nothing), this module (create and remove, names,
//! shutdown), [`attach`] (endpoints and ports) and [`restore`] (adopt the stored state at daemon
//! start and repair the host).
//!
//! Every method takes the lock for its whole run, so the state and the host change together;
//! what fails half-way is undone before the lock is released. Teardown never stops at the first
//! error: it goes on and reports them all.

mod attach;
pub(crate) mod plan;
mod restore;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::dns::{self, DnsServer};
use super::driver::{FirewallDriver, NetworkDriver};
use super::firewall;
use super::host::{HostNetwork, Nftables};
use super::ports::PortMapping;
use super::types::{Endpoint, ManagerConfig, Network, NetworkCreate, DEFAULT_NETWORK};
use super::{bridge, NetError};

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

    /// A network by name or id, or the API's "not found".
    fn get(&self, name_or_id: &str) -> Result<&Network, NetError> {
        self.find(name_or_id)
            .ok_or_else(|| NetError::NotFound(format!("network {name_or_id} not found")))
    }

    /// The firewall's rules for this state: every network, and the published ports of the
    /// endpoints on networks that are not internal.
    fn fw(&self) -> firewall::Ruleset {
        let networks = self
            .networks
            .values()
            .filter(|n| n.is_bridge())
            .map(|n| firewall::FwNetwork {
                bridge: n.bridge.clone(),
                subnet: n.subnet(),
                subnet6: n.subnet6(),
                internal: n.internal,
            })
            .collect();
        let mut forwards = Vec::new();
        for ep in self.endpoints.values() {
            if self
                .networks
                .get(&ep.network_id)
                .map(|n| n.internal || !n.is_bridge())
                .unwrap_or(true)
            {
                continue;
            }
            forwards.extend(firewall::forwards_for(
                ep.ip,
                ep.v6.map(|v| v.ip),
                &ep.ports,
            ));
        }
        firewall::Ruleset { networks, forwards }
    }

    fn published(&self) -> impl Iterator<Item = (&Endpoint, &PortMapping)> {
        self.endpoints
            .values()
            .flat_map(|ep| ep.ports.iter().map(move |p| (ep, p)))
    }
}

/// The bridge driver plus IPAM, firewall and DNS, behind one lock. See the module docs of
/// [`crate::net`] for how the engine uses it. `D` and `F` are the host (the defaults) or a test
/// double.
pub struct NetworkManager<D: NetworkDriver = HostNetwork, F: FirewallDriver = Nftables> {
    cfg: ManagerConfig,
    state: tokio::sync::Mutex<State>,
    /// The host ports held for the published mappings, per (container id, network id): a
    /// mapping exists exactly as long as its hold. Changed only under the `state` lock (this
    /// lock is never held across an await).
    holds: std::sync::Mutex<HoldMap<F::Hold>>,
    dns: DnsServer,
    links: D,
    fw: F,
}

/// The holds of one endpoint's published ports, with the mapping each is for.
type Holds<H> = Vec<(PortMapping, H)>;
/// The holds of every endpoint, by (container id, network id).
type HoldMap<H> = BTreeMap<(String, String), Holds<H>>;

fn join_errors(errs: Vec<String>) -> Result<(), NetError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(NetError::System(errs.join("; ")))
    }
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
    /// A manager on this host with no networks. Needs a tokio runtime; touches nothing on the
    /// host until `restore` or `create_network`.
    pub fn new(cfg: ManagerConfig) -> Result<Self, NetError> {
        Ok(Self::with_drivers(
            cfg,
            HostNetwork::connect()?,
            Nftables::default(),
        ))
    }
}

impl<D: NetworkDriver, F: FirewallDriver> NetworkManager<D, F> {
    /// A manager with no networks on the given drivers.
    pub fn with_drivers(cfg: ManagerConfig, links: D, fw: F) -> Self {
        let upstreams = cfg.upstreams.clone().unwrap_or_else(dns::host_upstreams);
        NetworkManager {
            dns: DnsServer::new(upstreams),
            state: tokio::sync::Mutex::new(State::default()),
            holds: Default::default(),
            links,
            fw,
            cfg,
        }
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

    fn holds(&self) -> std::sync::MutexGuard<'_, HoldMap<F::Hold>> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The published host ports this manager holds (sorted), e.g. to check that none is left.
    pub fn held_ports(&self) -> Vec<PortMapping> {
        let mut v: Vec<PortMapping> = self
            .holds()
            .values()
            .flat_map(|h| h.iter().map(|(m, _)| *m))
            .collect();
        v.sort();
        v
    }

    /// Wait for the background deletions of detached veths; reports their errors.
    pub async fn settle(&self) -> Result<(), NetError> {
        self.links.settle().await
    }

    /// Render the firewall table from the state (or delete it when there is nothing left).
    async fn apply_firewall(&self, st: &State) -> Result<(), NetError> {
        if st.networks.is_empty() && st.endpoints.is_empty() {
            return self.fw.delete(&self.cfg.table).await;
        }
        self.fw.sync(&self.cfg.table, &st.fw()).await
    }

    /// Create a network: bridge with gateway address, firewall rules, DNS listener. All or
    /// nothing.
    pub async fn create_network(&self, req: NetworkCreate) -> Result<Network, NetError> {
        let mut st = self.state.lock().await;
        let mut net = self.plan_network(&st, &req).await?;
        if let Err(e) = self.bring_up_network(&mut st, &mut net).await {
            let mut errs = Vec::new();
            self.tear_down_network(&mut st, &net, &mut errs).await;
            return Err(e);
        }
        Ok(net)
    }

    fn bridge_spec(net: &Network) -> bridge::BridgeSpec<'_> {
        bridge::BridgeSpec {
            name: &net.bridge,
            gateway: net.gateway(),
            prefix: net.subnet().prefix_len(),
            gateway6: net
                .ipam6
                .as_ref()
                .map(|i| (i.gateway, i.subnet.prefix_len())),
            mtu: net.mtu,
        }
    }

    fn dns_addr(&self, net: &Network) -> SocketAddr {
        SocketAddr::new(net.gateway().into(), self.cfg.dns_port)
    }

    async fn bring_up_network(&self, st: &mut State, net: &mut Network) -> Result<(), NetError> {
        if !net.is_bridge() {
            return self.bring_up_parent(st, net).await;
        }
        self.links.ensure_bridge(&Self::bridge_spec(net)).await?;
        if !net.internal && self.cfg.enable_ip_forward {
            self.links.enable_ip_forward(net.enable_ipv6())?;
        }
        st.networks.insert(net.id.clone(), net.clone());
        self.apply_firewall(st).await?;
        if net.dns {
            let addr = self.dns_addr(net);
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

    /// A macvlan/ipvlan network: its parent made sure of (an 802.1q sub-interface or the dummy
    /// link created when missing), nothing else on the host. The embedded DNS listens per
    /// container, inside its namespace (see `attach`).
    async fn bring_up_parent(&self, st: &mut State, net: &mut Network) -> Result<(), NetError> {
        let parent = net.parent.clone().unwrap_or_default();
        if net.options.get("parent").is_some_and(|p| !p.is_empty()) {
            net.parent_created = self.links.ensure_parent(&parent).await?;
        } else {
            if self.links.link(&parent).await?.is_some() {
                return Err(NetError::Conflict(format!(
                    "a network interface named {parent} already exists on the host"
                )));
            }
            self.links.create_dummy(&parent).await?;
            net.parent_created = true;
        }
        st.networks.insert(net.id.clone(), net.clone());
        Ok(())
    }

    async fn tear_down_network(&self, st: &mut State, net: &Network, errs: &mut Vec<String>) {
        self.dns.unlisten(&net.id).await;
        self.dns.remove_network(&net.id);
        if net.is_bridge() {
            if let Err(e) = self.links.delete_link(&net.bridge).await {
                errs.push(format!("deleting bridge {}: {e}", net.bridge));
            }
        } else if let Some(p) = net.parent.as_ref().filter(|_| net.parent_created) {
            // Only what wharf created: never the user's parent interface.
            if let Err(e) = self.links.delete_link(p).await {
                errs.push(format!("deleting parent interface {p}: {e}"));
            }
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
        let net = st.get(name_or_id)?.clone();
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
            ep.v6.map(|v| v.ip),
            &names,
            &ep.dns_upstreams,
        );
        self.dns
            .set_links(&ep.network_id, &ep.container_id, &ep.links);
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
        let nid = st.get(network)?.id.clone();
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

    /// Stop the DNS listeners and release the held ports (daemon shutdown; the next daemon
    /// takes them again in `restore`). Bridges, veths and rules stay: containers outlive the
    /// daemon.
    pub async fn shutdown(&self) {
        let _st = self.state.lock().await;
        self.holds().clear();
        let _ = self.settle().await;
        self.dns.shutdown().await;
    }
}
