//! IP address management: choosing a network's subnets from the default pools, and addresses
//! for the containers attached to it. Written once for both families over [`Family`]: a
//! network has an [`Ipam`] (IPv4) and, when IPv6 is enabled, an [`Ipam6`].
//!
//! Everything here is pure (no system calls): the caller passes the host's routes and the
//! existing networks' subnets in, and stores [`Ipam`] (serde) with the network.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub use super::family::Family;
use super::NetError;

/// A pool networks take their subnets from: `base` cut into subnets of prefix length `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "N: Family")]
pub struct PoolOf<N: Family> {
    pub base: N,
    pub size: u8,
}

/// An IPv4 pool.
pub type Pool = PoolOf<Ipv4Net>;
/// An IPv6 pool.
pub type Pool6 = PoolOf<Ipv6Net>;

/// Docker's default pools: 172.17.0.0/16 .. 172.31.0.0/16 as /16s (172.17 first, the default
/// `bridge` network's), then 192.168.0.0/16 as /20s.
pub fn default_pools() -> Vec<Pool> {
    [
        ("172.17.0.0/16", 16),
        ("172.18.0.0/15", 16),
        ("172.20.0.0/14", 16),
        ("172.24.0.0/13", 16),
        ("192.168.0.0/16", 20),
    ]
    .into_iter()
    .map(|(b, size)| Pool {
        base: b.parse().unwrap(),
        size,
    })
    .collect()
}

/// Docker 27's default IPv6 pool: a unique local /48 (`fdXX:XXXX:XXXX::/48`, RFC 4193) whose
/// 40-bit global ID is derived from `seed` (the host's machine id), cut into /64s.
pub fn default_pools6(seed: &str) -> Vec<Pool6> {
    use sha2::Digest;
    let h = sha2::Sha256::digest(seed.as_bytes());
    let seg = |a: u8, b: u8| u16::from_be_bytes([a, b]);
    let base = Ipv6Addr::new(
        seg(0xfd, h[0]),
        seg(h[1], h[2]),
        seg(h[3], h[4]),
        0,
        0,
        0,
        0,
        0,
    );
    vec![Pool6 {
        base: Ipv6Net::new(base, 48).expect("a /48"),
        size: 64,
    }]
}

/// Parse a pool list like `172.17.0.0/16:16,192.168.0.0/16:20` (`:size` defaults to the base's
/// prefix length).
pub fn parse_pools(s: &str) -> Result<Vec<Pool>, NetError> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (base, size) = match item.split_once(':') {
            Some((b, sz)) => (b, Some(sz)),
            None => (item, None),
        };
        let base: Ipv4Net = parse_subnet(base)?;
        let size = match size {
            Some(sz) => sz.parse::<u8>().map_err(|_| {
                NetError::Invalid(format!(
                    "invalid pool size {sz:?} in {item:?}: expected 8..30"
                ))
            })?,
            None => base.prefix_len(),
        };
        out.push(pool(base, size).map_err(|e| NetError::Invalid(format!("{item:?}: {e}")))?);
    }
    Ok(out)
}

/// A pool of `base` cut into /`size`s, checked.
pub fn pool<N: Family>(base: N, size: u8) -> Result<PoolOf<N>, NetError> {
    if size < base.prefix() || size > N::MAX_PREFIX {
        return Err(NetError::Invalid(format!(
            "invalid pool {base}: size /{size} must be between /{} and /{}",
            base.prefix(),
            N::MAX_PREFIX
        )));
    }
    Ok(PoolOf { base, size })
}

/// Parse a subnet of family `N` in CIDR notation; host bits must be zero.
pub fn parse_subnet_of<N: Family>(s: &str) -> Result<N, NetError> {
    let net: N = s.trim().parse().map_err(|_| {
        NetError::Invalid(format!(
            "invalid subnet {s:?}: expected an {} CIDR such as {}",
            N::NAME,
            N::EXAMPLE
        ))
    })?;
    check_subnet(net).map_err(|e| NetError::Invalid(format!("invalid subnet {s:?}: {e}")))
}

/// Parse an IPv4 subnet in CIDR notation; host bits must be zero.
pub fn parse_subnet(s: &str) -> Result<Ipv4Net, NetError> {
    parse_subnet_of(s)
}

