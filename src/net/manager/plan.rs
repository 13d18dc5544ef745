//! Planning a network: a creation request checked and turned into a [`Network`] record (id,
//! bridge name, subnet, IPAM with its reserved addresses) before anything on the host is
//! touched, so that a refused request leaves nothing to undo. One function per decision, in the
//! order dockerd reports its errors.

use ipnet::{Ipv4Net, Ipv6Net};

use super::{NetworkManager, State};
use crate::net::driver::{FirewallDriver, NetworkDriver};
use crate::net::ipam::{self, Family, IpamOf, PoolOf};
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

/// One family's IPAM config of a request, as given.
struct Addressing<'a> {
    subnet: Option<&'a str>,
    gateway: Option<&'a str>,
    ip_range: Option<&'a str>,
}

impl<'a> Addressing<'a> {
    fn v4(req: &'a NetworkCreate) -> Self {
        Addressing {
            subnet: req.subnet.as_deref(),
            gateway: req.gateway.as_deref(),
            ip_range: req.ip_range.as_deref(),
        }
    }
    fn v6(req: &'a NetworkCreate) -> Option<Self> {
        req.v6.as_ref().map(|v| Addressing {
            subnet: v.subnet.as_deref(),
            gateway: v.gateway.as_deref(),
            ip_range: v.ip_range.as_deref(),
        })
    }

    /// `--gateway` and `--ip-range`, parsed.
    fn parse<N: Family>(&self) -> Result<(Option<N::Addr>, Option<N>), NetError> {
        let gateway = match self.gateway {
            Some(g) => Some(g.parse::<N::Addr>().map_err(|_| {
                NetError::Invalid(format!(
                    "invalid gateway {g:?}: expected an {} address",
                    N::NAME
                ))
            })?),
            None => None,
        };
        let ip_range = match self.ip_range {
            Some(r) => Some(
                ipam::parse_subnet_of::<N>(r)
                    .map_err(|e| NetError::Invalid(format!("--ip-range: {e}")))?,
            ),
            None => None,
        };
        Ok((gateway, ip_range))
    }
}

/// A requested subnet must not overlap another network's (`of`: a network's subnet of this
/// family).
fn check_subnet<N: Family>(
    st: &State,
    subnet: &str,
    of: fn(&Network) -> Option<N>,
) -> Result<N, NetError> {
    let s = ipam::parse_subnet_of::<N>(subnet)?;
    if let Some((o, os)) = st
        .networks
        .values()
        .find_map(|n| of(n).filter(|o| ipam::overlaps(o, &s)).map(|o| (n, o)))
    {
        return Err(NetError::Conflict(format!(
            "subnet {s} overlaps the subnet {os} of network {}",
            o.name
        )));
    }
    Ok(s)
}

/// The IPAM of one family, with the auxiliary addresses of that family kept out of allocation.
fn build_ipam<N: Family>(
    req: &NetworkCreate,
    subnet: N,
    gateway: Option<N::Addr>,
    ip_range: Option<N>,
) -> Result<IpamOf<N>, NetError> {
    let mut ipam = IpamOf::new(subnet, gateway, ip_range)?;
    let v6 = N::NAME == "IPv6";
    for (name, ip) in req
        .aux_addresses
        .iter()
        .filter(|(_, ip)| ip.contains(':') == v6)
    {
        let addr = ip.parse().map_err(|_| {
            NetError::Invalid(format!(
                "invalid auxiliary address {name}={ip}: expected an IPv4 or IPv6 address"
            ))
        })?;
        ipam.reserve_aux(name, addr)?;
    }
    Ok(ipam)
}

/// A network's IPv4 subnet and IPv6 one (if any), for overlap checks.
fn v4_of(n: &Network) -> Option<Ipv4Net> {
    Some(n.subnet())
}
fn v6_of(n: &Network) -> Option<Ipv6Net> {
    n.subnet6()
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
        let ipam = self
            .plan_family(st, &Addressing::v4(req), req, v4_of, &self.cfg.pools)
            .await?;
        let ipam6 = match (req.enable_ipv6, Addressing::v6(req)) {
            (false, Some(_)) => {
                return Err(NetError::Invalid(
                    "an IPv6 subnet needs IPv6 enabled on the network (--ipv6, enable_ipv6)".into(),
                ))
            }
            (false, None) => None,
            (true, v6) => {
                let none = Addressing {
                    subnet: None,
                    gateway: None,
                    ip_range: None,
                };
                let a = v6.unwrap_or(none);
                Some(
                    self.plan_family(st, &a, req, v6_of, &self.cfg.pools6)
                        .await?,
                )
            }
        };
        Ok(Network {
            id,
            name: req.name.clone(),
            driver,
            bridge,
            parent,
            parent_created: false,
            ipam,
            ipam6,
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

    /// One family's IPAM of a new network: the requested subnet (free), or the first free one
    /// of `pools`.
    async fn plan_family<N: Family>(
        &self,
        st: &State,
        a: &Addressing<'_>,
        req: &NetworkCreate,
        of: fn(&Network) -> Option<N>,
        pools: &[PoolOf<N>],
    ) -> Result<IpamOf<N>, NetError> {
        let (gateway, ip_range) = a.parse::<N>()?;
        let subnet = match a.subnet {
            Some(s) => check_subnet(st, s, of)?,
            None => {
                if gateway.is_some() || ip_range.is_some() {
                    return Err(NetError::Invalid(
                        "--gateway and --ip-range need --subnet".into(),
                    ));
                }
                self.free_subnet(st, of, pools).await?
            }
        };
        build_ipam(req, subnet, gateway, ip_range)
    }

    /// The first subnet of the pools that no network uses and the host does not route.
    async fn free_subnet<N: Family>(
        &self,
        st: &State,
        of: fn(&Network) -> Option<N>,
        pools: &[PoolOf<N>],
    ) -> Result<N, NetError> {
        let mut used: Vec<N> = st.networks.values().filter_map(of).collect();
        used.extend(
            self.links
                .routed_subnets()
                .await?
                .into_iter()
                .filter_map(N::from_ipnet),
        );
        ipam::pick_subnet(pools, &used).ok_or_else(|| {
            NetError::Exhausted(format!(
                "all predefined {} address pools have been fully subnetted",
                N::NAME
            ))
        })
    }
}
