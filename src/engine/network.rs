//! The engine's side of networking: network records in the store, each container's persistent
//! network namespace, attaching it to its networks at start (addresses, DNS names, published
//! ports), unpublishing at stop, detaching at removal, and repair after a daemon restart.
//! The plumbing itself (bridges, veths, nftables, DNS) is `crate::net`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use bollard_stubs::models::EventMessageTypeEnum;
use serde::{Deserialize, Serialize};

use super::container::ContainerRecord;
use super::error::{Error, Result};
use super::runtime::NetworkNamespace;
use super::store::{self, Table};
use super::supervisor::RunStatus;
use super::Engine;
use crate::net::{self, Attachment, NetError, Network, NetworkCreate, NetworkManager, PortMapping};

/// What a container asked for on one network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointRequest {
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// `--ip6` / `IPAMConfig.IPv6Address` / compose `ipv6_address`.
    #[serde(default)]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// `--mac-address` / `MacAddress`.
    #[serde(default)]
    pub mac: Option<[u8; 6]>,
    /// The endpoint settings as the client sent them (links, IPAM config, driver options),
    /// echoed by inspect like dockerd does.
    #[serde(default)]
    pub settings: Option<bollard_stubs::models::EndpointSettings>,
}

impl EndpointRequest {
    /// The endpoint's links (`name:alias`, or `name` for the name itself) as (alias, name).
    pub fn links(&self) -> Vec<(String, String)> {
        let links = self.settings.as_ref().and_then(|s| s.links.as_deref());
        links
            .unwrap_or_default()
            .iter()
            .map(|l| crate::engine::container::links::Link::parse(l))
            .map(|l| (l.alias, l.target))
            .collect()
    }

    pub fn from_settings(settings: &bollard_stubs::models::EndpointSettings) -> Result<Self> {
        let ip = match settings
            .ipam_config
            .as_ref()
            .and_then(|c| c.ipv4_address.as_deref())
            .filter(|s| !s.is_empty())
        {
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| Error::invalid(format!("invalid IPv4 address {ip:?}")))?,
            ),
            None => None,
        };
        let ip6 = match settings
            .ipam_config
            .as_ref()
            .and_then(|c| c.ipv6_address.as_deref())
            .filter(|s| !s.is_empty())
        {
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| Error::invalid(format!("invalid IPv6 address {ip:?}")))?,
            ),
            None => None,
        };
        let mac = match settings.mac_address.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => Some(crate::docker::mac::parse_mac(m).map_err(Error::invalid)?),
            None => None,
        };
        Ok(EndpointRequest {
            aliases: settings.aliases.clone().unwrap_or_default(),
            ip,
            ip6,
            mac,
            settings: Some(settings.clone()),
        })
    }
}

/// How a container is networked, from `HostConfig.NetworkMode`.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkMode {
    Host,
    None,
    /// Share another container's namespace.
    Container(String),
    /// Bridge networks (the default `bridge`, or user-defined ones).
    Networks,
}

impl NetworkMode {
    pub fn parse(mode: Option<&str>) -> Self {
        match mode.unwrap_or("default") {
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            m if m.starts_with("container:") => {
                NetworkMode::Container(m["container:".len()..].to_string())
            }
            _ => NetworkMode::Networks,
        }
    }

    /// The network a mode names (`default` → `bridge`).
    pub fn primary(mode: Option<&str>) -> String {
        match mode.unwrap_or("default") {
            "" | "default" | "bridge" => net::DEFAULT_NETWORK.to_string(),
            other => other.to_string(),
        }
    }
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Invalid(m) => Error::InvalidArgument(m),
            NetError::NotFound(m) => Error::NotFound(m),
            NetError::Conflict(m) | NetError::InUse(m) => Error::Conflict(m),
            NetError::Exhausted(m) | NetError::System(m) => Error::Internal(m),
        }
    }
}

