//! The bridge driver's kernel side, through rtnetlink: bridges, veth pairs, addresses, routes.
//!
//! All functions are async (tokio). A [`Netlink`] handle talks to one network namespace: the
//! daemon's ([`Netlink::connect`]) or a container's ([`Netlink::connect_in`], whose socket is
//! opened on a short-lived thread that joined the namespace; the socket stays bound to it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::Path;

use futures_util::TryStreamExt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteScope, RouteType,
};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use super::{netns, NetError};

/// A route-netlink handle bound to one network namespace.
#[derive(Clone)]
pub struct Netlink {
    pub(crate) handle: Handle,
}

/// What we need to know of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, ... (`None` for physical devices and loopback).
    pub kind: Option<String>,
    /// Index of the bridge it is enslaved to.
    pub controller: Option<u32>,
    pub mac: Option<String>,
    pub up: bool,
    pub mtu: Option<u32>,
}

pub(crate) fn nl_err(what: impl std::fmt::Display) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let what = what.to_string();
    move |e| NetError::System(format!("{what}: {}", describe(&e)))
}

/// The errno of a netlink error (positive), if it is one.
pub fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn describe(e: &rtnetlink::Error) -> String {
    match errno(e) {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
    }
}

fn mac_string(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn to_link(m: &LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        name: String::new(),
        kind: None,
        controller: None,
        mac: None,
        up: m.header.flags.contains(LinkFlags::Up),
        mtu: None,
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Controller(c) => l.controller = Some(*c),
            LinkAttribute::Address(b) if b.len() == 6 => l.mac = Some(mac_string(b)),
            LinkAttribute::Mtu(m) => l.mtu = Some(*m),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        l.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    l
}

impl Netlink {
    /// A handle on the calling thread's network namespace (the daemon's). Needs a tokio runtime.
    pub fn connect() -> Result<Self, NetError> {
        let (conn, handle, _) = rtnetlink::new_connection()
            .map_err(|e| NetError::System(format!("opening a netlink socket: {e}")))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// A handle on the network namespace at `netns_path`. Needs a tokio runtime.
    pub async fn connect_in(netns_path: &Path) -> Result<Self, NetError> {
        let fd = netns::run_in_async(netns_path.to_path_buf(), || {
            rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)
                .map(|s| s.into_raw_fd())
        })
        .await
        .map_err(|e| NetError::System(format!("entering {}: {e}", netns_path.display())))?
        .map_err(|e| {
            NetError::System(format!(
                "opening a netlink socket in {}: {e}",
                netns_path.display()
            ))
        })?;
        // SAFETY: fd is a fresh netlink socket we own.
        let sock = unsafe { rtnetlink::sys::TokioSocket::from_raw_fd(fd) };
        let (conn, handle, _) = rtnetlink::from_socket(sock);
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn link(&self, name: &str) -> Result<Option<Link>, NetError> {
        let mut s = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match s.try_next().await {
            Ok(Some(m)) => Ok(Some(to_link(&m))),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(nl_err(format!("looking up link {name}"))(e)),
        }
    }

    pub async fn links(&self) -> Result<Vec<Link>, NetError> {
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("listing links"))?;
        Ok(msgs.iter().map(to_link).collect())
    }

    /// Delete a link by name; `Ok(false)` if it did not exist.
    pub async fn delete_link(&self, name: &str) -> Result<bool, NetError> {
        let Some(l) = self.link(name).await? else {
            return Ok(false);
        };
        self.delete_index(l.index).await
    }

    /// Delete a link by index; `Ok(false)` if it did not exist.
    pub async fn delete_index(&self, index: u32) -> Result<bool, NetError> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_err(format!("deleting link {index}"))(e)),
        }
    }

    /// Put a link in a device group; `Ok(false)` if it did not exist.
    pub async fn set_group(&self, index: u32, group: u32) -> Result<bool, NetError> {
        let msg = LinkUnspec::new_with_index(index).link_group(group).build();
        match self.handle.link().set(msg).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_err(format!("moving link {index} to group {group}"))(e)),
        }
    }

    /// Delete every link of a device group in one kernel call; `Ok(false)` if it had none.
    pub async fn delete_group(&self, group: u32) -> Result<bool, NetError> {
        let mut del = self.handle.link().del(0);
        del.message_mut()
            .attributes
            .push(LinkAttribute::Group(group));
        match del.execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_err(format!("deleting the links of group {group}"))(e)),
        }
    }

    /// Set a link down by name; `Ok(false)` if it did not exist.
    pub async fn set_down(&self, name: &str) -> Result<bool, NetError> {
        let Some(l) = self.link(name).await? else {
            return Ok(false);
        };
        match self
            .handle
            .link()
            .set(LinkUnspec::new_with_index(l.index).down().build())
            .execute()
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_err(format!("setting link {name} down"))(e)),
        }
    }

    pub(crate) async fn set_up(&self, index: u32) -> Result<(), NetError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(nl_err(format!("bringing link {index} up")))
    }

    /// IPv4 addresses (with prefix) on a link.
    pub async fn addresses(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>, NetError> {
        let msgs: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("listing addresses"))?;
        let mut out = Vec::new();
        for m in msgs {
            for a in &m.attributes {
                if let AddressAttribute::Address(std::net::IpAddr::V4(ip)) = a {
                    out.push((*ip, m.header.prefix_len));
                }
            }
        }
        Ok(out)
    }

    /// Add an address (an existing one is fine). IPv6 ones skip duplicate address detection
    /// (`nodad`): the address is one IPAM handed out, and DAD would keep it unusable for ~1 s.
    async fn add_address(&self, index: u32, ip: IpAddr, prefix: u8) -> Result<(), NetError> {
        let mut req = self.handle.address().add(index, ip, prefix);
        if ip.is_ipv6() {
            req.message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) if ip.is_ipv6() && errno(&e) == Some(libc::EACCES) => {
                Err(NetError::System(format!(
                    "adding address {ip}/{prefix}: IPv6 is disabled on link {index} (net.ipv6.conf.*.disable_ipv6)"
                )))
            }
            Err(e) => Err(nl_err(format!("adding address {ip}/{prefix}"))(e)),
        }
    }

    /// Every route of one family in the namespace.
    async fn routes(&self, v6: bool) -> Result<Vec<RouteMessage>, NetError> {
        let req = if v6 {
            RouteMessageBuilder::<Ipv6Addr>::new().build()
        } else {
            RouteMessageBuilder::<Ipv4Addr>::new().build()
        };
        self.handle
            .route()
            .get(req)
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("listing routes"))
    }

    /// Destinations of the unicast routes of the main table (both families), default routes
    /// excluded: the subnets IPAM must not hand out.
    pub async fn routed_subnets(&self) -> Result<Vec<IpNet>, NetError> {
        let mut msgs = self.routes(false).await?;
        msgs.extend(self.routes(true).await?);
        let mut out = Vec::new();
        for m in msgs {
            if m.header.table != RouteHeader::RT_TABLE_MAIN || m.header.kind != RouteType::Unicast {
                continue;
            }
            let plen = m.header.destination_prefix_length;
            if plen == 0 {
                continue;
            }
            for a in &m.attributes {
                match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                        out.extend(Ipv4Net::new(*ip, plen).ok().map(|n| IpNet::V4(n.trunc())))
                    }
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => {
                        out.extend(Ipv6Net::new(*ip, plen).ok().map(|n| IpNet::V6(n.trunc())))
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Whether an IPv4 default route exists.
    pub async fn has_default_route(&self) -> Result<bool, NetError> {
        let msgs = self.routes(false).await?;
        Ok(msgs.iter().any(|m| {
            m.header.table == RouteHeader::RT_TABLE_MAIN
                && m.header.destination_prefix_length == 0
                && m.header.kind == RouteType::Unicast
        }))
    }
}

/// A bridge to create or adopt.
#[derive(Debug, Clone)]
pub struct BridgeSpec<'a> {
    pub name: &'a str,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    /// The IPv6 gateway address and prefix of a dual-stack network.
    pub gateway6: Option<(Ipv6Addr, u8)>,
    pub mtu: Option<u32>,
}

/// Create the bridge (or adopt an existing one of that name: idempotent, for repairs), with the
/// gateway address, up, and `route_localnet` on (published ports on 127.0.0.1).
pub async fn ensure_bridge(nl: &Netlink, spec: &BridgeSpec<'_>) -> Result<(), NetError> {
    let index = match nl.link(spec.name).await? {
        Some(l) => {
            if l.kind.as_deref() != Some("bridge") {
                return Err(NetError::Conflict(format!(
                    "a network interface named {} exists and is not a bridge",
                    spec.name
                )));
            }
            l.index
        }
        None => {
            // A fixed address: a Linux bridge otherwise takes the lowest address of its ports,
            // so it changes as containers come and go, and the containers' ARP entries for the
            // gateway go stale (their traffic to it gets flooded to the other ports instead).
            let g = spec.gateway.octets();
            let mut b =
                LinkBridge::new(spec.name).address(vec![0x02, 0x42, g[0], g[1], g[2], g[3]]);
            if let Some(mtu) = spec.mtu {
                b = b.mtu(mtu);
            }
            match nl.handle.link().add(b.build()).execute().await {
                Ok(()) => {}
                Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                Err(e) => return Err(nl_err(format!("creating bridge {}", spec.name))(e)),
            }
            nl.link(spec.name)
                .await?
                .ok_or_else(|| {
                    NetError::System(format!("bridge {} vanished after creation", spec.name))
                })?
                .index
        }
    };
    if spec.gateway6.is_some() {
        write_sysctl(&format!("net/ipv6/conf/{}/disable_ipv6", spec.name), "0")?;
    }
    nl.add_address(index, spec.gateway.into(), spec.prefix)
        .await?;
    if let Some((gw6, prefix6)) = spec.gateway6 {
        nl.add_address(index, gw6.into(), prefix6).await?;
    }
    nl.set_up(index).await?;
    write_sysctl(&format!("net/ipv4/conf/{}/route_localnet", spec.name), "1")?;
    Ok(())
}

/// Write a sysctl of the daemon's namespace (`path` relative to /proc/sys), if it differs.
pub fn write_sysctl(path: &str, value: &str) -> Result<(), NetError> {
    let full = format!("/proc/sys/{path}");
    if std::fs::read_to_string(&full)
        .map(|v| v.trim() == value)
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(&full, value)
        .map_err(|e| NetError::System(format!("setting {full} to {value}: {e}")))
}

/// The container's end of a link, whatever kind of link it is (veth, macvlan, ipvlan): what
/// [`configure_peer`] sets up inside the namespace.
#[derive(Debug, Clone)]
pub struct PeerSpec<'a> {
    pub netns: &'a Path,
    /// Name inside the container (`eth0`, `eth1`, ...).
    pub ifname: &'a str,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    /// Default route via this gateway (unless the namespace already has one); `None` for
    /// internal networks.
    pub default_gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
    /// The link's address; the kernel picks a random one when `None`.
    pub mac: Option<crate::net::types::Mac>,
    /// The IPv6 address of a dual-stack network.
    pub v6: Option<PeerV6>,
}

