//! In-memory doubles of the host drivers, for the manager's unit tests: links, namespaces and
//! the firewall table as plain maps, every call that changes them recorded, and any call made
//! to fail on demand. Cloning shares the state, so a test keeps a handle on what the manager
//! did to the "host".

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::IpNet;

use super::bridge::{BridgeSpec, Link, PeerSpec, PeerV6, VethSpec};
use super::driver::{FirewallDriver, NetworkDriver};
use super::firewall::{FwForward, Ruleset};
use super::ports::Proto;
use super::sublink::{parse_vlan_parent, SubSpec};
use super::NetError;

/// A container interface inside a fake namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIf {
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub default_gateway: Option<Ipv4Addr>,
    pub mac: String,
    /// The IPv6 side on dual-stack networks.
    pub v6: Option<PeerV6>,
}

#[derive(Debug, Clone, Default)]
pub struct HostState {
    /// Host links by name.
    pub links: BTreeMap<String, Link>,
    /// Namespace files that exist, with their interfaces.
    pub namespaces: BTreeMap<PathBuf, BTreeMap<String, FakeIf>>,
    /// Host end of a veth → (namespace, interface).
    pub peers: BTreeMap<String, (PathBuf, String)>,
    /// Subnets the host routes.
    pub routed: Vec<IpNet>,
    /// Queued by `delete_later`, deleted by `settle`.
    pub queued: Vec<String>,
    /// Bridge addresses (name → gateway/prefix).
    pub addresses: BTreeMap<String, (Ipv4Addr, u8)>,
    /// Bridge IPv6 gateway addresses.
    pub addresses6: BTreeMap<String, (Ipv6Addr, u8)>,
    pub ip_forward: bool,
    pub ip6_forward: bool,
    /// macvlan/ipvlan links in namespaces → their parent.
    pub sub_parents: BTreeMap<(PathBuf, String), String>,
    /// Operations (method names) that fail.
    pub failing: BTreeSet<&'static str>,
    next_index: u32,
}

impl HostState {
    fn fail(&self, op: &'static str) -> Result<(), NetError> {
        if self.failing.contains(op) {
            Err(NetError::System(format!("{op} failed (fake)")))
        } else {
            Ok(())
        }
    }

    /// Whether namespace `ns` has an interface `ifname`.
    fn has_inside(&self, ns: &Path, ifname: &str) -> bool {
        self.namespaces
            .get(ns)
            .is_some_and(|ifs| ifs.contains_key(ifname))
    }

    /// The container's end of a link in `ns`, configured as `configure_peer` would.
    fn place_peer(&mut self, ns: &Path, peer: &PeerSpec<'_>, mac: &str) {
        let iface = FakeIf {
            ip: peer.ip,
            prefix: peer.prefix,
            default_gateway: peer.default_gateway,
            mac: mac.to_string(),
            v6: peer.v6,
        };
        self.namespaces
            .entry(ns.to_path_buf())
            .or_default()
            .insert(peer.ifname.to_string(), iface);
    }

    /// Add a host link (of `kind`, on bridge `controller`), as the kernel would.
    pub fn add_link(&mut self, name: &str, kind: &str, controller: Option<&str>) -> u32 {
        self.next_index += 1;
        let index = self.next_index + 1; // 1 is loopback
        let controller = controller.and_then(|c| self.links.get(c)).map(|l| l.index);
        self.links.insert(
            name.to_string(),
            Link {
                index,
                name: name.to_string(),
                kind: Some(kind.to_string()),
                controller,
                mac: None,
                up: true,
                mtu: None,
            },
        );
        index
    }

    /// Delete a host link (and a veth's peer), as the kernel would.
    pub fn remove_link(&mut self, name: &str) -> bool {
        if let Some((ns, ifname)) = self.peers.remove(name) {
            if let Some(ifs) = self.namespaces.get_mut(&ns) {
                ifs.remove(&ifname);
            }
        }
        self.addresses.remove(name);
        self.addresses6.remove(name);
        self.links.remove(name).is_some()
    }
}

