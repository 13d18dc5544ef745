//! Endpoints: attaching a container's namespace to a network (address, veth, route, DNS
//! records, published ports), detaching it, and changing its published ports. Attach is all or
//! nothing; detach goes on through errors and reports them all.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::path::Path;

use super::{join_errors, Holds, NetworkManager, State};
use crate::net::bridge::{self, PeerSpec, PeerV6, VethSpec};
use crate::net::driver::{FirewallDriver, NetworkDriver};
use crate::net::firewall;
use crate::net::ports::PortMapping;
use crate::net::sublink::{SubKind, SubSpec};
use crate::net::types::{Attachment, Endpoint, EndpointV6, Mac, Network};
use crate::net::NetError;

/// The veth of an endpoint on `net`.
pub(super) fn veth_spec<'a>(
    net: &'a Network,
    netns: &'a Path,
    host_ifname: &'a str,
    ifname: &'a str,
    ips: Addrs,
    mac: Option<Mac>,
) -> VethSpec<'a> {
    VethSpec {
        host_ifname,
        bridge: &net.bridge,
        peer: peer_spec(net, netns, ifname, ips, mac),
    }
}

/// An endpoint's addresses: IPv4, and IPv6 on a dual-stack network.
pub(super) type Addrs = (Ipv4Addr, Option<EndpointV6>);

/// The IPv6 side of an endpoint on `net` with address `ip`.
fn endpoint_v6(net: &Network, ip: Ipv6Addr) -> Option<EndpointV6> {
    net.ipam6.as_ref().map(|i| EndpointV6 {
        ip,
        prefix_len: i.subnet.prefix_len(),
        gateway: i.gateway,
    })
}

/// The container's end of its link on `net`.
fn peer_spec<'a>(
    net: &'a Network,
    netns: &'a Path,
    ifname: &'a str,
    (ip, v6): Addrs,
    mac: Option<Mac>,
) -> PeerSpec<'a> {
    PeerSpec {
        netns,
        ifname,
        ip,
        prefix: net.subnet().prefix_len(),
        default_gateway: (!net.internal).then_some(net.gateway()),
        mtu: net.mtu,
        mac,
        v6: v6.map(|v| PeerV6 {
            ip: v.ip,
            prefix: v.prefix_len,
            default_gateway: (!net.internal).then_some(v.gateway),
        }),
    }
}

/// The container's link on a macvlan/ipvlan network `net`.
pub(super) fn sub_spec<'a>(
    net: &'a Network,
    netns: &'a Path,
    ifname: &'a str,
    ips: Addrs,
    mac: Option<Mac>,
) -> Result<SubSpec<'a>, NetError> {
    Ok(SubSpec {
        kind: SubKind::parse(&net.driver, &net.options)?,
        parent: net.parent.as_deref().unwrap_or_default(),
        peer: peer_spec(net, netns, ifname, ips, mac),
    })
}

/// Where the hold of mapping `m` forwards loopback connections: the container's IPv6 address on
/// a dual-stack network, for mappings on every host address (their `[::]` side) and on IPv6
/// ones.
fn v6_target(m: &PortMapping, ip6: Option<Ipv6Addr>) -> Option<SocketAddrV6> {
    ip6.filter(|_| m.ipv6_side().is_some())
        .map(|ip| SocketAddrV6::new(ip, m.container_port, 0, 0))
}

/// Where the embedded DNS answers inside a macvlan/ipvlan container's namespace (Docker's
/// address).
pub const IN_NETNS_DNS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 11);

/// The name of a DNS listener inside one container's namespace.
pub(super) fn dns_key(network_id: &str, container_id: &str) -> String {
    format!("{network_id}/{container_id}")
}

impl<D: NetworkDriver, F: FirewallDriver> NetworkManager<D, F> {
    /// The embedded DNS of a macvlan/ipvlan network, inside the container's namespace.
    pub(super) async fn listen_in(
        &self,
        net: &Network,
        container_id: &str,
        netns: &Path,
        ip: std::net::Ipv4Addr,
    ) -> Result<(), NetError> {
        if !net.dns {
            return Ok(());
        }
        let addr = std::net::SocketAddr::new(IN_NETNS_DNS.into(), self.cfg.dns_port);
        self.dns
            .listen_in(
                &dns_key(&net.id, container_id),
                &net.id,
                netns,
                addr,
                net.internal,
                ip.into(),
            )
            .await
            .map(|_| ())
            .map_err(|e| {
                NetError::System(format!(
                    "starting DNS for network {} in {}: {e}",
                    net.name,
                    netns.display()
                ))
            })
    }

