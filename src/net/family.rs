//! The two address families as one trait, so that IPAM, pools and subnet checks are written once
//! for IPv4 and IPv6 (`IpamOf<Ipv4Net>`, `IpamOf<Ipv6Net>`) instead of twice or with `if v6`
//! branches. Addresses are handled as `u128` offsets, which hold both widths.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A subnet type of one address family (`Ipv4Net` or `Ipv6Net`).
pub trait Family:
    Copy + Eq + Ord + Hash + Debug + Display + FromStr + Serialize + DeserializeOwned + Send + Sync
{
    /// The family's address type.
    type Addr: Copy
        + Eq
        + Ord
        + Hash
        + Debug
        + Display
        + FromStr
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + Into<IpAddr>;

    /// `IPv4` or `IPv6`, for messages.
    const NAME: &'static str;
    /// The longest prefix a network may have (room for a gateway and containers).
    const MAX_PREFIX: u8;
    /// An example subnet, for messages.
    const EXAMPLE: &'static str;

    fn new_net(addr: Self::Addr, prefix: u8) -> Option<Self>;
    /// This family's subnet of either family's, if it is one.
    fn from_ipnet(n: IpNet) -> Option<Self>;
    fn addr(&self) -> Self::Addr;
    fn prefix(&self) -> u8;
    fn truncated(&self) -> Self;
    fn to_u128(a: Self::Addr) -> u128;
    fn from_u128(v: u128) -> Self::Addr;
    /// The subnets of prefix `size` inside `self`, in order (`None` when `size` is shorter).
    fn subnets_of(&self, size: u8) -> Option<Box<dyn Iterator<Item = Self>>>;

    /// The first and last addresses, as offsets.
    fn bounds(&self) -> (u128, u128) {
        let bits: u32 = (std::mem::size_of::<Self::Addr>() * 8) as u32;
        let lo = Self::to_u128(self.truncated().addr());
        let host_bits = bits - self.prefix() as u32;
        let span = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        (lo, lo + span)
    }
    fn contains_addr(&self, a: Self::Addr) -> bool {
        let (lo, hi) = self.bounds();
        (lo..=hi).contains(&Self::to_u128(a))
    }
    /// Whether `other` lies inside `self`.
    fn contains_net(&self, other: &Self) -> bool {
        let (lo, hi) = self.bounds();
        let (olo, ohi) = other.bounds();
        lo <= olo && ohi <= hi
    }
    fn overlaps(&self, other: &Self) -> bool {
        let (lo, hi) = self.bounds();
        let (olo, ohi) = other.bounds();
        lo <= ohi && olo <= hi
    }
    /// Not the network's own address nor its last one (IPv4's broadcast; kept free on IPv6 too,
    /// as dockerd does), inside the subnet.
    fn is_host(&self, a: Self::Addr) -> bool {
        let (lo, hi) = self.bounds();
        let v = Self::to_u128(a);
        lo < v && v < hi
    }
    fn first_host(&self) -> Self::Addr {
        Self::from_u128(self.bounds().0 + 1)
    }
}

impl Family for Ipv4Net {
    type Addr = Ipv4Addr;
    const NAME: &'static str = "IPv4";
    const MAX_PREFIX: u8 = 30;
    const EXAMPLE: &'static str = "10.1.2.0/24";
    fn new_net(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        Ipv4Net::new(addr, prefix).ok()
    }
    fn from_ipnet(n: IpNet) -> Option<Self> {
        match n {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => None,
        }
    }
    fn addr(&self) -> Ipv4Addr {
        Ipv4Net::addr(self)
    }
    fn prefix(&self) -> u8 {
        self.prefix_len()
    }
    fn truncated(&self) -> Self {
        self.trunc()
    }
    fn to_u128(a: Ipv4Addr) -> u128 {
        u32::from(a) as u128
    }
    fn from_u128(v: u128) -> Ipv4Addr {
        Ipv4Addr::from(v as u32)
    }
    fn subnets_of(&self, size: u8) -> Option<Box<dyn Iterator<Item = Self>>> {
        Some(Box::new(self.subnets(size).ok()?))
    }
}

impl Family for Ipv6Net {
    type Addr = Ipv6Addr;
    const NAME: &'static str = "IPv6";
    const MAX_PREFIX: u8 = 126;
    const EXAMPLE: &'static str = "fd00:1::/64";
    fn new_net(addr: Ipv6Addr, prefix: u8) -> Option<Self> {
        Ipv6Net::new(addr, prefix).ok()
    }
    fn from_ipnet(n: IpNet) -> Option<Self> {
        match n {
            IpNet::V6(n) => Some(n),
            IpNet::V4(_) => None,
        }
    }
    fn addr(&self) -> Ipv6Addr {
        Ipv6Net::addr(self)
    }
    fn prefix(&self) -> u8 {
        self.prefix_len()
    }
    fn truncated(&self) -> Self {
        self.trunc()
    }
    fn to_u128(a: Ipv6Addr) -> u128 {
        u128::from(a)
    }
    fn from_u128(v: u128) -> Ipv6Addr {
        Ipv6Addr::from(v)
    }
    fn subnets_of(&self, size: u8) -> Option<Box<dyn Iterator<Item = Self>>> {
        Some(Box::new(self.subnets(size).ok()?))
    }
}
