//! The macvlan and ipvlan drivers' kernel side, through rtnetlink: the container's link created
//! on a parent interface directly inside its namespace, and the parents wharf creates itself
//! (an 802.1q sub-interface `eth0.10` of an existing `eth0`, or a dummy link for a network
//! without a parent).
//!
//! Unlike a bridge network there is nothing on the host per container: no veth end, no bridge,
//! no NAT. The container is on the parent's segment with its own address (macvlan: its own MAC
//! too; ipvlan: the parent's MAC), which is also why the host cannot reach it through the
//! parent, and why the embedded DNS answers inside the container's namespace (see
//! [`crate::net::dns::DnsServer::listen_in`]).

use std::os::fd::AsRawFd;

use rtnetlink::packet_route::link::{IpVlanMode, MacVlanMode};
use rtnetlink::{LinkDummy, LinkIpVlan, LinkMacVlan, LinkVeth, LinkVlan};

use super::bridge::{configure_peer, errno, nl_err, valid_ifname, Netlink, PeerSpec};
use super::NetError;

/// The kind of link a container gets on a parent, with its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubKind {
    Macvlan(MacvlanMode),
    Ipvlan(IpvlanMode),
}

/// `-o macvlan_mode=`: bridge (default), private, vepa, passthru.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

/// `-o ipvlan_mode=`: l2 (default), l3, l3s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanMode {
    L2,
    L3,
    L3s,
}

impl SubKind {
    /// The kind of a network of `driver` with its `options` (`macvlan_mode`, `ipvlan_mode`).
    pub fn parse(
        driver: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<SubKind, NetError> {
        match driver {
            "macvlan" => {
                let mode = match options.get("macvlan_mode").map(String::as_str) {
                    None | Some("") | Some("bridge") => MacvlanMode::Bridge,
                    Some("private") => MacvlanMode::Private,
                    Some("vepa") => MacvlanMode::Vepa,
                    Some("passthru") => MacvlanMode::Passthru,
                    Some(m) => {
                        return Err(NetError::Invalid(format!(
                            "invalid macvlan_mode {m:?}: expected bridge, private, vepa or passthru"
                        )))
                    }
                };
                Ok(SubKind::Macvlan(mode))
            }
            "ipvlan" => {
                let mode = match options.get("ipvlan_mode").map(String::as_str) {
                    None | Some("") | Some("l2") => IpvlanMode::L2,
                    Some("l3") => IpvlanMode::L3,
                    Some("l3s") => IpvlanMode::L3s,
                    Some(m) => {
                        return Err(NetError::Invalid(format!(
                            "invalid ipvlan_mode {m:?}: expected l2, l3 or l3s"
                        )))
                    }
                };
                Ok(SubKind::Ipvlan(mode))
            }
            other => Err(NetError::Invalid(format!(
                "network driver {other:?} has no parent interface"
            ))),
        }
    }
}

/// An 802.1q parent name, `base.id`: the base interface and the VLAN id (1..=4094).
pub fn parse_vlan_parent(name: &str) -> Option<(&str, u16)> {
    let (base, id) = name.rsplit_once('.')?;
    let id: u16 = id.parse().ok()?;
    (!base.is_empty() && (1..=4094).contains(&id) && valid_ifname(name)).then_some((base, id))
}

/// The container's link on a parent.
#[derive(Debug, Clone)]
pub struct SubSpec<'a> {
    pub kind: SubKind,
    pub parent: &'a str,
    /// The container's end (an ipvlan link has its parent's address: `peer.mac` is unused).
    pub peer: PeerSpec<'a>,
}

/// Make sure the parent `name` exists: an existing link is used as it is (and never removed by
/// wharf); a missing `base.id` whose base exists is created as an 802.1q sub-interface, up.
/// Returns whether it was created.
pub async fn ensure_parent(nl: &Netlink, name: &str) -> Result<bool, NetError> {
    if nl.link(name).await?.is_some() {
        return Ok(false);
    }
    let missing = || NetError::NotFound(format!("parent interface {name} does not exist"));
    let (base, id) = parse_vlan_parent(name).ok_or_else(missing)?;
    let base_link = nl.link(base).await?.ok_or_else(|| {
        NetError::NotFound(format!(
            "parent interface {name}: its base interface {base} does not exist"
        ))
    })?;
    nl.handle
        .link()
        .add(LinkVlan::new(name, base_link.index, id).up().build())
        .execute()
        .await
        .map_err(|e| {
            let what = format!("creating the 802.1q interface {name}");
            unsupported(&e, &what, "8021q").unwrap_or_else(|| nl_err(what)(e))
        })?;
    Ok(true)
}

/// Create the dummy link `name`, up: the parent of a network without one. On a kernel without
/// the dummy driver, a veth pair whose other end stays unused in the host namespace (`name`
/// with its last character changed to `x`) serves instead: deleting `name` deletes both.
pub async fn create_dummy(nl: &Netlink, name: &str) -> Result<(), NetError> {
    match nl
        .handle
        .link()
        .add(LinkDummy::new(name).up().build())
        .execute()
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EOPNOTSUPP) => {
            let mut peer: String = name.chars().take(14).collect();
            peer.push('x');
            nl.handle
                .link()
                .add(LinkVeth::new(name, &peer).up().build())
                .execute()
                .await
                .map_err(nl_err(format!(
                    "creating the parent interface {name} (a veth pair: this kernel has no dummy links)"
                )))?;
            if let Some(p) = nl.link(&peer).await? {
                nl.set_up(p.index).await?;
            }
            Ok(())
        }
        Err(e) => Err(nl_err(format!("creating the dummy interface {name}"))(e)),
    }
}