impl Engine {
    /// Start the networking layer and restore its state (networks from the store, endpoints of
    /// containers whose namespaces still exist). Must run inside the daemon's runtime.
    pub async fn init_networking(&self) -> Result<()> {
        let cfg = self.config.manager_config()?;
        let mgr = NetworkManager::new(cfg)?;
        let networks: Vec<Network> = self.db.list(Table::Networks)?;
        // A stopped container keeps its addresses but publishes nothing (its ports come back
        // at start); a running one gets its ports (rules and held host ports) back.
        let endpoints: Vec<net::Endpoint> = self
            .containers
            .all()
            .into_iter()
            .flat_map(|c| {
                let running = c.state.is_running();
                c.endpoints.into_iter().map(move |mut e| {
                    if !running {
                        e.ports.clear();
                    }
                    e
                })
            })
            .filter(|e| net::netns::is_netns(&e.netns))
            .collect();
        let report = mgr.restore(networks, endpoints).await;
        if !report.errors.is_empty() {
            tracing::warn!(errors = ?report.errors, "network repair at startup");
        }
        // Containers whose namespace vanished (a reboot) lose their endpoints.
        for c in self.containers.all() {
            if c.endpoints.iter().any(|e| !net::netns::is_netns(&e.netns)) {
                let _ = self.containers.update(&c.id, |r| r.endpoints.clear());
            }
        }
        for n in mgr.networks().await {
            self.save_network(&n)?;
        }
        let _ = self.net.set(Arc::new(mgr));
        Ok(())
    }

    pub fn net(&self) -> Result<&Arc<NetworkManager>> {
        self.net
            .get()
            .ok_or_else(|| Error::internal("networking is not initialised"))
    }

    fn save_network(&self, n: &Network) -> Result<()> {
        self.db
            .tx(|tx| store::put_named(tx, Table::Networks, &n.id, &n.name, n))
    }

    async fn persist_networks(&self) -> Result<()> {
        for n in self.net()?.networks().await {
            self.save_network(&n)?;
        }
        Ok(())
    }

    /// The default `bridge` network, created on first use (with `bip` from daemon.json).
    pub async fn default_network(&self) -> Result<Network> {
        let mgr = self.net()?;
        if let Some(n) = mgr.network(net::DEFAULT_NETWORK).await {
            return Ok(n);
        }
        let n = mgr
            .create_network(NetworkCreate {
                name: net::DEFAULT_NETWORK.into(),
                subnet: self.config.bip.clone(),
                enable_ipv6: self.config.default_bridge_v6().is_some(),
                v6: self
                    .config
                    .default_bridge_v6()
                    .filter(|v| v.subnet.is_some()),
                ..Default::default()
            })
            .await?;
        self.save_network(&n)?;
        Ok(n)
    }

