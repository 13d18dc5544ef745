//! The real drivers behind the manager's seam ([`super::driver`]): [`HostNetwork`] on the
//! daemon's rtnetlink socket (with the background veth [`Reaper`]) and [`Nftables`] on the `nft`
//! binary, with the sockets holding published ports ([`ports::HeldPort`], owned by the daemon
//! process). Each method is a translation of one call into [`super::bridge`], [`super::netns`],
//! [`super::firewall`] or [`super::ports`]; the decisions stay in the manager.

use std::net::{IpAddr, SocketAddrV6};
use std::path::Path;

use super::bridge::{self, BridgeSpec, Link, Netlink, VethSpec};
use super::driver::{FirewallDriver, NetworkDriver};
use super::firewall::{self, Ruleset};
use super::ports::{self, Proto};
use super::reaper::Reaper;
use super::sublink::{self, SubSpec};
use super::{netns, NetError};

/// Links over rtnetlink in the daemon's namespace and in containers' namespaces.
pub struct HostNetwork {
    nl: Netlink,
    /// Deletes detached host veths in the background (see [`Reaper`]).
    reaper: Reaper,
}

impl HostNetwork {
    /// Opens the daemon's netlink socket. Needs a tokio runtime.
    pub fn connect() -> Result<Self, NetError> {
        Ok(HostNetwork {
            nl: Netlink::connect()?,
            reaper: Reaper::new(),
        })
    }
}

impl NetworkDriver for HostNetwork {
    type Netns = Netlink;

    async fn link(&self, name: &str) -> Result<Option<Link>, NetError> {
        self.nl.link(name).await
    }

    async fn links(&self) -> Result<Vec<Link>, NetError> {
        self.nl.links().await
    }

    async fn routed_subnets(&self) -> Result<Vec<ipnet::IpNet>, NetError> {
        self.nl.routed_subnets().await
    }

    async fn ensure_bridge(&self, spec: &BridgeSpec<'_>) -> Result<(), NetError> {
        bridge::ensure_bridge(&self.nl, spec).await
    }

    async fn delete_link(&self, name: &str) -> Result<bool, NetError> {
        self.nl.delete_link(name).await
    }

    fn delete_later(&self, name: &str) {
        self.reaper.delete(name)
    }

    async fn settle(&self) -> Result<(), NetError> {
        self.reaper.settle().await
    }

    async fn settle_link(&self, name: &str) {
        self.reaper.settle_link(name).await
    }

    fn enable_ip_forward(&self, v6: bool) -> Result<(), NetError> {
        bridge::write_sysctl("net/ipv4/ip_forward", "1")?;
        if v6 {
            bridge::write_sysctl("net/ipv6/conf/all/forwarding", "1")?;
        }
        Ok(())
    }

    fn is_netns(&self, path: &Path) -> bool {
        netns::is_netns(path)
    }

    async fn enter(&self, path: &Path) -> Result<Netlink, NetError> {
        Netlink::connect_in(path).await
    }

    async fn next_ifname(&self, ns: &Netlink) -> Result<String, NetError> {
        bridge::next_ifname(ns).await
    }

    async fn delete_link_in(&self, ns: &Netlink, name: &str) -> Result<bool, NetError> {
        ns.delete_link(name).await
    }

    async fn attach_veth(&self, ns: &Netlink, spec: &VethSpec<'_>) -> Result<String, NetError> {
        bridge::attach_veth(&self.nl, ns, spec).await
    }

    async fn ensure_parent(&self, name: &str) -> Result<bool, NetError> {
        sublink::ensure_parent(&self.nl, name).await
    }

    async fn create_dummy(&self, name: &str) -> Result<(), NetError> {
        sublink::create_dummy(&self.nl, name).await
    }

    async fn attach_sub(&self, ns: &Netlink, spec: &SubSpec<'_>) -> Result<String, NetError> {
        sublink::attach_sub(&self.nl, ns, spec).await
    }
}

/// The firewall table through `nft -f -`, one atomic script per change.
#[derive(Default)]
pub struct Nftables {
    /// Whether the table was replaced whole once: the first sync of a daemon does, which also
    /// removes the `ip` table of an older wharf; later ones update in place.
    replaced: std::sync::atomic::AtomicBool,
}

impl FirewallDriver for Nftables {
    async fn sync(&self, table: &str, rules: &Ruleset) -> Result<(), NetError> {
        use std::sync::atomic::Ordering;
        let (nets, fwd) = (&rules.networks, &rules.forwards);
        if !self.replaced.load(Ordering::Relaxed) {
            firewall::apply(&firewall::render(table, nets, fwd)).await?;
            self.replaced.store(true, Ordering::Relaxed);
            return Ok(());
        }
        match firewall::apply(&firewall::render_update(table, nets, fwd)).await {
            Ok(()) => Ok(()),
            // A table of another layout (an older wharf): replace it whole.
            Err(_) => firewall::apply(&firewall::render(table, nets, fwd)).await,
        }
    }

    async fn delete(&self, table: &str) -> Result<(), NetError> {
        firewall::apply(&firewall::render_delete(table)).await
    }

    type Hold = ports::HeldPort;

    fn hold_port(
        &self,
        proto: Proto,
        ip: IpAddr,
        port: u16,
        v6: Option<SocketAddrV6>,
    ) -> Result<(ports::HeldPort, u16), NetError> {
        let h = ports::hold_port_dual(proto, ip, port, v6)?;
        let port = h.port();
        Ok((h, port))
    }

    fn arm(&self, hold: &ports::HeldPort) -> Result<(), NetError> {
        hold.arm()
    }
}