/// The links side of the host.
#[derive(Clone, Default)]
pub struct FakeHost(Arc<Mutex<HostState>>);

impl FakeHost {
    pub fn state(&self) -> MutexGuard<'_, HostState> {
        self.0.lock().expect("fake host lock")
    }

    /// A namespace file at `path` with no interfaces.
    pub fn add_netns(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        self.state().namespaces.insert(p.clone(), BTreeMap::new());
        p
    }

    pub fn fail(&self, op: &'static str) {
        self.state().failing.insert(op);
    }

    pub fn heal(&self, op: &'static str) {
        self.state().failing.remove(op);
    }

    pub fn has_link(&self, name: &str) -> bool {
        self.state().links.contains_key(name)
    }

    /// The interfaces of a namespace.
    pub fn interfaces(&self, ns: &Path) -> BTreeMap<String, FakeIf> {
        self.state().namespaces.get(ns).cloned().unwrap_or_default()
    }
}

impl NetworkDriver for FakeHost {
    type Netns = PathBuf;

    async fn link(&self, name: &str) -> Result<Option<Link>, NetError> {
        let st = self.state();
        st.fail("link")?;
        Ok(st.links.get(name).cloned())
    }

    async fn links(&self) -> Result<Vec<Link>, NetError> {
        let st = self.state();
        st.fail("links")?;
        Ok(st.links.values().cloned().collect())
    }

    async fn routed_subnets(&self) -> Result<Vec<ipnet::IpNet>, NetError> {
        let st = self.state();
        st.fail("routed_subnets")?;
        Ok(st.routed.clone())
    }

    async fn ensure_bridge(&self, spec: &BridgeSpec<'_>) -> Result<(), NetError> {
        let mut st = self.state();
        st.fail("ensure_bridge")?;
        match st.links.get(spec.name) {
            Some(l) if l.kind.as_deref() != Some("bridge") => {
                return Err(NetError::Conflict(format!("{} is not a bridge", spec.name)))
            }
            Some(_) => {}
            None => {
                st.add_link(spec.name, "bridge", None);
            }
        }
        st.addresses
            .insert(spec.name.to_string(), (spec.gateway, spec.prefix));
        if let Some(g6) = spec.gateway6 {
            st.addresses6.insert(spec.name.to_string(), g6);
        }
        Ok(())
    }

    async fn delete_link(&self, name: &str) -> Result<bool, NetError> {
        let mut st = self.state();
        st.fail("delete_link")?;
        Ok(st.remove_link(name))
    }

    fn delete_later(&self, name: &str) {
        self.state().queued.push(name.to_string());
    }

    async fn settle(&self) -> Result<(), NetError> {
        let mut st = self.state();
        let queued = std::mem::take(&mut st.queued);
        let failed = st.fail("settle");
        for name in queued {
            st.remove_link(&name);
        }
        failed
    }

    async fn settle_link(&self, _name: &str) {}

    fn enable_ip_forward(&self, v6: bool) -> Result<(), NetError> {
        let mut st = self.state();
        st.fail("enable_ip_forward")?;
        st.ip_forward = true;
        st.ip6_forward |= v6;
        Ok(())
    }

    fn is_netns(&self, path: &Path) -> bool {
        self.state().namespaces.contains_key(path)
    }

    async fn enter(&self, path: &Path) -> Result<PathBuf, NetError> {
        let st = self.state();
        st.fail("enter")?;
        if !st.namespaces.contains_key(path) {
            return Err(NetError::System(format!("entering {}", path.display())));
        }
        Ok(path.to_path_buf())
    }

    async fn next_ifname(&self, ns: &PathBuf) -> Result<String, NetError> {
        let st = self.state();
        let ifs = st.namespaces.get(ns).cloned().unwrap_or_default();
        Ok((0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !ifs.contains_key(n))
            .unwrap_or_default())
    }

