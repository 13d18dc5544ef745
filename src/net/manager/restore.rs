//! Daemon start: the stored networks and the endpoints of live containers adopted, and the host
//! repaired to match them, one phase after the other (bridges, stray links, vanished veths,
//! IPAM, firewall, DNS). Every phase goes on through errors and adds them to the report: a
//! daemon must come up even when part of the host is broken.

use std::collections::{BTreeMap, BTreeSet};

use super::attach::veth_spec;
use super::{NetworkManager, State};
use crate::net::bridge::Link;
use crate::net::driver::{FirewallDriver, NetworkDriver};
use crate::net::ipam::{Family, IpamOf};
use crate::net::types::{Endpoint, Network, RepairReport};
use crate::net::NetError;

impl<D: NetworkDriver, F: FirewallDriver> NetworkManager<D, F> {
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
        self.holds().clear();
        self.adopt(&mut st, networks, endpoints, &mut rep);
        self.repair_bridges(&st, &mut rep).await;
        match self.links.links().await {
            Ok(links) => {
                self.remove_stray_links(&st, &links, &mut rep).await;
                self.reattach_vanished(&mut st, &links, &mut rep).await;
            }
            Err(e) => rep.errors.push(format!("listing links: {e}")),
        }
        reconcile_ipam(&mut st, &mut rep);
        if let Err(e) = self.apply_firewall(&st).await {
            rep.errors.push(format!("firewall: {e}"));
        } else {
            self.restore_holds(&st, &mut rep);
        }
        self.restore_dns(&st, &mut rep).await;
        rep
    }

    /// Take the stored networks, and the endpoints whose network and namespace still exist.
    fn adopt(
        &self,
        st: &mut State,
        networks: Vec<Network>,
        endpoints: Vec<Endpoint>,
        rep: &mut RepairReport,
    ) {
        st.networks = networks.into_iter().map(|n| (n.id.clone(), n)).collect();
        st.endpoints.clear();
        for mut ep in endpoints {
            if !st.networks.contains_key(&ep.network_id) || !self.links.is_netns(&ep.netns) {
                rep.dropped_endpoints
                    .push((ep.container_id.clone(), ep.network_name.clone()));
                continue;
            }
            if st
                .networks
                .get(&ep.network_id)
                .is_some_and(|n| n.is_bridge())
            {
                ep.host_ifname = self.host_ifname(&ep.container_id, &ep.network_id);
            }
            st.endpoints
                .insert((ep.container_id.clone(), ep.network_id.clone()), ep);
        }
    }

    /// Every network's bridge, re-created if missing (and forwarding on where it is needed).
    async fn repair_bridges(&self, st: &State, rep: &mut RepairReport) {
        for net in st.networks.values() {
            if !net.is_bridge() {
                self.repair_parent(net, rep).await;
                continue;
            }
            if let Err(e) = self.links.ensure_bridge(&Self::bridge_spec(net)).await {
                rep.errors.push(format!("network {}: {e}", net.name));
            }
            if !net.internal && self.cfg.enable_ip_forward {
                if let Err(e) = self.links.enable_ip_forward(net.enable_ipv6()) {
                    rep.errors.push(e.to_string());
                }
            }
        }
    }

    /// A macvlan/ipvlan network's parent: one wharf created is created again if missing; a
    /// missing parent of the user's is reported.
    async fn repair_parent(&self, net: &Network, rep: &mut RepairReport) {
        let Some(parent) = net.parent.as_deref() else {
            return;
        };
        let res = match self.links.link(parent).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) if net.parent_created && !net.options.contains_key("parent") => {
                self.links.create_dummy(parent).await
            }
            Ok(None) if net.parent_created => self.links.ensure_parent(parent).await.map(|_| ()),
            Ok(None) => Err(NetError::NotFound(format!(
                "parent interface {parent} does not exist"
            ))),
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            rep.errors.push(format!("network {}: {e}", net.name));
        }
    }

    /// Delete the veths on our bridges that no endpoint owns, and the bridges with our prefix
    /// that no network owns.
    async fn remove_stray_links(&self, st: &State, links: &[Link], rep: &mut RepairReport) {
        let ours: BTreeSet<u32> = links
            .iter()
            .filter(|l| st.networks.values().any(|n| n.bridge == l.name))
            .map(|l| l.index)
            .collect();
        let expected: BTreeSet<&str> = st
            .endpoints
            .values()
            .map(|e| e.host_ifname.as_str())
            .collect();
        for l in links {
            let on_our_bridge = l.controller.is_some_and(|c| ours.contains(&c));
            let stale_veth = on_our_bridge && !expected.contains(l.name.as_str());
            let stale_bridge = l.kind.as_deref() == Some("bridge")
                && !self.cfg.bridge_prefix.is_empty()
                && l.name.starts_with(&self.cfg.bridge_prefix)
                && !st.networks.values().any(|n| n.bridge == l.name);
            if stale_veth || stale_bridge {
                match self.links.delete_link(&l.name).await {
                    Ok(_) => rep.removed_links.push(l.name.clone()),
                    Err(e) => rep.errors.push(format!("deleting {}: {e}", l.name)),
                }
            }
        }
    }

    /// Endpoints whose veth vanished while the namespace lives: set up again, or dropped.
    async fn reattach_vanished(&self, st: &mut State, links: &[Link], rep: &mut RepairReport) {
        // (macvlan/ipvlan endpoints have no host link: their link lives in the namespace.)
        let missing: Vec<Endpoint> = st
            .endpoints
            .values()
            .filter(|e| !e.host_ifname.is_empty())
            .filter(|e| !links.iter().any(|l| l.name == e.host_ifname))
            .cloned()
            .collect();
        for ep in missing {
            let Some(net) = st.networks.get(&ep.network_id).cloned() else {
                continue;
            };
            let key = (ep.container_id.clone(), ep.network_id.clone());
            match self.reattach(&ep, &net).await {
                Ok(mac) => {
                    if let Some(e) = st.endpoints.get_mut(&key) {
                        e.mac = mac;
                    }
                    rep.reattached
                        .push((ep.container_id.clone(), net.name.clone()));
                }
                // Not entering the namespace is reported and the endpoint kept (as before
                // the veth existed); a failed set-up drops it.
                Err(Reattach::Enter(e)) => rep.errors.push(e.to_string()),
                Err(Reattach::Veth(e)) => {
                    rep.errors.push(format!(
                        "re-attaching {} to {}: {e}",
                        ep.container_name, net.name
                    ));
                    st.endpoints.remove(&key);
                    rep.dropped_endpoints
                        .push((ep.container_id.clone(), net.name.clone()));
                }
            }
        }
    }

    /// Set up the veth of `ep` again; returns the new MAC.
    async fn reattach(&self, ep: &Endpoint, net: &Network) -> Result<String, Reattach> {
        let inside = self.links.enter(&ep.netns).await.map_err(Reattach::Enter)?;
        // A leftover peer of that name in the namespace would block re-creation.
        let _ = self.links.delete_link_in(&inside, &ep.ifname).await;
        // The same address as before, so neighbours' ARP caches stay right.
        let mac = crate::docker::mac::parse_mac(&ep.mac).ok();
        let ips = (ep.ip, ep.v6);
        let spec = veth_spec(net, &ep.netns, &ep.host_ifname, &ep.ifname, ips, mac);
        self.links
            .attach_veth(&inside, &spec)
            .await
            .map_err(Reattach::Veth)
    }

    /// The host ports of the published mappings, held again (their rules are in place). A port
    /// that something took while no daemon held it is reported; its NAT rule stays.
    fn restore_holds(&self, st: &State, rep: &mut RepairReport) {
        for (key, ep) in &st.endpoints {
            if ep.ports.is_empty() || st.networks.get(&ep.network_id).is_none_or(|n| n.internal) {
                continue;
            }
            let (holds, errs) = self.rehold(&ep.ports, ep.v6.map(|v| v.ip));
            rep.errors.extend(
                errs.into_iter()
                    .map(|e| format!("container {}: {e}", ep.container_name)),
            );
            self.holds().insert(key.clone(), holds);
        }
    }

    /// DNS listeners of the networks with embedded DNS, and the records of their endpoints.
    async fn restore_dns(&self, st: &State, rep: &mut RepairReport) {
        for net in st.networks.values().filter(|n| n.dns && n.is_bridge()) {
            let addr = self.dns_addr(net);
            if let Err(e) = self.dns.listen(&net.id, addr, net.internal).await {
                rep.errors
                    .push(format!("DNS for network {} on {addr}: {e}", net.name));
            }
        }
        for ep in st.endpoints.values() {
            let Some(net) = st.networks.get(&ep.network_id).filter(|n| n.dns) else {
                continue;
            };
            self.dns_add(ep);
            if !net.is_bridge() {
                if let Err(e) = self
                    .listen_in(net, &ep.container_id, &ep.netns, ep.ip)
                    .await
                {
                    rep.errors.push(e.to_string());
                }
            }
        }
    }
}

