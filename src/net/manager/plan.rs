//! Planning a network: a creation request checked and turned into a [`Network`] record (id,
//! bridge name, subnet, IPAM with its reserved addresses) before anything on the host is
//! touched, so that a refused request leaves nothing to undo. One function per decision, in the
//! order dockerd reports its errors.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{NetworkManager, State};
use crate::net::driver::{FirewallDriver, NetworkDriver};
use crate::net::ipam::{self, Ipam};
use crate::net::types::{Network, NetworkCreate, DEFAULT_NETWORK};
use crate::net::{bridge, sublink, NetError};

/// dockerd takes any network name that is not empty (`test 01` too); control characters
/// and `/` (which would make API paths ambiguous) are refused.
pub(super) fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && !name.chars().any(|c| c.is_control() || c == '/')
}

pub(super) fn random_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The name and driver of a request: valid, not reserved, not taken. Returns the driver.
fn check_name_and_driver(st: &State, req: &NetworkCreate) -> Result<String, NetError> {
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
    if driver == "overlay" {
        return Err(NetError::Invalid(OVERLAY_REFUSED.into()));
    }
    if !matches!(driver.as_str(), "bridge" | "macvlan" | "ipvlan") {
        return Err(NetError::Invalid(format!(
            "network driver {driver:?} is not supported (bridge, macvlan, ipvlan)"
        )));
    }
    Ok(driver)
}

/// Why a single engine refuses the overlay driver, and where to go instead: overlay networks span
/// machines, which only a swarm provides.
pub const OVERLAY_REFUSED: &str = "overlay networks need a swarm: deploy with `wharf stack deploy`";

/// The requested id, or a fresh one; never one in use.
fn network_id(st: &State, req: &NetworkCreate) -> Result<String, NetError> {
    let id = match &req.id {
        Some(id) => id.clone(),
        None => random_id(),
    };
    if st.networks.contains_key(&id) {
        return Err(NetError::Conflict(format!(
            "network id {id} already exists"
        )));
    }
    Ok(id)
}

/// `--gateway` and `--ip-range`, parsed.
fn parse_addressing(req: &NetworkCreate) -> Result<(Option<Ipv4Addr>, Option<Ipv4Net>), NetError> {
    let gateway = match &req.gateway {
        Some(g) => Some(g.parse::<Ipv4Addr>().map_err(|_| {
            NetError::Invalid(format!("invalid gateway {g:?}: expected an IPv4 address"))
        })?),
        None => None,
    };
    let ip_range = match &req.ip_range {
        Some(r) => {
            Some(ipam::parse_subnet(r).map_err(|e| NetError::Invalid(format!("--ip-range: {e}")))?)
        }
        None => None,
    };
    Ok((gateway, ip_range))
}

/// A requested subnet must not overlap another network's.
fn check_subnet(st: &State, subnet: &str) -> Result<Ipv4Net, NetError> {
    let s = ipam::parse_subnet(subnet)?;
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
    Ok(s)
}

/// The IPAM of the network, with the auxiliary addresses kept out of allocation.
fn build_ipam(
    req: &NetworkCreate,
    subnet: Ipv4Net,
    gateway: Option<Ipv4Addr>,
    ip_range: Option<Ipv4Net>,
) -> Result<Ipam, NetError> {
    let mut ipam = Ipam::new(subnet, gateway, ip_range)?;
    for (name, ip) in &req.aux_addresses {
        let addr = ip.parse().map_err(|_| {
            NetError::Invalid(format!(
                "invalid auxiliary address {name}={ip}: expected an IPv4 address"
            ))
        })?;
        ipam.reserve_aux(name, addr)?;
    }
    Ok(ipam)
}