/// The IPv6 side of a container's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerV6 {
    pub ip: Ipv6Addr,
    pub prefix: u8,
    /// Default IPv6 route via this gateway (unless the namespace has one); `None` on internal
    /// networks.
    pub default_gateway: Option<Ipv6Addr>,
}

/// One veth attachment of a container namespace to a bridge.
#[derive(Debug, Clone)]
pub struct VethSpec<'a> {
    /// Host-side name (≤ 15 bytes).
    pub host_ifname: &'a str,
    pub bridge: &'a str,
    pub peer: PeerSpec<'a>,
}

/// Create the veth pair with its peer created directly in the container's namespace under its
/// final name, enslave the host end to the bridge, and configure the peer through
/// `inside`, a handle on that namespace (address, up, default route; lo up). (The peer cannot
/// be created up: veth refuses to open before its host end exists.) Returns the container
/// side's MAC address. On failure nothing is left.
pub async fn attach_veth(
    host: &Netlink,
    inside: &Netlink,
    spec: &VethSpec<'_>,
) -> Result<String, NetError> {
    let bridge = host
        .link(spec.bridge)
        .await?
        .ok_or_else(|| NetError::NotFound(format!("bridge {} does not exist", spec.bridge)))?;
    let ns = std::fs::File::open(spec.peer.netns).map_err(|e| {
        NetError::NotFound(format!(
            "network namespace {}: {e}",
            spec.peer.netns.display()
        ))
    })?;
    let mtu = spec.peer.mtu.or(bridge.mtu).filter(|m| *m > 0);
    let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(spec.peer.ifname.to_string())
        .setns_by_fd(ns.as_raw_fd());
    if let Some(m) = mtu {
        peer = peer.mtu(m);
    }
    if let Some(mac) = spec.peer.mac {
        peer = peer.address(mac.to_vec());
    }
    let mut msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(spec.host_ifname.to_string())
        .controller(bridge.index)
        .up()
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
    if let Some(m) = mtu {
        msg = msg.mtu(m);
    }
    host.handle
        .link()
        .add(msg.build())
        .execute()
        .await
        .map_err(|e| {
            if errno(&e) == Some(libc::EEXIST) {
                NetError::Conflict(format!(
                    "interface {} (host side) or {} (in {}) already exists",
                    spec.host_ifname,
                    spec.peer.ifname,
                    spec.peer.netns.display()
                ))
            } else {
                nl_err(format!(
                    "creating veth pair {}/{}",
                    spec.host_ifname, spec.peer.ifname
                ))(e)
            }
        })?;
    drop(ns);
    // Hairpin: with br_netfilter, a container's packet to its own published port through a host
    // address is DNATed on the bridge and must leave by the port it came in on.
    if let Err(e) = set_hairpin(host, spec.host_ifname).await {
        let _ = host.delete_link(spec.host_ifname).await;
        return Err(e);
    }
    match configure_peer(inside, &spec.peer).await {
        Ok(mac) => Ok(mac),
        Err(e) => {
            let _ = host.delete_link(spec.host_ifname).await;
            Err(e)
        }
    }
}

