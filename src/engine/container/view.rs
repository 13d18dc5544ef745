//! What `inspect` and `ps` show of a container, and `ps`'s filters.

use std::collections::HashMap;

use bollard_stubs::models::{
    ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryHostConfig, ContainerSummaryNetworkSettings, ContainerSummaryStateEnum,
    EndpointSettings, Health, HealthStatusEnum, HealthcheckResult, MountPoint, MountPointTypeEnum,
    NetworkSettings, Port, PortBinding, PortTypeEnum,
};

use super::mounts::MountKind;
use super::ContainerRecord;
use crate::engine::error::{Error, Result};
use crate::engine::filters;
use crate::engine::supervisor::health::HealthStatus;
use crate::engine::supervisor::{RunState, RunStatus};
use crate::engine::Engine;

/// Docker's "About a minute" style durations.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        172_800..=1_209_599 => format!("{} days", s / 86400),
        1_209_600..=5_183_999 => format!("{} weeks", s / 604_800),
        5_184_000..=63_071_999 => format!("{} months", s / 2_592_000),
        _ => format!("{} years", s / 31_536_000),
    }
}

fn secs_since(ts: Option<&str>) -> i64 {
    ts.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0)
}

/// The STATUS column: `Up 5 seconds (healthy)`, `Exited (0) 3 seconds ago`, `Created`...
pub fn status_line(state: &RunState, has_been_started: bool) -> String {
    let health = match state.health.as_ref().map(|h| h.status) {
        Some(HealthStatus::Starting) => " (health: starting)",
        Some(HealthStatus::Healthy) => " (healthy)",
        Some(HealthStatus::Unhealthy) => " (unhealthy)",
        None => "",
    };
    match state.status {
        RunStatus::Running => format!(
            "Up {}{health}",
            human_duration(secs_since(state.started_at.as_deref()))
        ),
        RunStatus::Paused => format!(
            "Up {} (Paused)",
            human_duration(secs_since(state.started_at.as_deref()))
        ),
        RunStatus::Restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            human_duration(secs_since(state.finished_at.as_deref()))
        ),
        RunStatus::Removing => "Removal In Progress".into(),
        RunStatus::Dead => "Dead".into(),
        RunStatus::Created if !has_been_started => "Created".into(),
        RunStatus::Created | RunStatus::Exited => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            human_duration(secs_since(state.finished_at.as_deref()))
        ),
    }
}

fn state_name(state: &RunState, started: bool) -> &'static str {
    match state.status {
        RunStatus::Created if started => "exited",
        s => s.as_str(),
    }
}

fn command_line(rec: &ContainerRecord) -> String {
    let mut parts = vec![rec.path.clone()];
    parts.extend(rec.args.iter().cloned());
    parts.join(" ")
}

fn mount_points(engine: &Engine, rec: &ContainerRecord) -> Vec<MountPoint> {
    super::create::mount_sources(engine, &rec.mounts)
        .into_iter()
        .map(|(m, path)| MountPoint {
            typ: Some(match m.kind {
                MountKind::Bind => MountPointTypeEnum::BIND,
                MountKind::Volume => MountPointTypeEnum::VOLUME,
                MountKind::Tmpfs => MountPointTypeEnum::TMPFS,
            }),
            name: (m.kind == MountKind::Volume).then(|| m.source.clone()),
            source: Some(path.display().to_string()),
            destination: Some(m.destination.clone()),
            driver: (m.kind == MountKind::Volume).then(|| "local".to_string()),
            mode: Some(if m.read_only {
                "ro".into()
            } else {
                String::new()
            }),
            rw: Some(!m.read_only),
            propagation: Some(match (m.kind, &m.propagation) {
                (MountKind::Bind, Some(p)) => p.clone(),
                (MountKind::Bind, None) => "rprivate".into(),
                _ => String::new(),
            }),
        })
        .collect()
}

fn network_mode(rec: &ContainerRecord) -> String {
    match rec.host_config.network_mode.as_deref() {
        None | Some("") | Some("default") => "bridge".into(),
        Some(m) => m.to_string(),
    }
}