/// A netlink error for a link type the kernel lacks, named with its module.
fn unsupported(e: &rtnetlink::Error, what: &str, module: &str) -> Option<NetError> {
    (errno(e) == Some(libc::EOPNOTSUPP)).then(|| {
        NetError::System(format!(
            "{what}: this kernel has no {module} support (module {module})"
        ))
    })
}

/// Create the container's macvlan or ipvlan link on the parent directly inside its namespace
/// under its final name, and configure it through `inside` (address, up, default route).
/// Returns its MAC. On failure nothing is left.
pub async fn attach_sub(
    host: &Netlink,
    inside: &Netlink,
    spec: &SubSpec<'_>,
) -> Result<String, NetError> {
    let parent = host.link(spec.parent).await?.ok_or_else(|| {
        NetError::NotFound(format!("parent interface {} does not exist", spec.parent))
    })?;
    let ns = std::fs::File::open(spec.peer.netns).map_err(|e| {
        NetError::NotFound(format!(
            "network namespace {}: {e}",
            spec.peer.netns.display()
        ))
    })?;
    let mtu = spec.peer.mtu.or(parent.mtu).filter(|m| *m > 0);
    let mut msg = match spec.kind {
        SubKind::Macvlan(m) => {
            let mode = match m {
                MacvlanMode::Bridge => MacVlanMode::Bridge,
                MacvlanMode::Private => MacVlanMode::Private,
                MacvlanMode::Vepa => MacVlanMode::Vepa,
                MacvlanMode::Passthru => MacVlanMode::Passthrough,
            };
            let mut b =
                LinkMacVlan::new(spec.peer.ifname, parent.index, mode).setns_by_fd(ns.as_raw_fd());
            if let Some(mac) = spec.peer.mac {
                b = b.address(mac.to_vec());
            }
            b.build()
        }
        SubKind::Ipvlan(m) => {
            let mode = match m {
                IpvlanMode::L2 => IpVlanMode::L2,
                IpvlanMode::L3 => IpVlanMode::L3,
                IpvlanMode::L3s => IpVlanMode::L3S,
            };
            LinkIpVlan::new(spec.peer.ifname, parent.index, mode)
                .setns_by_fd(ns.as_raw_fd())
                .build()
        }
    };
    if let Some(m) = mtu {
        msg.attributes
            .push(rtnetlink::packet_route::link::LinkAttribute::Mtu(m));
    }
    host.handle.link().add(msg).execute().await.map_err(|e| {
        if errno(&e) == Some(libc::EEXIST) {
            NetError::Conflict(format!(
                "interface {} already exists in {}",
                spec.peer.ifname,
                spec.peer.netns.display()
            ))
        } else if errno(&e) == Some(libc::EINVAL)
            && spec.kind == SubKind::Macvlan(MacvlanMode::Passthru)
        {
            NetError::Conflict(format!(
                "a passthru macvlan needs its parent interface {} to itself: one container, and no other macvlan on it",
                spec.parent
            ))
        } else if errno(&e) == Some(libc::EBUSY) {
            NetError::Conflict(format!(
                "parent interface {} is busy (a passthru macvlan takes it whole, and macvlan and ipvlan links cannot share a parent)",
                spec.parent
            ))
        } else {
            let what = format!("creating {} on {}", spec.peer.ifname, spec.parent);
            let module = match spec.kind {
                SubKind::Macvlan(_) => "macvlan",
                SubKind::Ipvlan(_) => "ipvlan",
            };
            unsupported(&e, &what, module).unwrap_or_else(|| nl_err(what)(e))
        }
    })?;
    drop(ns);
    match configure_peer(inside, &spec.peer).await {
        Ok(mac) => Ok(mac),
        Err(e) => {
            let _ = inside.delete_link(spec.peer.ifname).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_vlan_parents() {
        let o = |k: &str, v: &str| [(k.to_string(), v.to_string())].into_iter().collect();
        let none = Default::default();
        assert_eq!(
            SubKind::parse("macvlan", &none).unwrap(),
            SubKind::Macvlan(MacvlanMode::Bridge)
        );
        assert_eq!(
            SubKind::parse("macvlan", &o("macvlan_mode", "passthru")).unwrap(),
            SubKind::Macvlan(MacvlanMode::Passthru)
        );
        assert_eq!(
            SubKind::parse("ipvlan", &o("ipvlan_mode", "l3s")).unwrap(),
            SubKind::Ipvlan(IpvlanMode::L3s)
        );
        let e = SubKind::parse("ipvlan", &o("ipvlan_mode", "l4")).unwrap_err();
        assert!(e.to_string().contains("expected l2, l3 or l3s"), "{e}");
        let e = SubKind::parse("macvlan", &o("macvlan_mode", "x")).unwrap_err();
        assert!(
            e.to_string().contains("bridge, private, vepa or passthru"),
            "{e}"
        );
        assert_eq!(parse_vlan_parent("eth0.10"), Some(("eth0", 10)));
        assert_eq!(parse_vlan_parent("eth0"), None);
        assert_eq!(parse_vlan_parent("eth0.0"), None);
        assert_eq!(parse_vlan_parent("eth0.4095"), None);
        assert_eq!(parse_vlan_parent(".10"), None);
    }
}
