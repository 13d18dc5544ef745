//! The seam between the network manager and the host: every kernel call the manager makes goes
//! through [`NetworkDriver`] (links over netlink, namespaces, sysctls, background veth deletion)
//! and every firewall call through [`FirewallDriver`] (the nftables table, the sockets holding
//! published host ports).
//!
//! Why a seam: the manager's rules (which address, which name, what to undo on failure, what
//! `restore` repairs) are most of its code, and they can only be tested as root on a real host
//! without it. With the kernel behind these traits, the manager runs against an in-memory double
//! in plain unit tests (see `fake`), and the host implementations ([`super::host`]) stay thin
//! translations of each call. The split follows netavark's `NetworkDriver` / `FirewallDriver`.
//!
//! The traits are generic parameters of the manager, not trait objects: a container namespace
//! handle ([`NetworkDriver::Netns`]) is opened once per attach and used for several calls, which
//! an associated type expresses without boxing or downcasts.

use std::future::Future;
use std::net::{IpAddr, SocketAddrV6};
use std::path::Path;

use super::bridge::{BridgeSpec, Link, VethSpec};
use super::firewall::Ruleset;
use super::ports::Proto;
use super::sublink::SubSpec;
use super::NetError;

/// The kernel side of bridge, macvlan and ipvlan networks, as the manager uses it.
pub trait NetworkDriver: Send + Sync + 'static {
    /// A handle on one container network namespace, from [`enter`](Self::enter).
    type Netns: Send + Sync;

    /// A link of the host namespace by name.
    fn link(&self, name: &str) -> impl Future<Output = Result<Option<Link>, NetError>> + Send;
    /// Every link of the host namespace.
    fn links(&self) -> impl Future<Output = Result<Vec<Link>, NetError>> + Send;
    /// Subnets the host routes already (a new network must not take one).
    fn routed_subnets(&self) -> impl Future<Output = Result<Vec<ipnet::IpNet>, NetError>> + Send;
    /// Create or adopt a bridge with its gateway address, up (idempotent).
    fn ensure_bridge(
        &self,
        spec: &BridgeSpec<'_>,
    ) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Delete a host link now; `false` when there was none.
    fn delete_link(&self, name: &str) -> impl Future<Output = Result<bool, NetError>> + Send;
    /// Queue a host link for deletion in the background (a missing one is no error).
    fn delete_later(&self, name: &str);
    /// Wait for the queued deletions; report (once) those that failed.
    fn settle(&self) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Wait until `name` is no longer queued for deletion.
    fn settle_link(&self, name: &str) -> impl Future<Output = ()> + Send;
    /// Turn on IPv4 forwarding, and IPv6 forwarding with `v6` (for networks with outside
    /// access).
    fn enable_ip_forward(&self, v6: bool) -> Result<(), NetError>;

    /// Whether `path` is a network namespace file.
    fn is_netns(&self, path: &Path) -> bool;
    /// Open a handle on the namespace at `path`.
    fn enter(&self, path: &Path) -> impl Future<Output = Result<Self::Netns, NetError>> + Send;
    /// The first free `ethN` inside the namespace.
    fn next_ifname(
        &self,
        ns: &Self::Netns,
    ) -> impl Future<Output = Result<String, NetError>> + Send;
    /// Delete a link inside the namespace; `false` when there was none.
    fn delete_link_in(
        &self,
        ns: &Self::Netns,
        name: &str,
    ) -> impl Future<Output = Result<bool, NetError>> + Send;
    /// Create the veth pair of `spec` between the bridge and the namespace, configured
    /// (address, up, default route). Returns the container side's MAC. On failure nothing is
    /// left.
    fn attach_veth(
        &self,
        ns: &Self::Netns,
        spec: &VethSpec<'_>,
    ) -> impl Future<Output = Result<String, NetError>> + Send;

    /// macvlan/ipvlan: make sure the parent link exists, creating a missing 802.1q `base.id`
    /// of an existing base. Returns whether it was created (and so is wharf's to remove).
    fn ensure_parent(&self, name: &str) -> impl Future<Output = Result<bool, NetError>> + Send;
    /// Create a dummy link, up (the parent of a network without one; an existing one is kept).
    fn create_dummy(&self, name: &str) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Create the container's macvlan/ipvlan link of `spec` inside the namespace, configured.
    /// Returns its MAC. On failure nothing is left.
    fn attach_sub(
        &self,
        ns: &Self::Netns,
        spec: &SubSpec<'_>,
    ) -> impl Future<Output = Result<String, NetError>> + Send;
}

/// The firewall side: one table owned by the manager, always replaced whole from its state.
pub trait FirewallDriver: Send + Sync + 'static {
    /// Make `table` hold exactly the rules for these networks and forwards.
    fn sync(
        &self,
        table: &str,
        rules: &Ruleset,
    ) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Delete `table` (no error when it does not exist).
    fn delete(&self, table: &str) -> impl Future<Output = Result<(), NetError>> + Send;

    /// A host port held for a published mapping; dropping it releases the port.
    type Hold: Send + Sync + 'static;
    /// Take `ip:port/proto` on the host so that nothing else can bind it while the mapping
    /// exists (port 0: a free port, chosen and kept). With `v6` (a dual-stack network's
    /// container address and port), `[::]` on the same port too for a mapping on every address,
    /// forwarding `[::1]` there once armed (and a hold on `[::]` or `[::1]` forwards them too). Returns the hold and its port; a taken port is a conflict naming its holder.
    fn hold_port(
        &self,
        proto: Proto,
        ip: IpAddr,
        port: u16,
        v6: Option<SocketAddrV6>,
    ) -> Result<(Self::Hold, u16), NetError>;
    /// Start listening on a hold: only once the port's DNAT rule is in place, so that no
    /// connection ever reaches the held socket itself.
    fn arm(&self, hold: &Self::Hold) -> Result<(), NetError>;
}
