//! The host config's sections: resources, security, storage, name resolution and networks.

use std::collections::HashMap;

use bollard_stubs::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, Mount, NetworkingConfig,
    ResourcesUlimits,
};

use super::{host, non_empty};

/// Limits (bytes, nano CPUs, a process count) and ulimits.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    pub shm_size: Option<i64>,
    pub ulimits: Vec<ResourcesUlimits>,
}

impl Resources {
    pub fn apply(self, body: &mut ContainerCreateBody) {
        let h = host(body);
        h.memory = self.memory;
        h.memory_reservation = self.memory_reservation;
        h.nano_cpus = self.nano_cpus;
        h.pids_limit = self.pids_limit;
        h.shm_size = self.shm_size;
        h.ulimits = non_empty(self.ulimits);
    }
}

/// One ulimit.
pub fn ulimit(name: &str, soft: i64, hard: i64) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft),
        hard: Some(hard),
    }
}

/// The limits go-units knows (`ulimit -a`'s names).
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Docker's `name=soft[:hard]` (a single value is both limits), checked as go-units'
/// `ParseUlimit` checks it, with its messages.
pub fn parse_ulimit(spec: &str) -> Result<ResourcesUlimits, String> {
    let (name, vals) = spec
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {spec}"))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let soft: i64 = soft
        .parse()
        .map_err(|_| format!("invalid ulimit soft value: {soft}"))?;
    let hard: i64 = hard
        .parse()
        .map_err(|_| format!("invalid ulimit hard value: {hard}"))?;
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(ulimit(name, soft, hard))
}

/// Privileges and kernel settings. The flags are `Option`s because `run` sends `false` where
/// compose leaves the field out.
#[derive(Clone, Debug, Default)]
pub struct Security {
    pub privileged: Option<bool>,
    pub readonly_rootfs: Option<bool>,
    pub init: Option<bool>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub group_add: Vec<String>,
    pub sysctls: HashMap<String, String>,
}

impl Security {
    pub fn apply(self, body: &mut ContainerCreateBody) {
        let h = host(body);
        h.privileged = self.privileged;
        h.readonly_rootfs = self.readonly_rootfs;
        h.init = self.init;
        h.cap_add = non_empty(self.cap_add);
        h.cap_drop = non_empty(self.cap_drop);
        h.security_opt = non_empty(self.security_opt);
        h.group_add = non_empty(self.group_add);
        h.sysctls = (!self.sysctls.is_empty()).then_some(self.sysctls);
    }
}

/// Mounts: `-v` binds as written, typed mounts, and tmpfs paths with their options.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    pub binds: Vec<String>,
    pub mounts: Vec<Mount>,
    pub tmpfs: HashMap<String, String>,
}

impl Storage {
    pub fn apply(self, body: &mut ContainerCreateBody) {
        let h = host(body);
        h.binds = non_empty(self.binds);
        h.mounts = non_empty(self.mounts);
        h.tmpfs = (!self.tmpfs.is_empty()).then_some(self.tmpfs);
    }
}

/// `path[:options]` entries as the API's tmpfs map.
pub fn tmpfs_map(entries: &[String]) -> HashMap<String, String> {
    entries
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect()
}

/// Name resolution inside the container.
#[derive(Clone, Debug, Default)]
pub struct Dns {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
    /// `host:ip` entries.
    pub extra_hosts: Vec<String>,
}

impl Dns {
    pub fn apply(self, body: &mut ContainerCreateBody) {
        let h = host(body);
        h.dns = non_empty(self.servers);
        h.dns_search = non_empty(self.search);
        h.dns_options = non_empty(self.options);
        h.extra_hosts = non_empty(self.extra_hosts);
    }
}

/// The network mode and the endpoint settings per network.
#[derive(Clone, Debug, Default)]
pub struct Networking {
    pub mode: Option<String>,
    pub publish_all: Option<bool>,
    pub endpoints: HashMap<String, EndpointSettings>,
}

impl Networking {
    pub fn apply(self, body: &mut ContainerCreateBody) {
        let h = host(body);
        h.network_mode = self.mode;
        h.publish_all_ports = self.publish_all;
        body.networking_config = (!self.endpoints.is_empty()).then_some(NetworkingConfig {
            endpoints_config: Some(self.endpoints),
        });
    }
}

/// One network endpoint: aliases, legacy links, fixed addresses (IPv4, IPv6), the gateway
/// priority.
pub fn endpoint(
    aliases: Vec<String>,
    links: Vec<String>,
    (ipv4_address, ipv6_address): (Option<String>, Option<String>),
    priority: Option<i64>,
) -> EndpointSettings {
    let fixed = ipv4_address.is_some() || ipv6_address.is_some();
    EndpointSettings {
        aliases: non_empty(aliases),
        links: non_empty(links),
        ipam_config: fixed.then(|| EndpointIpamConfig {
            ipv4_address,
            ipv6_address,
            ..Default::default()
        }),
        gw_priority: priority,
        ..Default::default()
    }
}