/// Host bits zero, room for a gateway and containers.
fn check_subnet<N: Family>(net: N) -> Result<N, String> {
    if net.truncated() != net {
        return Err(format!(
            "host bits are set (did you mean {}?)",
            net.truncated()
        ));
    }
    if net.prefix() > N::MAX_PREFIX {
        return Err(format!("a /{} or larger is needed", N::MAX_PREFIX));
    }
    Ok(net)
}

/// Whether two subnets overlap.
pub fn overlaps<N: Family>(a: &N, b: &N) -> bool {
    a.overlaps(b)
}

/// The first subnet of `pools` that overlaps none of `in_use` (existing networks' subnets and the
/// host's routes, default route excluded by the caller).
pub fn pick_subnet<N: Family>(pools: &[PoolOf<N>], in_use: &[N]) -> Option<N> {
    for pool in pools {
        let Some(subnets) = pool.base.subnets_of(pool.size) else {
            continue;
        };
        for candidate in subnets {
            if !in_use.iter().any(|u| overlaps(u, &candidate)) {
                return Some(candidate);
            }
        }
    }
    None
}

/// The addresses of one network in one family: its subnet, gateway, optional allocation range,
/// and who holds which address. Serialisable: the engine stores it with the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "N: Family")]
pub struct IpamOf<N: Family> {
    pub subnet: N,
    pub gateway: N::Addr,
    /// Dynamic addresses come from this range (a sub-network of `subnet`); static ones may be
    /// anywhere in the subnet.
    #[serde(default)]
    pub ip_range: Option<N>,
    /// Address → owner (container id).
    #[serde(default)]
    pub allocated: BTreeMap<N::Addr, String>,
    /// The last dynamically allocated address: the next search starts after it, so that a
    /// released address is not handed out again at once.
    #[serde(default)]
    pub last: Option<N::Addr>,
    /// `AuxiliaryAddresses`: name → address kept out of allocation (a host's, a router's).
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, N::Addr>,
}

/// A network's IPv4 addresses.
pub type Ipam = IpamOf<Ipv4Net>;
/// A network's IPv6 addresses.
pub type Ipam6 = IpamOf<Ipv6Net>;

/// At most this many candidates are looked at for a dynamic address (an IPv6 /64 has 2^64).
const SEARCH_LIMIT: u128 = 1 << 20;

impl<N: Family> IpamOf<N> {
    /// Validate and build. `gateway` defaults to the first host address of the subnet.
    pub fn new(subnet: N, gateway: Option<N::Addr>, ip_range: Option<N>) -> Result<Self, NetError> {
        check_subnet(subnet)
            .map_err(|e| NetError::Invalid(format!("invalid subnet {subnet}: {e}")))?;
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        if !subnet.is_host(gateway) {
            return Err(NetError::Invalid(format!(
                "gateway {gateway} is not a host address of subnet {subnet}"
            )));
        }
        if let Some(r) = ip_range {
            if r.truncated() != r {
                return Err(NetError::Invalid(format!(
                    "invalid ip range {r}: host bits are set"
                )));
            }
            if !subnet.contains_net(&r) {
                return Err(NetError::Invalid(format!(
                    "ip range {r} is not inside subnet {subnet}"
                )));
            }
        }
        Ok(IpamOf {
            subnet,
            gateway,
            ip_range,
            allocated: BTreeMap::new(),
            last: None,
            aux_addresses: BTreeMap::new(),
        })
    }

    /// Keep `ip` (named `name`) out of allocation, as Docker's `--aux-address`.
    pub fn reserve_aux(&mut self, name: &str, ip: N::Addr) -> Result<(), NetError> {
        if !self.subnet.is_host(ip) || ip == self.gateway {
            return Err(NetError::Invalid(format!(
                "auxiliary address {name}={ip} is not a free host address of subnet {}",
                self.subnet
            )));
        }
        self.aux_addresses.insert(name.to_string(), ip);
        Ok(())
    }

    fn is_aux(&self, ip: N::Addr) -> bool {
        self.aux_addresses.values().any(|a| *a == ip)
    }

