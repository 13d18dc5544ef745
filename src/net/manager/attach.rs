//! Endpoints: attaching a container's namespace to a network (address, veth, route, DNS
//! records, published ports), detaching it, and changing its published ports. Attach is all or
//! nothing; detach goes on through errors and reports them all.

use std::path::Path;

use super::{join_errors, NetworkManager, State};
use crate::net::bridge::{self, VethSpec};
use crate::net::driver::{FirewallDriver, NetworkDriver};
use crate::net::firewall;
use crate::net::ports::{self, PortMapping};
use crate::net::types::{Attachment, Endpoint, Network};
use crate::net::NetError;

/// The veth of an endpoint on `net`.
pub(super) fn veth_spec<'a>(
    net: &'a Network,
    netns: &'a Path,
    host_ifname: &'a str,
    ifname: &'a str,
    ip: std::net::Ipv4Addr,
) -> VethSpec<'a> {
    VethSpec {
        host_ifname,
        bridge: &net.bridge,
        netns,
        ifname,
        ip,
        prefix: net.subnet().prefix_len(),
        default_gateway: (!net.internal).then_some(net.gateway()),
        mtu: net.mtu,
    }
}

impl<D: NetworkDriver, F: FirewallDriver> NetworkManager<D, F> {
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
                self.fw.check_port_free(m.proto, m.host_ip, m.host_port)?;
                out.push(*m);
                continue;
            }
            let free = |cand: &PortMapping| {
                taken(cand, &out).is_none()
                    && self
                        .fw
                        .check_port_free(m.proto, m.host_ip, cand.host_port)
                        .is_ok()
            };
            out.push(ephemeral_port(m, free)?);
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
        let net = self.check_attach(&st, netns, network, &att)?;
        let ports = if net.internal {
            Vec::new()
        } else {
            self.resolve_ports(&st, &att.container_id, &att.ports)?
        };
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
        let host_ifname = self.host_ifname(&att.container_id, &net.id);
        self.links.settle_link(&host_ifname).await;
        let spec = veth_spec(&net, netns, &host_ifname, &ifname, ip);
        let mac = self.links.attach_veth(&inside, &spec).await?;
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
            dns_server: net.dns.then_some(net.gateway()),
            dns_upstreams: att.dns_upstreams.clone(),
        };
        if let Some(n) = st.networks.get_mut(&net.id) {
            n.ipam = ipam;
        }
        self.commit_endpoint(&mut st, &ep).await?;
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

    /// Record a plugged-in endpoint and publish its ports; if the firewall refuses them, the
    /// endpoint is unplugged again (address, veth, rules).
    async fn commit_endpoint(&self, st: &mut State, ep: &Endpoint) -> Result<(), NetError> {
        let key = (ep.container_id.clone(), ep.network_id.clone());
        st.endpoints.insert(key.clone(), ep.clone());
        if ep.ports.is_empty() {
            return Ok(());
        }
        let Err(e) = self.apply_firewall(st).await else {
            return Ok(());
        };
        st.endpoints.remove(&key);
        if let Some(n) = st.networks.get_mut(&ep.network_id) {
            n.ipam.release(ep.ip);
        }
        let _ = self.links.delete_link(&ep.host_ifname).await;
        let _ = self.apply_firewall(st).await;
        Err(e)
    }

    /// Detach a container from a network: ports, DNS records, address, veth. Goes on through
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
        if !ep.ports.is_empty() {
            if let Err(e) = self.apply_firewall(st).await {
                errs.push(format!("removing published ports: {e}"));
            }
        }
        // The kernel's veth deletion waits for RCU grace periods, so it runs in the background
        // (settle() waits for it). The link is not set down first to cut traffic at once: that
        // would cost the next netlink call as much again (deferred linkwatch work). The DNS
        // records and ports are gone already, and IPAM does not hand the address out at once.
        self.links.delete_later(&ep.host_ifname);
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
        let resolved = match self.resolve_ports(&st, container_id, wanted) {
            Ok(r) => r,
            Err(e) => {
                set_ports(&mut st, old);
                return Err(e);
            }
        };
        set_ports(&mut st, resolved.clone());
        if let Err(e) = self.apply_firewall(&st).await {
            set_ports(&mut st, old);
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
}

/// A free host port for an ephemeral mapping `m` (host port 0), from a random start in the
/// ephemeral range.
fn ephemeral_port(
    m: &PortMapping,
    free: impl Fn(&PortMapping) -> bool,
) -> Result<PortMapping, NetError> {
    let (lo, hi) = ports::ephemeral_range();
    let span = (hi - lo) as u32 + 1;
    let start = rand::random::<u32>() % span;
    (0..span)
        .map(|i| PortMapping {
            host_port: lo + ((start + i) % span) as u16,
            ..*m
        })
        .find(|cand| free(cand))
        .ok_or_else(|| {
            NetError::Exhausted(format!(
                "no free host port for {}/{}",
                m.container_port, m.proto
            ))
        })
}