    async fn delete_link_in(&self, ns: &PathBuf, name: &str) -> Result<bool, NetError> {
        let mut st = self.state();
        let removed = st
            .namespaces
            .get_mut(ns)
            .and_then(|ifs| ifs.remove(name))
            .is_some();
        st.peers.retain(|_, (p, i)| !(p == ns && i == name));
        st.sub_parents.remove(&(ns.clone(), name.to_string()));
        Ok(removed)
    }

    async fn attach_veth(&self, ns: &PathBuf, spec: &VethSpec<'_>) -> Result<String, NetError> {
        let mut st = self.state();
        st.fail("attach_veth")?;
        if !st.links.contains_key(spec.bridge) {
            return Err(NetError::NotFound(format!(
                "bridge {} does not exist",
                spec.bridge
            )));
        }
        let ifname = spec.peer.ifname;
        if st.links.contains_key(spec.host_ifname) || st.has_inside(ns, ifname) {
            return Err(NetError::Conflict(format!(
                "interface {} or {ifname} already exists",
                spec.host_ifname
            )));
        }
        let index = st.add_link(spec.host_ifname, "veth", Some(spec.bridge));
        let mac = format!("02:00:00:00:{:02x}:{:02x}", index >> 8, index & 0xff);
        st.place_peer(ns, &spec.peer, &mac);
        st.peers.insert(
            spec.host_ifname.to_string(),
            (ns.clone(), ifname.to_string()),
        );
        Ok(mac)
    }

    async fn ensure_parent(&self, name: &str) -> Result<bool, NetError> {
        let mut st = self.state();
        st.fail("ensure_parent")?;
        if st.links.contains_key(name) {
            return Ok(false);
        }
        match parse_vlan_parent(name) {
            Some((base, _)) if st.links.contains_key(base) => {
                st.add_link(name, "vlan", None);
                Ok(true)
            }
            _ => Err(NetError::NotFound(format!(
                "parent interface {name} does not exist"
            ))),
        }
    }

    async fn create_dummy(&self, name: &str) -> Result<(), NetError> {
        let mut st = self.state();
        st.fail("create_dummy")?;
        if !st.links.contains_key(name) {
            st.add_link(name, "dummy", None);
        }
        Ok(())
    }

    async fn attach_sub(&self, ns: &PathBuf, spec: &SubSpec<'_>) -> Result<String, NetError> {
        let mut st = self.state();
        st.fail("attach_sub")?;
        if !st.links.contains_key(spec.parent) {
            return Err(NetError::NotFound(format!(
                "parent interface {} does not exist",
                spec.parent
            )));
        }
        let ifname = spec.peer.ifname;
        if st.has_inside(ns, ifname) {
            return Err(NetError::Conflict(format!(
                "interface {ifname} already exists"
            )));
        }
        st.next_index += 1;
        let mac = format!(
            "02:00:00:01:{:02x}:{:02x}",
            st.next_index >> 8,
            st.next_index & 0xff
        );
        st.place_peer(ns, &spec.peer, &mac);
        st.sub_parents
            .insert((ns.clone(), ifname.to_string()), spec.parent.to_string());
        Ok(mac)
    }
}

#[derive(Debug, Default)]
pub struct FirewallState {
    /// Tables by name: the networks and forwards last synced.
    pub tables: BTreeMap<String, Ruleset>,
    /// Host ports something else holds.
    pub busy_ports: BTreeSet<u16>,
    /// Ports the manager holds (proto, port) → armed.
    pub held: BTreeMap<(Proto, u16), bool>,
    /// Held ports that hold `[::]` too, with where their loopback connections go.
    pub held6: BTreeMap<(Proto, u16), SocketAddrV6>,
    /// Holds armed while their table had no forward for them (must stay empty).
    pub armed_without_rule: Vec<(Proto, u16)>,
    /// The next port a port-0 hold gets.
    pub next_ephemeral: u16,
    /// Syncs and deletes fail while set.
    pub failing: bool,
    /// How many syncs and deletes were asked for.
    pub calls: usize,
}