    /// Allocate an address for `owner`: `requested` if given (must be a free host address of the
    /// subnet, not the gateway), else the next free one of the range after the last allocation.
    pub fn allocate(
        &mut self,
        owner: &str,
        requested: Option<N::Addr>,
    ) -> Result<N::Addr, NetError> {
        if let Some(ip) = requested {
            if !self.subnet.is_host(ip) {
                return Err(NetError::Invalid(format!(
                    "address {ip} is not a host address of subnet {}",
                    self.subnet
                )));
            }
            if ip == self.gateway {
                return Err(NetError::Conflict(format!(
                    "address {ip} is the network's gateway"
                )));
            }
            if self.is_aux(ip) {
                return Err(NetError::Conflict(format!(
                    "address {ip} is reserved as an auxiliary address"
                )));
            }
            if let Some(holder) = self.allocated.get(&ip) {
                if holder != owner {
                    return Err(NetError::Conflict(format!(
                        "address {ip} is already in use by {holder}"
                    )));
                }
                return Ok(ip);
            }
            self.allocated.insert(ip, owner.to_string());
            return Ok(ip);
        }
        let range = self.ip_range.unwrap_or(self.subnet);
        let (lo, hi) = range.bounds();
        // span - 1, so that a whole IPv6 space does not overflow.
        let last_off = hi - lo;
        let start = match self.last {
            Some(l) if range.contains_addr(l) => (N::to_u128(l) - lo).wrapping_add(1),
            _ => 0,
        };
        let step = |i: u128| {
            let off = start.wrapping_add(i);
            if off > last_off {
                off - last_off - 1
            } else {
                off
            }
        };
        for i in 0..=last_off.min(SEARCH_LIMIT) {
            let ip = N::from_u128(lo + step(i));
            if ip == self.gateway
                || !self.subnet.is_host(ip)
                || self.allocated.contains_key(&ip)
                || self.is_aux(ip)
            {
                continue;
            }
            self.allocated.insert(ip, owner.to_string());
            self.last = Some(ip);
            return Ok(ip);
        }
        Err(NetError::Exhausted(format!(
            "no free address left in {range}"
        )))
    }

    /// Release an address; returns whether it was allocated.
    pub fn release(&mut self, ip: N::Addr) -> bool {
        self.allocated.remove(&ip).is_some()
    }

    /// Release every address of `owner`; returns them.
    pub fn release_owner(&mut self, owner: &str) -> Vec<N::Addr> {
        let ips: Vec<N::Addr> = self
            .allocated
            .iter()
            .filter(|(_, o)| *o == owner)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in &ips {
            self.allocated.remove(ip);
        }
        ips
    }

