//! Container networking: bridge networks, IPAM, NAT and published ports (each host port held by
//! a socket of the daemon's while it is mapped), isolation, embedded DNS; macvlan and ipvlan
//! networks (a link on a parent interface, DNS inside the container's namespace: [`sublink`]).
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
//!
//! # The modules
//!
//! [`types`] holds the records; [`manager`] the [`NetworkManager`] in phases (plan, attach,
//! restore); [`driver`] the traits through which it reaches the host (netlink and firewall),
//! implemented by [`host`] (rtnetlink, `nft`, the sockets holding published ports) and, in unit
//! tests, by an in-memory double;
//! [`files`] renders resolv.conf and hosts. Below them: [`bridge`] (rtnetlink calls), [`netns`],
//! [`firewall`] (the table, rendered as text), [`ipam`] (both families, over [`family`]),
//! [`ports`] (with [`loopback6`], the `[::1]` forwarding of dual-stack holds), [`reaper`],
//! [`dns`].
//!
//! Dual-stack networks (`--ipv6`): a [`Network`] has its IPv4 [`Ipam`] and an optional
//! [`Ipam6`], an [`Endpoint`] its IPv4 address and an optional [`types::EndpointV6`]; every
//! step (plan, bridge, link, routes, firewall, holds, DNS, hosts, restore) takes the IPv6 side
//! from those, so a network has at most one subnet of each family by construction.

pub mod bridge;
pub mod dns;
pub mod driver;
#[cfg(test)]
mod fake;
pub mod family;
pub mod files;
pub mod firewall;
pub mod host;
pub mod ipam;
pub mod loopback6;
pub mod manager;
pub mod netns;
pub mod ports;
pub mod reaper;
pub mod sublink;
pub mod types;

pub use bridge::Netlink;
pub use dns::DnsServer;
pub use files::{hosts_file, resolv_conf};
pub use ipam::{Ipam, Ipam6, Pool, Pool6};
pub use manager::NetworkManager;
pub use ports::{PortMapping, Proto};
pub use types::{
    Attachment, Endpoint, ManagerConfig, Network, NetworkCreate, RepairReport, DEFAULT_NETWORK,
};

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