/// The firewall side of the host.
#[derive(Clone, Default)]
pub struct FakeFirewall(Arc<Mutex<FirewallState>>);

impl FakeFirewall {
    pub fn state(&self) -> MutexGuard<'_, FirewallState> {
        self.0.lock().expect("fake firewall lock")
    }

    pub fn set_failing(&self, failing: bool) {
        self.state().failing = failing;
    }

    /// The forwards of `table` (empty when it does not exist).
    pub fn forwards(&self, table: &str) -> Vec<FwForward> {
        self.state()
            .tables
            .get(table)
            .map(|t| t.forwards.clone())
            .unwrap_or_default()
    }
}

/// A held port of the fake: released (from `held`) when dropped.
pub struct FakeHold {
    fw: FakeFirewall,
    key: (Proto, u16),
}

impl Drop for FakeHold {
    fn drop(&mut self) {
        let mut st = self.fw.state();
        st.held.remove(&self.key);
        st.held6.remove(&self.key);
    }
}

impl FakeFirewall {
    /// The ports held (armed or not).
    pub fn held(&self) -> Vec<(Proto, u16, bool)> {
        let st = self.state();
        st.held.iter().map(|(&(p, n), &a)| (p, n, a)).collect()
    }
}

impl FirewallDriver for FakeFirewall {
    type Hold = FakeHold;

    fn hold_port(
        &self,
        proto: Proto,
        ip: std::net::IpAddr,
        port: u16,
        v6: Option<SocketAddrV6>,
    ) -> Result<(FakeHold, u16), NetError> {
        let mut st = self.state();
        let port = if port == 0 {
            if st.next_ephemeral == 0 {
                st.next_ephemeral = 40000;
            }
            let mut p = st.next_ephemeral;
            while st.busy_ports.contains(&p) || st.held.contains_key(&(proto, p)) {
                p += 1;
            }
            st.next_ephemeral = p + 1;
            p
        } else {
            port
        };
        if st.busy_ports.contains(&port) || st.held.contains_key(&(proto, port)) {
            return Err(NetError::Conflict(format!(
                "port {port}/{proto} on {ip} is held by another process"
            )));
        }
        st.held.insert((proto, port), false);
        if let Some(t) = v6 {
            st.held6.insert((proto, port), t);
        }
        drop(st);
        let hold = FakeHold {
            fw: self.clone(),
            key: (proto, port),
        };
        Ok((hold, port))
    }

    fn arm(&self, hold: &FakeHold) -> Result<(), NetError> {
        let mut st = self.state();
        let (proto, port) = hold.key;
        let ruled = st.tables.values().any(|t| {
            t.forwards
                .iter()
                .any(|f| f.mapping.proto == proto && f.mapping.host_port == port)
        });
        if !ruled {
            st.armed_without_rule.push(hold.key);
        }
        st.held.insert(hold.key, true);
        Ok(())
    }

    async fn sync(&self, table: &str, rules: &Ruleset) -> Result<(), NetError> {
        let mut st = self.state();
        st.calls += 1;
        if st.failing {
            return Err(NetError::System("nft failed (fake)".into()));
        }
        st.tables.insert(table.to_string(), rules.clone());
        // A hold that listens must keep its rule.
        let bare: Vec<(Proto, u16)> = st
            .held
            .iter()
            .filter(|(&(p, n), &armed)| {
                armed
                    && !st.tables.values().any(|t| {
                        t.forwards
                            .iter()
                            .any(|f| f.mapping.proto == p && f.mapping.host_port == n)
                    })
            })
            .map(|(k, _)| *k)
            .collect();
        st.armed_without_rule.extend(bare);
        Ok(())
    }

    async fn delete(&self, table: &str) -> Result<(), NetError> {
        let mut st = self.state();
        st.calls += 1;
        if st.failing {
            return Err(NetError::System("nft failed (fake)".into()));
        }
        st.tables.remove(table);
        Ok(())
    }
}