    /// The owner of an address.
    pub fn owner(&self, ip: N::Addr) -> Option<&str> {
        self.allocated.get(&ip).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn auxiliary_addresses_are_never_handed_out() {
        let mut i = Ipam::new(net("10.213.7.0/29"), None, None).unwrap();
        i.reserve_aux("a", Ipv4Addr::new(10, 213, 7, 2)).unwrap();
        assert!(i.reserve_aux("gw", Ipv4Addr::new(10, 213, 7, 1)).is_err());
        assert!(i.reserve_aux("out", Ipv4Addr::new(10, 213, 8, 2)).is_err());
        assert_eq!(
            i.allocate("c1", None).unwrap(),
            Ipv4Addr::new(10, 213, 7, 3)
        );
        assert!(i
            .allocate("c2", Some(Ipv4Addr::new(10, 213, 7, 2)))
            .is_err());
    }

    #[test]
    fn picks_first_free_subnet_skipping_used_and_routed() {
        let pools = default_pools();
        assert_eq!(pick_subnet(&pools, &[]), Some(net("172.17.0.0/16")));
        // 172.17 taken by docker0 (a host route), 172.18 by a wharf network.
        let used = [net("172.17.0.0/16"), net("172.18.0.0/16")];
        assert_eq!(pick_subnet(&pools, &used), Some(net("172.19.0.0/16")));
        // A small route inside a candidate also excludes it.
        let used = [net("172.17.5.0/24")];
        assert_eq!(pick_subnet(&pools, &used), Some(net("172.18.0.0/16")));
        // A wide route (172.16/12) pushes to 192.168.x/20.
        let used = [net("172.16.0.0/12")];
        assert_eq!(pick_subnet(&pools, &used), Some(net("192.168.0.0/20")));
        let used = [
            net("172.16.0.0/12"),
            net("192.168.0.0/20"),
            net("192.168.17.0/24"),
        ];
        assert_eq!(pick_subnet(&pools, &used), Some(net("192.168.32.0/20")));
        let all = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert_eq!(pick_subnet(&pools, &all), None);
        // Every default /16 of 172.17..172.31 is reachable.
        let count = default_pools()
            .iter()
            .take(4)
            .map(|p| p.base.subnets(p.size).unwrap().count())
            .sum::<usize>();
        assert_eq!(count, 15);
    }

    #[test]
    fn parses_pools_and_subnets() {
        let p = parse_pools("10.213.0.0/16:24, 10.99.0.0/24").unwrap();
        assert_eq!(
            p,
            vec![
                Pool {
                    base: net("10.213.0.0/16"),
                    size: 24
                },
                Pool {
                    base: net("10.99.0.0/24"),
                    size: 24
                }
            ]
        );
        assert!(parse_pools("10.0.0.0/16:8").is_err());
        assert!(parse_pools("nope").is_err());
        let e = parse_subnet("10.1.2.3/24").unwrap_err().to_string();
        assert!(e.contains("host bits") && e.contains("10.1.2.0/24"), "{e}");
        assert!(parse_subnet("10.1.2.0/31").is_err());
        assert!(parse_subnet("10.1.2.0").is_err());
    }

    #[test]
    fn gateway_and_range_validation() {
        let i = Ipam::new(net("10.213.7.0/24"), None, None).unwrap();
        assert_eq!(i.gateway, Ipv4Addr::new(10, 213, 7, 1));
        let e = Ipam::new(
            net("10.213.7.0/24"),
            Some(Ipv4Addr::new(10, 213, 8, 1)),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("gateway 10.213.8.1"), "{e}");
        assert!(Ipam::new(
            net("10.213.7.0/24"),
            Some(Ipv4Addr::new(10, 213, 7, 255)),
            None
        )
        .is_err());
        assert!(Ipam::new(net("10.213.7.0/24"), None, Some(net("10.213.8.0/25"))).is_err());
        assert!(Ipam::new(net("10.213.7.0/24"), None, Some(net("10.213.7.128/25"))).is_ok());
    }

    #[test]
    fn allocates_sequentially_static_and_release() {
        let mut i = Ipam::new(net("10.213.7.0/29"), None, None).unwrap();
        // Hosts .1 (gateway) .2 .. .6
        assert_eq!(i.allocate("a", None).unwrap(), Ipv4Addr::new(10, 213, 7, 2));
        assert_eq!(
            i.allocate("b", Some(Ipv4Addr::new(10, 213, 7, 5))).unwrap(),
            Ipv4Addr::new(10, 213, 7, 5)
        );
        assert_eq!(i.allocate("c", None).unwrap(), Ipv4Addr::new(10, 213, 7, 3));
        assert_eq!(i.allocate("d", None).unwrap(), Ipv4Addr::new(10, 213, 7, 4));
        assert_eq!(i.allocate("e", None).unwrap(), Ipv4Addr::new(10, 213, 7, 6));
        let e = i.allocate("f", None).unwrap_err();
        assert!(matches!(e, NetError::Exhausted(_)), "{e}");
        // Released addresses are reused only after the others (round robin from the last).
        assert!(i.release(Ipv4Addr::new(10, 213, 7, 3)));
        assert!(!i.release(Ipv4Addr::new(10, 213, 7, 3)));
        assert_eq!(i.allocate("f", None).unwrap(), Ipv4Addr::new(10, 213, 7, 3));
        // Static: taken, gateway, outside.
        let e = i
            .allocate("g", Some(Ipv4Addr::new(10, 213, 7, 5)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("already in use by b"), "{e}");
        assert!(i.allocate("g", Some(Ipv4Addr::new(10, 213, 7, 1))).is_err());
        assert!(i.allocate("g", Some(Ipv4Addr::new(10, 213, 8, 2))).is_err());
        assert!(i.allocate("g", Some(Ipv4Addr::new(10, 213, 7, 7))).is_err());
        // Same owner asking again for its address is idempotent.
        assert_eq!(
            i.allocate("b", Some(Ipv4Addr::new(10, 213, 7, 5))).unwrap(),
            Ipv4Addr::new(10, 213, 7, 5)
        );
        assert_eq!(i.release_owner("b"), vec![Ipv4Addr::new(10, 213, 7, 5)]);
        assert_eq!(i.owner(Ipv4Addr::new(10, 213, 7, 2)), Some("a"));
    }

    #[test]
    fn ip_range_limits_dynamic_only() {
        let mut i = Ipam::new(net("10.213.7.0/24"), None, Some(net("10.213.7.128/30"))).unwrap();
        assert_eq!(
            i.allocate("a", None).unwrap(),
            Ipv4Addr::new(10, 213, 7, 128)
        );
        assert_eq!(
            i.allocate("b", None).unwrap(),
            Ipv4Addr::new(10, 213, 7, 129)
        );
        assert_eq!(
            i.allocate("c", None).unwrap(),
            Ipv4Addr::new(10, 213, 7, 130)
        );
        assert_eq!(
            i.allocate("d", None).unwrap(),
            Ipv4Addr::new(10, 213, 7, 131)
        );
        assert!(i.allocate("e", None).is_err());
        assert_eq!(
            i.allocate("e", Some(Ipv4Addr::new(10, 213, 7, 9))).unwrap(),
            Ipv4Addr::new(10, 213, 7, 9)
        );
    }

    #[test]
    fn ipv6_allocation_and_ula_pools() {
        let n6: Ipv6Net = "fd00:213:7::/64".parse().unwrap();
        let mut i = Ipam6::new(n6, None, None).unwrap();
        assert_eq!(i.gateway, "fd00:213:7::1".parse::<Ipv6Addr>().unwrap());
        let a = i.allocate("a", None).unwrap();
        assert_eq!(a, "fd00:213:7::2".parse::<Ipv6Addr>().unwrap());
        let fixed: Ipv6Addr = "fd00:213:7::10".parse().unwrap();
        assert_eq!(i.allocate("b", Some(fixed)).unwrap(), fixed);
        assert!(i.allocate("c", Some(fixed)).is_err());
        assert!(i
            .allocate("c", Some("fd00:213:8::2".parse().unwrap()))
            .is_err());
        // The last address of a whole /64 is no wrap-around trap.
        let top: Ipv6Addr = "fd00:213:7::ffff:ffff:ffff:fffe".parse().unwrap();
        i.allocate("d", Some(top)).unwrap();
        i.last = Some(top);
        assert_eq!(
            i.allocate("e", None).unwrap(),
            "fd00:213:7::3".parse::<Ipv6Addr>().unwrap()
        );
        let e = parse_subnet_of::<Ipv6Net>("fd00::1/64")
            .unwrap_err()
            .to_string();
        assert!(e.contains("host bits") && e.contains("fd00::/64"), "{e}");
        assert!(parse_subnet_of::<Ipv6Net>("10.0.0.0/24").is_err());
        let p = default_pools6("machine-a");
        assert_eq!(p, default_pools6("machine-a"));
        assert_ne!(p, default_pools6("machine-b"));
        assert_eq!((p[0].base.prefix_len(), p[0].size), (48, 64));
        assert_eq!(p[0].base.addr().segments()[0] >> 8, 0xfd);
        let first = pick_subnet(&p, &[]).unwrap();
        assert_eq!(pick_subnet(&p, &[first]).unwrap().prefix_len(), 64);
        assert_ne!(pick_subnet(&p, &[first]), Some(first));
    }

    #[test]
    fn state_round_trips_through_serde() {
        let mut i = Ipam::new(net("10.213.7.0/24"), None, None).unwrap();
        i.allocate("a", None).unwrap();
        let s = serde_json::to_string(&i).unwrap();
        let back: Ipam = serde_json::from_str(&s).unwrap();
        assert_eq!(back, i);
    }
}