    /// Check the published ports `wanted` for `container_id` and take their host ports: each
    /// one held (a port-0 one on a free port the kernel picks and the hold keeps), none armed
    /// yet. `reuse`: holds the container has already, taken for an identical mapping instead of
    /// binding again. On error nothing new is held.
    fn resolve_ports(
        &self,
        st: &State,
        container_id: &str,
        wanted: &[PortMapping],
        ip6: Option<Ipv6Addr>,
        reuse: &mut Holds<F::Hold>,
    ) -> Result<Holds<F::Hold>, NetError> {
        let mut out: Holds<F::Hold> = Vec::new();
        let others: Vec<(&Endpoint, &PortMapping)> = st
            .published()
            .filter(|(e, _)| e.container_id != container_id)
            .collect();
        let taken = |m: &PortMapping, out: &Holds<F::Hold>| -> Option<String> {
            if let Some((e, _)) = others.iter().find(|(_, p)| firewall::collides(p, m)) {
                return Some(format!("container {}", e.container_name));
            }
            if out.iter().any(|(p, _)| firewall::collides(p, m)) {
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
            if m.needs_ipv6() && ip6.is_none() {
                return Err(NetError::Invalid(format!(
                    "cannot publish {m}: the container has no IPv6 address on this network (create the network with --ipv6, or publish on an IPv4 address)"
                )));
            }
            if m.host_port != 0 {
                if let Some(who) = taken(m, &out) {
                    return Err(NetError::Conflict(format!(
                        "port {}/{} on {} is already published by {who}",
                        m.host_port, m.proto, m.host_ip
                    )));
                }
                let same = |r: &PortMapping| {
                    (r.host_ip, r.host_port, r.proto) == (m.host_ip, m.host_port, m.proto)
                };
                let hold = match reuse.iter().position(|(r, _)| same(r)) {
                    Some(i) => reuse.swap_remove(i).1,
                    None => {
                        let v6 = v6_target(m, ip6);
                        self.fw.hold_port(m.proto, m.host_ip, m.host_port, v6)?.0
                    }
                };
                out.push((*m, hold));
                continue;
            }
            // Port 0: the kernel picks a port no socket holds; one that another mapping of this
            // engine publishes without holding it (a hold lost at a restart) is skipped.
            let mut skipped = Vec::new();
            let mut got = None;
            for _ in 0..64 {
                let (hold, port) = self
                    .fw
                    .hold_port(m.proto, m.host_ip, 0, v6_target(m, ip6))?;
                let cand = PortMapping {
                    host_port: port,
                    ..*m
                };
                if taken(&cand, &out).is_none() {
                    got = Some((cand, hold));
                    break;
                }
                skipped.push(hold);
            }
            out.push(got.ok_or_else(|| {
                NetError::Exhausted(format!(
                    "no free host port for {}/{}",
                    m.container_port, m.proto
                ))
            })?);
        }
        Ok(out)
    }

    /// Arm the holds of mappings whose DNAT rules are in place.
    fn arm(&self, holds: &Holds<F::Hold>) -> Result<(), NetError> {
        holds.iter().try_for_each(|(_, h)| self.fw.arm(h))
    }

    /// Hold and arm `ports` again, as far as possible (their rules are in place): after a
    /// failed change, and at restore. Returns the holds and the errors.
    pub(super) fn rehold(
        &self,
        ports: &[PortMapping],
        ip6: Option<Ipv6Addr>,
    ) -> (Holds<F::Hold>, Vec<String>) {
        let mut holds = Vec::new();
        let mut errs = Vec::new();
        for m in ports {
            match self
                .fw
                .hold_port(m.proto, m.host_ip, m.host_port, v6_target(m, ip6))
                .and_then(|(h, _)| self.fw.arm(&h).map(|()| h))
            {
                Ok(h) => holds.push((*m, h)),
                Err(e) => errs.push(format!("holding published port {m}: {e}")),
            }
        }
        (holds, errs)
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
        let net = self.check_attach(&st, netns, network, &att)?;
        let mut ipam6 = net.ipam6.clone();
        let ip6 = match (&mut ipam6, att.ip6) {
            (Some(i), req) => Some(i.allocate(&att.container_id, req)?),
            (None, Some(req)) => {
                return Err(NetError::Invalid(format!(
                    "--ip6 {req}: network {} has no IPv6 (create it with --ipv6)",
                    net.name
                )))
            }
            (None, None) => None,
        };
        // Ports are published on bridge networks only (NAT); a macvlan/ipvlan container is
        // reached at its own address.
        let holds = if net.internal || !net.is_bridge() {
            Vec::new()
        } else {
            self.resolve_ports(&st, &att.container_id, &att.ports, ip6, &mut Vec::new())?
        };
        let ports: Vec<PortMapping> = holds.iter().map(|(m, _)| *m).collect();
        if let Some(i) = att.ifname.as_ref().filter(|i| !bridge::valid_ifname(i)) {
            return Err(NetError::Invalid(format!("invalid interface name {i:?}")));
        }
        let inside = self.links.enter(netns).await?;
        let ifname = match &att.ifname {
            Some(i) => i.clone(),
            None => self.links.next_ifname(&inside).await?,
        };
        let mut ipam = net.ipam.clone();
        let ip = ipam.allocate(&att.container_id, att.ip)?;
        let v6 = ip6.and_then(|ip6| endpoint_v6(&net, ip6));
        let (host_ifname, mac) = if net.is_bridge() {
            let host_ifname = self.host_ifname(&att.container_id, &net.id);
            self.links.settle_link(&host_ifname).await;
            let spec = veth_spec(&net, netns, &host_ifname, &ifname, (ip, v6), att.mac);
            let mac = self.links.attach_veth(&inside, &spec).await?;
            (host_ifname, mac)
        } else {
            let spec = sub_spec(&net, netns, &ifname, (ip, v6), att.mac)?;
            let mac = self.links.attach_sub(&inside, &spec).await?;
            if let Err(e) = self.listen_in(&net, &att.container_id, netns, ip).await {
                let _ = self.links.delete_link_in(&inside, &ifname).await;
                return Err(e);
            }
            (String::new(), mac)
        };
        let ep = Endpoint {
            network_id: net.id.clone(),
            network_name: net.name.clone(),
            container_id: att.container_id.clone(),
            container_name: att.container_name.clone(),
            aliases: att.aliases.clone(),
            netns: netns.to_path_buf(),
            ifname,
            host_ifname,
            ip,
            prefix_len: net.subnet().prefix_len(),
            gateway: net.gateway(),
            mac,
            ports,
            dns_server: net.dns.then_some(if net.is_bridge() {
                net.gateway()
            } else {
                IN_NETNS_DNS
            }),
            dns_upstreams: att.dns_upstreams.clone(),
            links: att.links.clone(),
            v6,
        };
        if let Some(n) = st.networks.get_mut(&net.id) {
            n.ipam = ipam;
            n.ipam6 = ipam6;
        }
        self.commit_endpoint(&mut st, &ep, holds).await?;
        if net.dns {
            self.dns_add(&ep);
        }
        Ok(ep)
    }

    /// The network of an attach request, if the request can be met: a container id, not
    /// attached yet, a namespace file.
    fn check_attach(
        &self,
        st: &State,
        netns: &Path,
        network: &str,
        att: &Attachment,
    ) -> Result<Network, NetError> {
        let net = st.get(network)?.clone();
        if att.container_id.is_empty() {
            return Err(NetError::Invalid("attach: empty container id".into()));
        }
        if st
            .endpoints
            .contains_key(&(att.container_id.clone(), net.id.clone()))
        {
            return Err(NetError::Conflict(format!(
                "container {} is already attached to network {}",
                att.container_name, net.name
            )));
        }
        if !self.links.is_netns(netns) {
            return Err(NetError::NotFound(format!(
                "{} is not a network namespace",
                netns.display()
            )));
        }
        Ok(net)
    }

    /// Record a plugged-in endpoint and publish its ports: rules first, then the holds armed
    /// and kept. If the firewall refuses them, the endpoint is unplugged again (address, veth,
    /// rules, holds).
    async fn commit_endpoint(
        &self,
        st: &mut State,
        ep: &Endpoint,
        holds: Holds<F::Hold>,
    ) -> Result<(), NetError> {
        let key = (ep.container_id.clone(), ep.network_id.clone());
        st.endpoints.insert(key.clone(), ep.clone());
        if ep.ports.is_empty() {
            return Ok(());
        }
        let res = match self.apply_firewall(st).await {
            Ok(()) => self.arm(&holds),
            Err(e) => Err(e),
        };
        let Err(e) = res else {
            self.holds().insert(key, holds);
            return Ok(());
        };
        drop(holds);
        st.endpoints.remove(&key);
        if let Some(n) = st.networks.get_mut(&ep.network_id) {
            release(n, ep);
        }
        let _ = self.links.delete_link(&ep.host_ifname).await;
        let _ = self.apply_firewall(st).await;
        Err(e)
    }

    /// Detach a container from a network: ports (holds, then rules), DNS records, address, veth. Goes on through
    /// errors and reports them all. The veth pair is deleted in the background, in batches (see
    /// [`crate::net::reaper`]). [`settle`](Self::settle) waits for (and reports) pending
    /// deletions; `remove_network`, `restore`, `shutdown` and a re-attach of the same pair do
    /// so themselves.
    pub async fn detach(&self, container_id: &str, network: &str) -> Result<(), NetError> {
        let mut st = self.state.lock().await;
        let nid = st.get(network)?.id.clone();
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
        // The holds go before the rules: a held socket never listens without its DNAT rule.
        drop(
            self.holds()
                .remove(&(container_id.to_string(), nid.to_string())),
        );
        if !ep.ports.is_empty() {
            if let Err(e) = self.apply_firewall(st).await {
                errs.push(format!("removing published ports: {e}"));
            }
        }
        // The kernel's veth deletion waits for RCU grace periods, so it runs in the background
        // (settle() waits for it). The link is not set down first to cut traffic at once: that
        // would cost the next netlink call as much again (deferred linkwatch work). The DNS
        // records and ports are gone already, and IPAM does not hand the address out at once.
        if st.networks.get(nid).is_none_or(|n| n.is_bridge()) {
            self.links.delete_later(&ep.host_ifname);
        } else {
            // A macvlan/ipvlan link lives in the container's namespace (and goes with it).
            self.dns.unlisten(&dns_key(nid, container_id)).await;
            match self.links.enter(&ep.netns).await {
                Ok(inside) => {
                    if let Err(e) = self.links.delete_link_in(&inside, &ep.ifname).await {
                        errs.push(format!("deleting {} of {container_id}: {e}", ep.ifname));
                    }
                }
                Err(_) if !self.links.is_netns(&ep.netns) => {}
                Err(e) => errs.push(e.to_string()),
            }
        }
        if let Some(n) = st.networks.get_mut(nid) {
            release(n, &ep);
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
        let net = st.get(network)?.clone();
        if net.internal {
            return Ok(Vec::new());
        }
        let key = (container_id.to_string(), net.id.clone());
        // Its own current ports do not conflict with the new ones.
        let Some(old) = st
            .endpoints
            .get_mut(&key)
            .map(|e| std::mem::take(&mut e.ports))
        else {
            return Err(NetError::NotFound(format!(
                "container {container_id} is not attached to network {}",
                net.name
            )));
        };
        let set_ports = |st: &mut State, ports: Vec<PortMapping>| {
            if let Some(e) = st.endpoints.get_mut(&key) {
                e.ports = ports;
            }
        };
        // The holds of identical mappings carry over; the others are released first (a new
        // mapping may take their port) and taken again if the change fails.
        let mut reuse = self.holds().remove(&key).unwrap_or_default();
        reuse.retain(|(r, _)| {
            wanted
                .iter()
                .any(|m| (r.host_ip, r.host_port, r.proto) == (m.host_ip, m.host_port, m.proto))
        });
        let ip6 = st.endpoints.get(&key).and_then(|e| e.v6).map(|v| v.ip);
        let undo = |st: &mut State, old: Vec<PortMapping>| {
            let (holds, _) = self.rehold(&old, ip6);
            set_ports(st, old);
            self.holds().insert(key.clone(), holds);
        };
        let holds = match self.resolve_ports(&st, container_id, wanted, ip6, &mut reuse) {
            Ok(r) => r,
            Err(e) => {
                drop(reuse);
                undo(&mut st, old);
                return Err(e);
            }
        };
        drop(reuse);
        let resolved: Vec<PortMapping> = holds.iter().map(|(m, _)| *m).collect();
        set_ports(&mut st, resolved.clone());
        let res = match self.apply_firewall(&st).await {
            Ok(()) => self.arm(&holds),
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            drop(holds);
            set_ports(&mut st, old.clone());
            let _ = self.apply_firewall(&st).await;
            undo(&mut st, old);
            return Err(e);
        }
        if !holds.is_empty() {
            self.holds().insert(key, holds);
        }
        Ok(resolved)
    }

    /// Remove every published port of a container (it stopped). Returns what was published.
    pub async fn unpublish(&self, container_id: &str) -> Result<Vec<PortMapping>, NetError> {
        let mut st = self.state.lock().await;
        // The holds go before the rules.
        self.holds().retain(|(c, _), _| c != container_id);
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
}

/// Give an endpoint's addresses back to its network.
fn release(net: &mut Network, ep: &Endpoint) {
    net.ipam.release(ep.ip);
    if let (Some(i), Some(v6)) = (net.ipam6.as_mut(), ep.v6) {
        i.release(v6.ip);
    }
}