    pub async fn find_network(&self, name_or_id: &str) -> Result<Network> {
        if name_or_id == net::DEFAULT_NETWORK {
            return self.default_network().await;
        }
        let mgr = self.net()?;
        if let Some(n) = mgr.network(name_or_id).await {
            return Ok(n);
        }
        // A unique id prefix, like Docker.
        let matches: Vec<Network> = mgr
            .networks()
            .await
            .into_iter()
            .filter(|n| n.id.starts_with(name_or_id))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().unwrap()),
            _ => Err(Error::not_found(format!("network {name_or_id} not found"))),
        }
    }

    pub async fn create_network(&self, req: NetworkCreate) -> Result<Network> {
        if ["host", "none", "default"].contains(&req.name.as_str()) {
            return Err(Error::conflict(format!(
                "network with name {} already exists (predefined)",
                req.name
            )));
        }
        let n = self.net()?.create_network(req).await?;
        self.save_network(&n)?;
        self.events.publish(
            EventMessageTypeEnum::NETWORK,
            "create",
            &n.id,
            HashMap::from([
                ("name".to_string(), n.name.clone()),
                ("type".to_string(), n.driver.clone()),
            ]),
        );
        Ok(n)
    }

    pub async fn remove_network(&self, name_or_id: &str) -> Result<()> {
        let n = self.find_network(name_or_id).await?;
        if n.name == net::DEFAULT_NETWORK {
            return Err(Error::conflict(
                "bridge is a pre-defined network and cannot be removed",
            ));
        }
        // Stopped containers keep their endpoints; they count as users too.
        let users: Vec<String> = self
            .containers
            .all()
            .into_iter()
            .filter(|c| {
                c.endpoints.iter().any(|e| e.network_id == n.id) || c.networks.contains_key(&n.name)
            })
            .map(|c| c.name)
            .collect();
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "error while removing network: network {} has active endpoints (containers: {})",
                n.name,
                users.join(", ")
            )));
        }
        self.net()?.remove_network(&n.id).await?;
        self.db.tx(|tx| store::delete(tx, Table::Networks, &n.id))?;
        self.events.publish(
            EventMessageTypeEnum::NETWORK,
            "destroy",
            &n.id,
            HashMap::from([("name".to_string(), n.name.clone())]),
        );
        Ok(())
    }

    fn netns_path(&self, id: &str) -> PathBuf {
        self.paths.netns_dir().join(id)
    }

    /// The network namespace a container starts in; attaches it first when needed.
    #[tracing::instrument(target = "phase", level = "debug", name = "network", skip_all)]
    pub(crate) async fn prepare_network(
        self: &Arc<Self>,
        rec: &ContainerRecord,
    ) -> Result<NetworkNamespace> {
        match NetworkMode::parse(rec.host_config.network_mode.as_deref()) {
            NetworkMode::Host => Ok(NetworkNamespace::Host),
            NetworkMode::None => Ok(NetworkNamespace::New),
            NetworkMode::Container(other) => {
                let other = self.containers.resolve(&other)?;
                let path = self.netns_path(&other.id);
                if net::netns::is_netns(&path) {
                    Ok(NetworkNamespace::Path { path })
                } else if other.state.is_running() && other.state.pid > 0 {
                    Ok(NetworkNamespace::Path {
                        path: PathBuf::from(format!("/proc/{}/ns/net", other.state.pid)),
                    })
                } else {
                    Err(Error::conflict(format!(
                        "cannot join network of a non running container: {}",
                        other.name
                    )))
                }
            }
            NetworkMode::Networks => {
                let path = self.netns_path(&rec.id);
                if !rec.endpoints.is_empty() && net::netns::is_netns(&path) {
                    // Started again: addresses were kept, published ports come back.
                    self.republish(rec).await?;
                    return Ok(NetworkNamespace::Path { path });
                }
                self.attach_all(rec, &path).await?;
                Ok(NetworkNamespace::Path { path })
            }
        }
    }

    /// A container started again in its kept namespace: its published ports come back, on the
    /// network they are published through.
    async fn republish(&self, rec: &ContainerRecord) -> Result<()> {
        if rec.port_mappings.is_empty() {
            return Ok(());
        }
        let mgr = self.net()?;
        let mut networks = Vec::new();
        for e in &rec.endpoints {
            networks.push(mgr.network(&e.network_id).await);
        }
        let Some(i) = publishing_network(networks.iter().map(Option::as_ref)) else {
            return Ok(());
        };
        let network = rec.endpoints[i].network_id.clone();
        let ports = mgr.publish(&rec.id, &network, &rec.port_mappings).await?;
        self.containers.update(&rec.id, |r| {
            if let Some(e) = r.endpoints.get_mut(i) {
                e.ports = ports.clone();
            }
        })?;
        Ok(())
    }

    async fn attach_all(
        self: &Arc<Self>,
        rec: &ContainerRecord,
        path: &std::path::Path,
    ) -> Result<()> {
        let mgr = self.net()?.clone();
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if p.exists() {
                let _ = net::netns::delete(&p);
            }
            net::netns::create(&p)
        })
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::internal(format!("creating the network namespace: {e}")))?;
        let mut endpoints = Vec::new();
        let upstreams = rec
            .host_config
            .dns
            .iter()
            .flatten()
            .filter_map(|d| format!("{d}:53").parse().ok())
            .collect::<Vec<_>>();
        let mut networks = Vec::new();
        for name in rec.networks.keys() {
            networks.push(self.find_network(name).await);
        }
        let publish_on = publishing_network(networks.iter().map(|n| n.as_ref().ok()));
        let mut result = match (publish_on, rec.port_mappings.is_empty()) {
            (None, false)
                if networks
                    .iter()
                    .all(|n| n.as_ref().is_ok_and(|n| n.is_bridge())) =>
            {
                Err(Error::invalid(format!(
                "cannot publish the ports of container {}: all of its networks are internal ({})",
                rec.name,
                rec.networks.keys().cloned().collect::<Vec<_>>().join(", ")
            )))
            }
            _ => Ok(()),
        };
        for (i, ((_, req), network)) in rec.networks.iter().zip(networks).enumerate() {
            if result.is_err() {
                break;
            }
            let network = match network {
                Ok(n) => n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let att = Attachment {
                container_id: rec.id.clone(),
                container_name: rec.name.clone(),
                aliases: req.aliases.clone(),
                ip: req.ip,
                ip6: req.ip6,
                ports: if Some(i) == publish_on {
                    rec.port_mappings.clone()
                } else {
                    Vec::new()
                },
                // A fresh namespace: no need to look for a free name.
                ifname: Some(format!("eth{i}")),
                dns_upstreams: upstreams.clone(),
                mac: req.mac,
                links: req.links(),
            };
            match mgr.attach(path, &network.id, att).await {
                Ok(ep) => endpoints.push(ep),
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if let Err(e) = result {
            let _ = mgr.detach_all(&rec.id).await;
            let p = path.to_path_buf();
            let _ = tokio::task::spawn_blocking(move || net::netns::delete(&p)).await;
            let _ = self.persist_networks().await;
            return Err(e);
        }
        self.persist_networks().await?;
        let rec = self
            .containers
            .update(&rec.id, |r| r.endpoints = endpoints.clone())?;
        self.write_network_files(&rec)?;
        Ok(())
    }

    /// /etc/hosts and /etc/resolv.conf for the container's endpoints.
    pub(crate) fn write_network_files(&self, rec: &ContainerRecord) -> Result<()> {
        let dir = self.containers.dir(&rec.id);
        let hostname = rec.config.hostname.clone().unwrap_or_default();
        let own: Vec<std::net::IpAddr> = rec.endpoints.iter().flat_map(|e| e.ips()).collect();
        let gateway = rec.endpoints.first().map(|e| e.gateway);
        let mut add_hosts = rec.host_config.extra_hosts.clone().unwrap_or_default();
        add_hosts.extend(self.link_hosts(rec));
        let hosts = net::hosts_file(&hostname, &own, &add_hosts, gateway)?;
        // Written in place: a running container has these files bind-mounted (by inode).
        std::fs::write(dir.join("hosts"), hosts.as_bytes())
            .map_err(|e| Error::internal(format!("writing hosts: {e}")))?;
        let host_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let dns_server = rec.endpoints.iter().find_map(|e| e.dns_server);
        let resolv = net::resolv_conf(
            dns_server,
            &host_conf,
            rec.host_config.dns.as_deref().unwrap_or_default(),
            rec.host_config.dns_search.as_deref().unwrap_or_default(),
            rec.host_config.dns_options.as_deref().unwrap_or_default(),
        );
        std::fs::write(dir.join("resolv.conf"), resolv.as_bytes())
            .map_err(|e| Error::internal(format!("writing resolv.conf: {e}")))?;
        Ok(())
    }

    /// The container stopped for good: its published ports go away (they come back at start).
    #[tracing::instrument(target = "phase", level = "debug", name = "network stop", skip_all)]
    pub(crate) async fn network_stopped(&self, id: &str) {
        if let Ok(mgr) = self.net() {
            if !mgr.ports(id).await.is_empty() {
                let _ = mgr.unpublish(id).await;
                let _ = self
                    .containers
                    .update(id, |r| r.endpoints.iter_mut().for_each(|e| e.ports.clear()));
            }
        }
    }

    /// The container is being removed: detach it everywhere and delete its namespace.
    #[tracing::instrument(target = "phase", level = "debug", name = "network remove", skip_all)]
    pub(crate) async fn network_removed(&self, rec: &ContainerRecord) {
        if let Ok(mgr) = self.net() {
            if !rec.endpoints.is_empty() {
                let _ = mgr.detach_all(&rec.id).await;
                let _ = self.persist_networks().await;
            }
        }
        let path = self.netns_path(&rec.id);
        if path.exists() {
            let _ = tokio::task::spawn_blocking(move || net::netns::delete(&path)).await;
        }
    }

    /// At daemon shutdown with no container left: the default bridge (and with the last
    /// network, the firewall table) goes too, so nothing stays on the host.
    pub async fn release_idle_networking(&self) {
        if !self.containers.all().is_empty() {
            return;
        }
        let Ok(mgr) = self.net() else { return };
        if let Some(n) = mgr.network(net::DEFAULT_NETWORK).await {
            if mgr.network_endpoints(&n.id).await.is_empty()
                && mgr.remove_network(&n.id).await.is_ok()
            {
                let _ = self.db.tx(|tx| store::delete(tx, Table::Networks, &n.id));
            }
        }
    }

    /// `network connect`: attach a container (running or not) to one more network.
    pub async fn connect_network(
        self: &Arc<Self>,
        network: &str,
        container: &str,
        req: EndpointRequest,
    ) -> Result<()> {
        let n = self.find_network(network).await?;
        let rec = self.containers.resolve(container)?;
        if NetworkMode::parse(rec.host_config.network_mode.as_deref()) != NetworkMode::Networks {
            return Err(Error::conflict(format!(
                "container {} is not on a bridge network (network mode {})",
                rec.name,
                rec.host_config.network_mode.clone().unwrap_or_default()
            )));
        }
        if rec.networks.contains_key(&n.name) {
            return Err(Error::conflict(format!(
                "endpoint with name {} already exists in network {}",
                rec.name, n.name
            )));
        }
        let path = self.netns_path(&rec.id);
        // A running container is attached at once, also one whose last network was just
        // disconnected (no endpoint left, its namespace still there).
        let live =
            (rec.state.is_running() || !rec.endpoints.is_empty()) && net::netns::is_netns(&path);
        if live {
            let att = Attachment {
                container_id: rec.id.clone(),
                container_name: rec.name.clone(),
                aliases: req.aliases.clone(),
                ip: req.ip,
                ip6: req.ip6,
                ports: Vec::new(),
                ifname: None,
                dns_upstreams: Vec::new(),
                mac: req.mac,
                links: req.links(),
            };
            let ep = self.net()?.attach(&path, &n.id, att).await?;
            self.persist_networks().await?;
            let rec = self.containers.update(&rec.id, |r| {
                r.networks.insert(n.name.clone(), req.clone());
                r.endpoints.push(ep.clone());
            })?;
            self.write_network_files(&rec)?;
        } else {
            self.containers.update(&rec.id, |r| {
                r.networks.insert(n.name.clone(), req.clone());
            })?;
        }
        self.container_event("connect", &n, &rec.id);
        Ok(())
    }

    /// `network disconnect`.
    pub async fn disconnect_network(
        self: &Arc<Self>,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<()> {
        let n = self.find_network(network).await?;
        let rec = self.containers.resolve(container)?;
        if !rec.networks.contains_key(&n.name)
            && !rec.endpoints.iter().any(|e| e.network_id == n.id)
        {
            if force {
                return Ok(());
            }
            return Err(Error::conflict(format!(
                "container {} is not connected to network {}",
                rec.name, n.name
            )));
        }
        if rec.endpoints.iter().any(|e| e.network_id == n.id) {
            self.net()?.detach(&rec.id, &n.id).await?;
            self.persist_networks().await?;
        }
        let rec = self.containers.update(&rec.id, |r| {
            r.networks.remove(&n.name);
            r.endpoints.retain(|e| e.network_id != n.id);
        })?;
        if !rec.endpoints.is_empty() {
            self.write_network_files(&rec)?;
        }
        self.container_event("disconnect", &n, &rec.id);
        Ok(())
    }

    /// A network event about one container (`connect`, `disconnect`).
    fn container_event(&self, action: &str, n: &Network, container_id: &str) {
        self.events.publish(
            EventMessageTypeEnum::NETWORK,
            action,
            &n.id,
            HashMap::from([
                ("container".to_string(), container_id.to_string()),
                ("name".to_string(), n.name.clone()),
            ]),
        );
    }

    /// Containers (id → endpoint) on a network, for `network inspect`.
    pub async fn network_containers(
        &self,
        n: &Network,
    ) -> BTreeMap<String, (String, net::Endpoint)> {
        let mut out = BTreeMap::new();
        for c in self.containers.all() {
            if c.state.status == RunStatus::Removing {
                continue;
            }
            for e in &c.endpoints {
                if e.network_id == n.id {
                    out.insert(c.id.clone(), (c.name.clone(), e.clone()));
                }
            }
        }
        out
    }
}

/// The network a container's ports are published through: the first of its bridge networks
/// that is not internal, as Docker does (a macvlan/ipvlan container is reached at its own
/// address). `None` stands for a network that could not be found.
fn publishing_network<'a>(
    networks: impl IntoIterator<Item = Option<&'a Network>>,
) -> Option<usize> {
    networks
        .into_iter()
        .position(|n| n.is_some_and(|n| !n.internal && n.is_bridge()))
}

/// Published ports requested by a create body: `PortBindings` and, with `PublishAllPorts`, every
/// exposed port not bound otherwise (to an ephemeral host port).
pub fn port_mappings(
    bindings: Option<&HashMap<String, Option<Vec<bollard_stubs::models::PortBinding>>>>,
    exposed: &[String],
    publish_all: bool,
) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    let parse_key = |key: &str| -> Result<(u16, net::Proto)> {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let port: u16 = port
            .parse()
            .map_err(|_| Error::invalid(format!("invalid port {key:?}")))?;
        let proto = match proto {
            "tcp" => net::Proto::Tcp,
            "udp" => net::Proto::Udp,
            other => {
                return Err(Error::invalid(format!(
                    "unsupported protocol {other:?} in {key:?}"
                )))
            }
        };
        Ok((port, proto))
    };
    let mut bound = std::collections::HashSet::new();
    for (key, list) in bindings.into_iter().flatten() {
        let (container_port, proto) = parse_key(key)?;
        bound.insert((container_port, proto));
        for b in list.iter().flatten() {
            let host_ip: IpAddr = match b.host_ip.as_deref().map(str::trim) {
                None | Some("") => Ipv4Addr::UNSPECIFIED.into(),
                Some(ip) => ip
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| {
                        Error::invalid(format!(
                            "invalid host IP {ip:?} for port {key}: expected an IPv4 or IPv6 address"
                        ))
                    })?,
            };
            let host_port: u16 = match b.host_port.as_deref() {
                None | Some("") => 0,
                Some(p) if p.contains('-') => {
                    return Err(Error::invalid(format!(
                        "host port range {p:?} for port {key}: publishing on one port of a range is not supported yet; give one host port per container port"
                    )))
                }
                Some(p) => p.parse().map_err(|_| {
                    Error::invalid(format!("invalid host port {p:?} for port {key}"))
                })?,
            };
            out.push(PortMapping {
                host_ip,
                host_port,
                container_port,
                proto,
            });
        }
    }
    if publish_all {
        for key in exposed {
            let (container_port, proto) = parse_key(key)?;
            if bound.insert((container_port, proto)) {
                out.push(PortMapping {
                    host_ip: Ipv4Addr::UNSPECIFIED.into(),
                    host_port: 0,
                    container_port,
                    proto,
                });
            }
        }
    }
    out.sort();
    Ok(out)
}