impl<D: NetworkDriver, F: FirewallDriver> NetworkManager<D, F> {
    /// Validate a creation request and compute the network (subnet chosen, nothing touched).
    pub(super) async fn plan_network(
        &self,
        st: &State,
        req: &NetworkCreate,
    ) -> Result<Network, NetError> {
        let driver = check_name_and_driver(st, req)?;
        let id = network_id(st, req)?;
        let (bridge, parent, internal) = if driver == "bridge" {
            (self.bridge_name(st, req, &id).await?, None, req.internal)
        } else {
            let (parent, internal) = self.plan_parent(st, req, &driver, &id)?;
            (String::new(), Some(parent), internal)
        };
        let (gateway, ip_range) = parse_addressing(req)?;
        let subnet = match &req.subnet {
            Some(s) => check_subnet(st, s)?,
            None => {
                if gateway.is_some() || ip_range.is_some() {
                    return Err(NetError::Invalid(
                        "--gateway and --ip-range need --subnet".into(),
                    ));
                }
                self.free_subnet(st).await?
            }
        };
        Ok(Network {
            id,
            name: req.name.clone(),
            driver,
            bridge,
            parent,
            parent_created: false,
            ipam: build_ipam(req, subnet, gateway, ip_range)?,
            internal,
            dns: req.dns.unwrap_or(req.name != DEFAULT_NETWORK),
            mtu: req.mtu,
            labels: req.labels.clone(),
            options: req.options.clone(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        })
    }

    /// macvlan/ipvlan: the parent (`-o parent=`; without one, a dummy link named after the
    /// network, which makes it internal as with Docker) and whether the network is internal.
    /// The mode options are checked here too.
    fn plan_parent(
        &self,
        st: &State,
        req: &NetworkCreate,
        driver: &str,
        id: &str,
    ) -> Result<(String, bool), NetError> {
        sublink::SubKind::parse(driver, &req.options)?;
        let known = ["parent", "macvlan_mode", "ipvlan_mode", "ipvlan_flag"];
        if let Some(k) = req
            .options
            .keys()
            .find(|k| !known.contains(&k.as_str()) && !k.starts_with("com.docker.network."))
        {
            return Err(NetError::Invalid(format!(
                "unknown {driver} option {k:?}: expected parent or {driver}_mode"
            )));
        }
        let parent = match req.options.get("parent").filter(|p| !p.is_empty()) {
            Some(p) => {
                if !bridge::valid_ifname(p) {
                    return Err(NetError::Invalid(format!(
                        "invalid parent interface {p:?}: at most 15 of [a-zA-Z0-9_.-]"
                    )));
                }
                // Two networks on one parent are fine (other subnets, other VLANs); the same
                // subnet twice is refused by check_subnet.
                p.clone()
            }
            None => {
                let mut d = format!("{}d{}", self.cfg.bridge_prefix, id);
                d.truncate(15);
                if let Some(o) = st
                    .networks
                    .values()
                    .find(|n| n.parent.as_deref() == Some(&d))
                {
                    return Err(NetError::Conflict(format!(
                        "dummy interface {d} is already used by network {}",
                        o.name
                    )));
                }
                return Ok((d, true));
            }
        };
        Ok((parent, req.internal))
    }

    /// The bridge's name: requested, the default network's, or the prefix plus the id; valid
    /// and used by no network nor any other interface of the host.
    async fn bridge_name(
        &self,
        st: &State,
        req: &NetworkCreate,
        id: &str,
    ) -> Result<String, NetError> {
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
        if self.links.link(&bridge).await?.is_some() {
            return Err(NetError::Conflict(format!(
                "a network interface named {bridge} already exists on the host"
            )));
        }
        Ok(bridge)
    }

    /// The first subnet of the pools that no network uses and the host does not route.
    async fn free_subnet(&self, st: &State) -> Result<Ipv4Net, NetError> {
        let mut used: Vec<Ipv4Net> = st.networks.values().map(|n| n.subnet()).collect();
        used.extend(self.links.routed_subnets().await?);
        ipam::pick_subnet(&self.cfg.pools, &used).ok_or_else(|| {
            NetError::Exhausted("all predefined address pools have been fully subnetted".into())
        })
    }
}