impl Engine {
    pub fn inspect_container(&self, key: &str) -> Result<ContainerInspectResponse> {
        let rec = self.containers.resolve(key)?;
        let dir = self.containers.dir(&rec.id);
        let s = &rec.state;
        let started = rec.has_been_started;
        let status = match state_name(s, started) {
            "running" => ContainerStateStatusEnum::RUNNING,
            "paused" => ContainerStateStatusEnum::PAUSED,
            "restarting" => ContainerStateStatusEnum::RESTARTING,
            "removing" => ContainerStateStatusEnum::REMOVING,
            "exited" => ContainerStateStatusEnum::EXITED,
            "dead" => ContainerStateStatusEnum::DEAD,
            _ => ContainerStateStatusEnum::CREATED,
        };
        let health = s.health.as_ref().map(|h| Health {
            status: Some(match h.status {
                HealthStatus::Starting => HealthStatusEnum::STARTING,
                HealthStatus::Healthy => HealthStatusEnum::HEALTHY,
                HealthStatus::Unhealthy => HealthStatusEnum::UNHEALTHY,
            }),
            failing_streak: Some(h.failing_streak as i64),
            log: Some(
                h.log
                    .iter()
                    .map(|r| HealthcheckResult {
                        start: Some(r.start.clone()),
                        end: Some(r.end.clone()),
                        exit_code: Some(r.exit_code as i64),
                        output: Some(r.output.clone()),
                    })
                    .collect(),
            ),
        });
        let zero = "0001-01-01T00:00:00Z".to_string();
        Ok(ContainerInspectResponse {
            id: Some(rec.id.clone()),
            created: Some(rec.created.clone()),
            path: Some(rec.path.clone()),
            args: Some(rec.args.clone()),
            state: Some(ContainerState {
                status: Some(status),
                running: Some(matches!(s.status, RunStatus::Running | RunStatus::Paused)),
                paused: Some(s.status == RunStatus::Paused),
                restarting: Some(s.status == RunStatus::Restarting),
                oom_killed: Some(s.oom_killed),
                dead: Some(s.status == RunStatus::Dead),
                pid: Some(s.pid as i64),
                exit_code: Some(s.exit_code as i64),
                error: Some(s.error.clone()),
                started_at: Some(s.started_at.clone().unwrap_or_else(|| zero.clone())),
                finished_at: Some(s.finished_at.clone().unwrap_or_else(|| zero.clone())),
                health,
            }),
            image: Some(rec.image_id.clone()),
            resolv_conf_path: Some(dir.join("resolv.conf").display().to_string()),
            hostname_path: Some(dir.join("hostname").display().to_string()),
            hosts_path: Some(dir.join("hosts").display().to_string()),
            log_path: Some(
                dir.join(format!("{}-json.log", rec.id))
                    .display()
                    .to_string(),
            ),
            name: Some(format!("/{}", rec.name)),
            restart_count: Some(s.restart_count as i64),
            driver: Some("overlay2".into()),
            platform: Some("linux".into()),
            mount_label: Some(String::new()),
            process_label: Some(String::new()),
            app_armor_profile: Some(String::new()),
            exec_ids: None,
            host_config: Some(super::defaults::with_defaults(&rec.host_config)),
            mounts: Some(mount_points(self, &rec)),
            config: Some(rec.config.clone()),
            network_settings: Some(network_settings(&rec)),
            ..Default::default()
        })
    }