/// Why a vanished veth was not set up again.
enum Reattach {
    Enter(NetError),
    Veth(NetError),
}

/// IPAM allocations made to match the live endpoints exactly (both families): stale ones
/// released, each live address owned by its endpoint's container.
fn reconcile_ipam(st: &mut State, rep: &mut RepairReport) {
    for (nid, net) in st.networks.iter_mut() {
        let eps = || st.endpoints.values().filter(|e| &e.network_id == nid);
        let live4 = eps().map(|e| (e.ip, e.container_id.as_str()));
        reconcile(&mut net.ipam, live4.collect(), rep);
        if let Some(i6) = net.ipam6.as_mut() {
            let live6 = eps().filter_map(|e| Some((e.v6?.ip, e.container_id.as_str())));
            reconcile(i6, live6.collect(), rep);
        }
    }
}

/// One family's allocations set to `live` (address → owner).
fn reconcile<N: Family>(
    ipam: &mut IpamOf<N>,
    live: BTreeMap<N::Addr, &str>,
    rep: &mut RepairReport,
) {
    let stale: Vec<N::Addr> = ipam
        .allocated
        .keys()
        .filter(|ip| !live.contains_key(ip))
        .copied()
        .collect();
    for ip in stale {
        ipam.release(ip);
        rep.released_ips.push(ip.into());
    }
    for (ip, owner) in live {
        ipam.allocated.insert(ip, owner.to_string());
    }
}