/// Turn on hairpin mode on a bridge port, like Docker without its userland proxy. Through
/// netlink (`ip link set PORT type bridge_slave hairpin on`), not sysfs: /sys shows the
/// network namespace it was mounted in, which need not be the daemon's.
async fn set_hairpin(host: &Netlink, port: &str) -> Result<(), NetError> {
    let fail = |e: String| NetError::System(format!("setting hairpin mode on {port}: {e}"));
    let link = host
        .link(port)
        .await?
        .ok_or_else(|| fail("no such link".into()))?;
    host.handle
        .link()
        .set_port(
            rtnetlink::LinkBridgePort::new(link.index)
                .hairpin(true)
                .build(),
        )
        .execute()
        .await
        .map_err(|e| fail(e.to_string()))
}

/// Configure the container's end of a link (`spec.ifname` in `spec.netns`, through `nl`, a
/// handle on that namespace): address, up, lo up, default route (veth, macvlan and ipvlan
/// links alike).
pub(crate) async fn configure_peer(nl: &Netlink, spec: &PeerSpec<'_>) -> Result<String, NetError> {
    let link = nl.link(spec.ifname).await?.ok_or_else(|| {
        NetError::System(format!(
            "{} did not appear in {}",
            spec.ifname,
            spec.netns.display()
        ))
    })?;
    nl.add_address(link.index, spec.ip.into(), spec.prefix)
        .await?;
    if let Some(v6) = &spec.v6 {
        nl.add_address(link.index, v6.ip.into(), v6.prefix).await?;
    }
    nl.set_up(link.index).await?;
    // Loopback has this index in every namespace; setting it up again is a no-op.
    nl.set_up(LOOPBACK_INDEX).await?;
    if let Some(gw) = spec.default_gateway {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(link.index)
            .scope(RouteScope::Universe)
            .build();
        add_default_route(nl, route, gw.into()).await?;
    }
    if let Some(gw) = spec.v6.and_then(|v| v.default_gateway) {
        let route = RouteMessageBuilder::<Ipv6Addr>::new()
            .gateway(gw)
            .output_interface(link.index)
            .build();
        add_default_route(nl, route, gw.into()).await?;
    }
    Ok(link.mac.unwrap_or_default())
}

/// Add a default route, unless the namespace has one of that family already (another
/// network's: EEXIST).
async fn add_default_route(nl: &Netlink, route: RouteMessage, gw: IpAddr) -> Result<(), NetError> {
    match nl.handle.route().add(route).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(nl_err(format!("adding the default route via {gw}"))(e)),
    }
}

/// The loopback device's index, the same in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// The name of an interface inside a namespace that is not taken yet: `eth0`, `eth1`, ...
pub async fn next_ifname(inside: &Netlink) -> Result<String, NetError> {
    let links = inside.links().await?;
    for i in 0.. {
        let name = format!("eth{i}");
        if !links.iter().any(|l| l.name == name) {
            return Ok(name);
        }
    }
    unreachable!()
}

/// Whether `name` is a valid interface name.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