    pub fn summary(&self, rec: &ContainerRecord) -> ContainerSummary {
        let state = match state_name(&rec.state, rec.has_been_started) {
            "running" => ContainerSummaryStateEnum::RUNNING,
            "paused" => ContainerSummaryStateEnum::PAUSED,
            "restarting" => ContainerSummaryStateEnum::RESTARTING,
            "removing" => ContainerSummaryStateEnum::REMOVING,
            "exited" => ContainerSummaryStateEnum::EXITED,
            "dead" => ContainerSummaryStateEnum::DEAD,
            _ => ContainerSummaryStateEnum::CREATED,
        };
        let created = chrono::DateTime::parse_from_rfc3339(&rec.created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        ContainerSummary {
            id: Some(rec.id.clone()),
            names: Some(vec![format!("/{}", rec.name)]),
            image: Some(rec.image_name()),
            image_id: Some(rec.image_id.clone()),
            command: Some(command_line(rec)),
            created: Some(created),
            ports: Some(summary_ports(rec)),
            labels: Some(rec.labels()),
            state: Some(state),
            status: Some(status_line(&rec.state, rec.has_been_started)),
            host_config: Some(ContainerSummaryHostConfig {
                network_mode: Some(network_mode(rec)),
                annotations: None,
            }),
            network_settings: Some(ContainerSummaryNetworkSettings {
                networks: Some(endpoint_settings(rec)),
            }),
            mounts: Some(mount_points(self, rec)),
            ..Default::default()
        }
    }

    /// `ps`: running containers (or all), newest first, filtered like Docker.
    pub fn list_containers(
        &self,
        all: bool,
        limit: Option<usize>,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerSummary>> {
        for key in filters.keys() {
            if ![
                "label", "name", "status", "id", "ancestor", "exited", "health", "volume",
            ]
            .contains(&key.as_str())
            {
                return Err(Error::invalid(format!("invalid filter '{key}'")));
            }
        }
        let mut recs = self.containers.all();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let link_names = self.link_names(&recs);
        let explicit_status = filters.contains_key("status") || filters.contains_key("exited");
        let mut out = Vec::new();
        for rec in recs {
            if !all && !explicit_status && !rec.state.is_running() {
                continue;
            }
            if !self.matches(&rec, filters) {
                continue;
            }
            let mut summary = self.summary(&rec);
            if let (Some(names), Some(more)) = (summary.names.as_mut(), link_names.get(&rec.id)) {
                names.extend(more.iter().cloned());
            }
            out.push(summary);
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    fn matches(&self, rec: &ContainerRecord, filters: &HashMap<String, Vec<String>>) -> bool {
        let labels = rec.labels();
        filters::all_match(filters, |key, v| match key {
            "label" => filters::label_matches(v, |k| labels.get(k).map(String::as_str)),
            "name" => rec.name.contains(v.trim_start_matches('/')),
            "id" => rec.id.starts_with(v),
            "status" => state_name(&rec.state, rec.has_been_started) == v,
            "exited" => {
                rec.has_been_started
                    && !rec.state.is_running()
                    && rec.state.exit_code.to_string() == *v
            }
            "ancestor" => {
                rec.image_name() == *v
                    || self
                        .images
                        .resolve(v)
                        .map(|i| i.id == rec.image_id)
                        .unwrap_or(false)
            }
            "health" => {
                let h = rec
                    .state
                    .health
                    .as_ref()
                    .map(|h| h.status.as_str())
                    .unwrap_or("none");
                h == v
            }
            "volume" => rec
                .mounts
                .iter()
                .any(|m| m.source == *v || m.destination == *v),
            _ => false,
        })
    }
}

/// Docker's per-network endpoint view.
fn endpoint_settings(rec: &ContainerRecord) -> HashMap<String, EndpointSettings> {
    // What the client asked for (aliases, links, IPAM config, driver options; the API
    // writes what is unset as null) and every address field.
    let asked = |name: &str| {
        let req = rec.networks.get(name);
        let mut s = req.and_then(|r| r.settings.clone()).unwrap_or_default();
        s.aliases = req.map(|r| r.aliases.clone()).filter(|a| !a.is_empty());
        for f in [
            &mut s.network_id,
            &mut s.endpoint_id,
            &mut s.gateway,
            &mut s.ip_address,
        ] {
            f.get_or_insert_with(String::new);
        }
        for f in [
            &mut s.mac_address,
            &mut s.ipv6_gateway,
            &mut s.global_ipv6_address,
        ] {
            f.get_or_insert_with(String::new);
        }
        s.ip_prefix_len.get_or_insert(0);
        s.global_ipv6_prefix_len.get_or_insert(0);
        s
    };
    let mut out = HashMap::new();
    for e in &rec.endpoints {
        let mut dns_names = vec![rec.name.clone(), rec.id[..12].to_string()];
        dns_names.extend(e.aliases.iter().cloned());
        let mut s = asked(&e.network_name);
        if !e.aliases.is_empty() {
            s.aliases = Some(e.aliases.clone());
        }
        s.network_id = Some(e.network_id.clone());
        s.endpoint_id = Some(e.host_ifname.clone());
        s.gateway = Some(e.gateway.to_string());
        s.ip_address = Some(e.ip.to_string());
        s.ip_prefix_len = Some(e.prefix_len as i64);
        if let Some(v6) = e.v6 {
            s.global_ipv6_address = Some(v6.ip.to_string());
            s.global_ipv6_prefix_len = Some(v6.prefix_len as i64);
            s.ipv6_gateway = Some(v6.gateway.to_string());
        }
        s.mac_address = Some(e.mac.clone());
        s.dns_names = Some(dns_names);
        out.insert(e.network_name.clone(), s);
    }
    // A container that never started still lists the networks it asked for.
    for name in rec.networks.keys() {
        out.entry(name.clone()).or_insert_with(|| asked(name));
    }
    out
}

/// The host addresses dockerd lists a mapping under: its own, and on a dual-stack network
/// `::` too for one on every address (it is published on `[::]` as well).
fn shown_host_ips(e: &crate::net::Endpoint, m: &crate::net::PortMapping) -> Vec<String> {
    let mut ips = vec![m.host_ip.to_string()];
    if e.v6.is_some() && m.on_every_address() {
        ips.push("::".into());
    }
    ips
}

fn mapping_key(m: &crate::net::PortMapping) -> String {
    format!("{}/{}", m.container_port, m.proto)
}

fn network_settings(rec: &ContainerRecord) -> NetworkSettings {
    let mut ports: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in rec.config.exposed_ports.iter().flat_map(|m| m.keys()) {
        ports.insert(p.clone(), None);
    }
    if rec.state.is_running() {
        for e in &rec.endpoints {
            for m in &e.ports {
                let list = ports
                    .entry(mapping_key(m))
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new);
                let binding = |ip: String| PortBinding {
                    host_ip: Some(ip),
                    host_port: Some(m.host_port.to_string()),
                };
                list.extend(shown_host_ips(e, m).into_iter().map(binding));
            }
        }
    }
    let primary = rec.endpoints.first();
    NetworkSettings {
        networks: Some(endpoint_settings(rec)),
        ports: Some(ports),
        sandbox_key: primary.map(|e| e.netns.display().to_string()),
        ip_address: primary.map(|e| e.ip.to_string()),
        ip_prefix_len: primary.map(|e| e.prefix_len as i64),
        gateway: primary.map(|e| e.gateway.to_string()),
        mac_address: primary.map(|e| e.mac.clone()),
        global_ipv6_address: Some(
            primary
                .and_then(|e| e.v6)
                .map(|v| v.ip.to_string())
                .unwrap_or_default(),
        ),
        global_ipv6_prefix_len: Some(
            primary
                .and_then(|e| e.v6)
                .map(|v| v.prefix_len as i64)
                .unwrap_or(0),
        ),
        ipv6_gateway: Some(
            primary
                .and_then(|e| e.v6)
                .map(|v| v.gateway.to_string())
                .unwrap_or_default(),
        ),
        ..Default::default()
    }
}

fn summary_ports(rec: &ContainerRecord) -> Vec<Port> {
    if !rec.state.is_running() {
        return Vec::new();
    }
    let port = |m: &crate::net::PortMapping, ip: String| Port {
        ip: Some(ip),
        private_port: m.container_port,
        public_port: Some(m.host_port),
        typ: Some(if m.proto == crate::net::Proto::Udp {
            PortTypeEnum::UDP
        } else {
            PortTypeEnum::TCP
        }),
    };
    rec.endpoints
        .iter()
        .flat_map(|e| e.ports.iter().map(move |m| (e, m)))
        .flat_map(|(e, m)| shown_host_ips(e, m).into_iter().map(move |ip| port(m, ip)))
        .collect()
}

pub use crate::engine::filters::parse as parse_filters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }
}
