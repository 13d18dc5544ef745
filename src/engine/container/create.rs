//! `create`: merge the request with the image's defaults (Docker's rules), validate it, resolve
//! mounts and volumes, lay out the container's directory and register the record atomically.

use std::collections::HashMap;

use bollard_stubs::models::{
    ContainerConfig, ContainerCreateBody, EventMessageTypeEnum, HealthConfig, HostConfig,
};

use super::mounts::{self, MountKind, ResolvedMount};
use super::ContainerRecord;
use crate::docker::platform::Platform;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::image::config::{HealthConfig as ImageHealth, ImageConfig, RunConfig};
use crate::engine::network::{EndpointRequest, NetworkMode};
use crate::engine::runtime::caps;
use crate::engine::supervisor::{HealthSpec, RestartPolicy, RunState};
use crate::engine::Engine;
use crate::util::ids::{random_id, random_name};

pub struct CreateRequest {
    pub name: Option<String>,
    pub body: ContainerCreateBody,
    /// `?platform=`: the image must be of this platform (Docker 24's check at create).
    pub platform: Option<Platform>,
}

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The smallest memory limit Docker accepts.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Split a create body into the container config and host config.
fn split_body(
    body: ContainerCreateBody,
) -> Result<(
    ContainerConfig,
    HostConfig,
    Option<bollard_stubs::models::NetworkingConfig>,
)> {
    let host = body.host_config.clone().unwrap_or_default();
    let networking = body.networking_config.clone();
    let mut value = serde_json::to_value(&body)?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("HostConfig");
        obj.remove("NetworkingConfig");
    }
    let config: ContainerConfig = serde_json::from_value(value)?;
    Ok((config, host, networking))
}

/// Docker's merge of a container's config with its image's.
fn merge_with_image(config: &mut ContainerConfig, image: &RunConfig) {
    let entrypoint_empty = config
        .entrypoint
        .as_ref()
        .is_none_or(|e| e.iter().all(|s| s.is_empty()));
    if entrypoint_empty {
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            config.cmd = image.cmd.clone();
        }
        if config.entrypoint.is_none() {
            config.entrypoint = image.entrypoint.clone();
        } else {
            config.entrypoint = Some(Vec::new());
        }
    }
    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for e in config.env.clone().unwrap_or_default() {
        let key = e.split('=').next().unwrap_or_default().to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    config.env = Some(env);
    if config.working_dir.as_ref().is_none_or(|w| w.is_empty()) {
        config.working_dir = image.working_dir.clone();
    }
    if config.user.as_ref().is_none_or(|u| u.is_empty()) {
        config.user = image.user.clone();
    }
    let mut labels = image.labels.clone().unwrap_or_default();
    labels.extend(config.labels.clone().unwrap_or_default());
    config.labels = Some(labels);
    if config.stop_signal.as_ref().is_none_or(|s| s.is_empty()) {
        config.stop_signal = image.stop_signal.clone();
    }
    let mut exposed = config.exposed_ports.clone().unwrap_or_default();
    for p in image.exposed_ports.iter().flat_map(|m| m.keys()) {
        exposed.entry(p.clone()).or_default();
    }
    config.exposed_ports = (!exposed.is_empty()).then_some(exposed);
    let mut volumes = config.volumes.clone().unwrap_or_default();
    for v in image.volumes.iter().flat_map(|m| m.keys()) {
        volumes.entry(v.clone()).or_default();
    }
    config.volumes = (!volumes.is_empty()).then_some(volumes);
    config.healthcheck = merge_health(config.healthcheck.take(), image.healthcheck.as_ref());
}

fn merge_health(user: Option<HealthConfig>, image: Option<&ImageHealth>) -> Option<HealthConfig> {
    let Some(image) = image else { return user };
    let mut h = user.unwrap_or_default();
    if h.test.as_ref().is_none_or(|t| t.is_empty()) {
        h.test = image.test.clone();
    }
    let pick = |mine: Option<i64>, theirs: Option<i64>| match mine {
        Some(v) if v != 0 => Some(v),
        _ => theirs,
    };
    h.interval = pick(h.interval, image.interval);
    h.timeout = pick(h.timeout, image.timeout);
    h.start_period = pick(h.start_period, image.start_period);
    h.start_interval = pick(h.start_interval, image.start_interval);
    h.retries = pick(h.retries, image.retries);
    Some(h)
}

/// Validate what the runtime will need, so `start` fails only for run-time reasons.
pub fn validate_host_config(host: &HostConfig, config: &ContainerConfig) -> Result<()> {
    if let Some(m) = host.memory {
        if m != 0 && m < MIN_MEMORY {
            return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
        }
    }
    if host.nano_cpus.unwrap_or(0) < 0 {
        return Err(Error::invalid(
            "Range of CPUs is from 0.01 to the number of CPUs available",
        ));
    }
    super::defaults::validate_log_config(host)?;
    super::defaults::validate_runtime(host)?;
    let policy = restart_policy(host)?;
    if host.auto_remove.unwrap_or(false) && policy != RestartPolicy::No {
        return Err(Error::invalid(
            "Conflicting options: cannot specify both --restart and --rm",
        ));
    }
    caps::compute(
        host.privileged.unwrap_or(false),
        host.cap_add.as_deref().unwrap_or_default(),
        host.cap_drop.as_deref().unwrap_or_default(),
    )
    .map_err(Error::invalid)?;
    if let Some(sig) = &config.stop_signal {
        if !sig.is_empty() {
            parse_signal(sig)?;
        }
    }
    if let Some(h) = &config.healthcheck {
        health_spec(h)?;
    }
    if let Some(mode) = host.network_mode.as_deref() {
        // A network's name may have spaces (`test 01`), as dockerd's.
        if mode.trim().is_empty() || mode.contains(char::is_control) {
            return Err(Error::invalid(format!("invalid network mode {mode:?}")));
        }
    }
    for opt in host.security_opt.iter().flatten() {
        let ok = opt == "seccomp=unconfined"
            || opt == "seccomp:unconfined"
            || opt.starts_with("label")
            || opt.starts_with("apparmor");
        if !ok && no_new_privileges_opt(opt)?.is_none() {
            return Err(Error::invalid(format!("invalid --security-opt: {opt:?}")));
        }
    }
    Ok(())
}

/// Docker's `--security-opt no-new-privileges[=|:true|false]` (off unless asked for).
pub fn no_new_privileges(host: &HostConfig) -> Result<bool> {
    let mut on = false;
    for opt in host.security_opt.iter().flatten() {
        if let Some(v) = no_new_privileges_opt(opt)? {
            on = v;
        }
    }
    Ok(on)
}

/// `Some(value)` when `opt` is a no-new-privileges option.
fn no_new_privileges_opt(opt: &str) -> Result<Option<bool>> {
    let Some(rest) = opt.strip_prefix("no-new-privileges") else {
        return Ok(None);
    };
    let value = match rest.chars().next() {
        None => return Ok(Some(true)),
        Some('=' | ':') => &rest[1..],
        Some(_) => return Ok(None),
    };
    match value {
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(Some(true)),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(Some(false)),
        _ => Err(Error::invalid(format!(
            "invalid --security-opt 2: {opt:?} (no-new-privileges takes true or false)"
        ))),
    }
}

pub fn restart_policy(host: &HostConfig) -> Result<RestartPolicy> {
    use bollard_stubs::models::RestartPolicyNameEnum as N;
    let Some(p) = &host.restart_policy else {
        return Ok(RestartPolicy::No);
    };
    let retries = p.maximum_retry_count.unwrap_or(0);
    Ok(match p.name {
        None | Some(N::EMPTY) | Some(N::NO) => RestartPolicy::No,
        Some(N::ALWAYS) => RestartPolicy::Always,
        Some(N::UNLESS_STOPPED) => RestartPolicy::UnlessStopped,
        Some(N::ON_FAILURE) => {
            if retries < 0 {
                return Err(Error::invalid(
                    "invalid restart policy: maximum retry count cannot be negative",
                ));
            }
            RestartPolicy::OnFailure {
                max_retries: retries as u32,
            }
        }
    })
}

pub fn health_spec(h: &HealthConfig) -> Result<Option<HealthSpec>> {
    HealthSpec::from_docker(
        h.test.as_deref().unwrap_or_default(),
        h.interval.unwrap_or(0),
        h.timeout.unwrap_or(0),
        h.start_period.unwrap_or(0),
        h.start_interval.unwrap_or(0),
        h.retries.unwrap_or(0),
    )
    .map_err(Error::invalid)
}

/// `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map(|s| s as i32)
            .map_err(|_| Error::invalid(format!("Invalid signal: {s}")));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| Error::invalid(format!("Invalid signal: {s}")))
}

/// The container's hostname (asked for, the host's with host networking, else the short id),
/// and Docker's default environment: PATH, HOSTNAME, TERM with a TTY.
fn set_hostname_and_env(
    config: &mut bollard_stubs::models::ContainerConfig,
    host: &bollard_stubs::models::HostConfig,
    id: &str,
) -> String {
    let short = id.get(..12).unwrap_or(id).to_string();
    let hostname = match config.hostname.as_deref() {
        Some(h) if !h.is_empty() => h.to_string(),
        _ if host.network_mode.as_deref() == Some("host") => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().to_string())
            .unwrap_or(short),
        _ => short,
    };
    config.hostname = Some(hostname.clone());
    let env = config.env.get_or_insert_with(Vec::new);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.insert(1.min(env.len()), format!("HOSTNAME={hostname}"));
    }
    if config.tty.unwrap_or(false) && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    hostname
}

/// An image found locally but of another platform than the one asked for is refused with
/// dockerd's message (no second copy for another platform exists in wharf's store).
fn check_platform(wanted: &Platform, name: &str, image: &ImageConfig) -> Result<()> {
    let variant = image
        .extra
        .get("variant")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if wanted.matches(&image.os, &image.architecture, variant) {
        return Ok(());
    }
    let mut actual = format!("{}/{}", image.os, image.architecture);
    if !variant.is_empty() {
        actual = format!("{actual}/{variant}");
    }
    Err(Error::not_found(format!(
        "image with reference {name} was found but does not match the specified platform: wanted {wanted}, actual: {actual}"
    )))
}

impl Engine {
    #[tracing::instrument(target = "phase", level = "debug", name = "create", skip_all)]
    pub fn create_container(&self, req: CreateRequest) -> Result<(String, Vec<String>)> {
        let (mut config, mut host, networking) = split_body(req.body)?;
        let image_name = config.image.clone().unwrap_or_default();
        if image_name.is_empty() {
            return Err(Error::invalid(
                "config.Image is required: no image specified",
            ));
        }
        let image = self.images.resolve(&image_name).map_err(|e| match e {
            Error::NotFound(_) => Error::not_found(format!("No such image: {image_name}")),
            other => other,
        })?;
        let image_config = self.images.config(&image.id)?;
        if let Some(wanted) = &req.platform {
            check_platform(wanted, &image_name, &image_config)?;
        }
        merge_with_image(&mut config, &image_config.config);
        let mut command: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        command.extend(config.cmd.clone().unwrap_or_default());
        if command.is_empty() {
            return Err(Error::invalid("No command specified"));
        }
        validate_host_config(&host, &config)?;

        let name = self.container_name(req.name.as_deref())?;
        // Legacy links are the default bridge's; elsewhere dockerd keeps them as sent (the
        // docker CLI sends them with the endpoint's links too).
        let default_bridge = matches!(
            host.network_mode.as_deref(),
            None | Some("" | "bridge" | "default")
        );
        if let Some(links) = host.links.take().filter(|l| !l.is_empty()) {
            host.links = Some(if default_bridge {
                self.checked_links(&name, &links)?
            } else {
                links
            });
        }

        let id = random_id();
        let hostname = set_hostname_and_env(&mut config, &host, &id);

        let mut volume_paths: Vec<String> = config
            .volumes
            .iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        volume_paths.sort();
        let mut resolved = mounts::resolve(&host, &volume_paths)?;
        let (networks, port_mappings) = requested_networks(&host, networking.as_ref(), &config)?;
        let mut created_volumes = Vec::new();
        let result = (|| -> Result<()> {
            self.create_volumes(&mut resolved, &mut created_volumes)?;
            self.prepare_container_dir(&id, &hostname, &host)?;
            let rec = ContainerRecord {
                id: id.clone(),
                name: name.clone(),
                created: crate::engine::now_rfc3339(),
                image_id: image.id.clone(),
                path: command[0].clone(),
                args: command[1..].to_vec(),
                config: config.clone(),
                host_config: host.clone(),
                mounts: resolved.clone(),
                state: RunState::default(),
                has_been_started: false,
                networks: networks.clone(),
                endpoints: Vec::new(),
                port_mappings: port_mappings.clone(),
            };
            self.containers.insert(rec)
        })();
        if let Err(e) = result {
            let _ = crate::util::fsutil::remove_dir_all_quiet(&self.containers.dir(&id));
            for v in created_volumes {
                let _ = self.volumes.remove(&v, &[]);
            }
            return Err(e);
        }
        let mut attrs = HashMap::new();
        attrs.insert("name".to_string(), name);
        attrs.insert("image".to_string(), image_name);
        self.events
            .publish(EventMessageTypeEnum::CONTAINER, "create", &id, attrs);
        Ok((id, Vec::new()))
    }

    /// The requested name (valid, free) or a fresh random one.
    fn container_name(&self, requested: Option<&str>) -> Result<String> {
        let name = match requested.map(|n| n.trim_start_matches('/')) {
            Some(n) if !n.is_empty() => {
                if !valid_name(n) {
                    return Err(Error::invalid(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                n.to_string()
            }
            _ => loop {
                let n = random_name();
                if self.containers.name_taken(&n).is_none() {
                    break n;
                }
            },
        };
        if let Some(other) = self.containers.name_taken(&name) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        Ok(name)
    }

    /// The volumes of the container's mounts: created when missing (anonymous ones get a
    /// name); those created here are listed in `created` for an undo.
    fn create_volumes(
        &self,
        resolved: &mut [mounts::ResolvedMount],
        created: &mut Vec<String>,
    ) -> Result<()> {
        for m in resolved.iter_mut().filter(|m| m.kind == MountKind::Volume) {
            let existed = !m.source.is_empty() && self.volumes.get(&m.source).is_ok();
            let labels = HashMap::new();
            let rec = self.volumes.create(
                (!m.source.is_empty()).then_some(m.source.as_str()),
                None,
                labels,
                HashMap::new(),
            )?;
            if !existed {
                created.push(rec.name.clone());
            }
            m.source = rec.name;
        }
        Ok(())
    }

    /// The container's directory: overlay upper/work dirs, the init layer with mount points,
    /// and the generated /etc/hosts, /etc/hostname and /etc/resolv.conf.
    fn prepare_container_dir(&self, id: &str, hostname: &str, host: &HostConfig) -> Result<()> {
        let dir = self.containers.dir(id);
        for sub in [
            "upper",
            "work",
            "init/etc",
            "init/dev",
            "init/proc",
            "init/sys",
        ] {
            std::fs::create_dir_all(dir.join(sub))
                .ctx(|| format!("creating {}", dir.join(sub).display()))?;
        }
        for f in [
            "init/etc/hosts",
            "init/etc/hostname",
            "init/etc/resolv.conf",
        ] {
            std::fs::write(dir.join(f), b"")
                .ctx(|| format!("creating {}", dir.join(f).display()))?;
        }
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        for h in host.extra_hosts.iter().flatten() {
            let (name, ip) = h
                .split_once(':')
                .or_else(|| h.split_once('='))
                .ok_or_else(|| {
                    Error::invalid(format!("invalid extra host {h:?}: expected NAME:IP"))
                })?;
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        std::fs::write(dir.join("hosts"), hosts).ctx(|| "writing hosts".into())?;
        std::fs::write(dir.join("hostname"), format!("{hostname}\n"))
            .ctx(|| "writing hostname".into())?;
        std::fs::write(dir.join("resolv.conf"), resolv_conf(host))
            .ctx(|| "writing resolv.conf".into())?;
        Ok(())
    }
}

/// The networks and published ports a create request asks for.
#[allow(clippy::type_complexity)]
fn requested_networks(
    host: &HostConfig,
    networking: Option<&bollard_stubs::models::NetworkingConfig>,
    config: &ContainerConfig,
) -> Result<(
    std::collections::BTreeMap<String, EndpointRequest>,
    Vec<crate::net::PortMapping>,
)> {
    let mut networks = std::collections::BTreeMap::new();
    let mode = NetworkMode::parse(host.network_mode.as_deref());
    let exposed: Vec<String> = config
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    if mode != NetworkMode::Networks {
        if host.port_bindings.as_ref().is_some_and(|p| {
            p.values()
                .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
        }) {
            return Err(Error::invalid(format!(
                "conflicting options: port publishing and the container type network mode ({})",
                host.network_mode.clone().unwrap_or_default()
            )));
        }
        return Ok((networks, Vec::new()));
    }
    let primary = NetworkMode::primary(host.network_mode.as_deref());
    let endpoint = EndpointRequest::from_settings;
    let configs = networking
        .and_then(|n| n.endpoints_config.clone())
        .unwrap_or_default();
    let mut primary_req = match configs.get(&primary) {
        Some(s) => endpoint(s)?,
        None => EndpointRequest::default(),
    };
    // API < 1.44 sends the address in the container's config: it is the primary network's.
    #[allow(deprecated)]
    if let Some(m) = config.mac_address.as_deref().filter(|m| !m.is_empty()) {
        if primary_req.mac.is_none() {
            primary_req.mac = Some(crate::docker::mac::parse_mac(m).map_err(Error::invalid)?);
        }
    }
    if primary == crate::net::DEFAULT_NETWORK
        && (!primary_req.aliases.is_empty() || primary_req.ip.is_some())
    {
        return Err(Error::invalid(
            "network-scoped aliases and user-specified IP addresses are only supported for user-defined networks",
        ));
    }
    networks.insert(primary.clone(), primary_req);
    for (name, s) in &configs {
        if *name != primary && !(primary == crate::net::DEFAULT_NETWORK && name == "default") {
            networks.insert(name.clone(), endpoint(s)?);
        }
    }
    let ports = crate::engine::network::port_mappings(
        host.port_bindings.as_ref(),
        &exposed,
        host.publish_all_ports.unwrap_or(false),
    )?;
    Ok((networks, ports))
}

/// The host's resolv.conf without loopback resolvers (unreachable from a container), with
/// `--dns`, `--dns-search` and `--dns-option` applied.
fn resolv_conf(host: &HostConfig) -> String {
    let host_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let custom_dns = host.dns.as_ref().is_some_and(|d| !d.is_empty());
    let custom_search = host.dns_search.as_ref().is_some_and(|d| !d.is_empty());
    for line in host_conf.lines() {
        let l = line.trim();
        if l.starts_with("nameserver") {
            let ip = l.split_whitespace().nth(1).unwrap_or_default();
            if custom_dns || ip.starts_with("127.") || ip == "::1" {
                continue;
            }
        }
        if (l.starts_with("search") || l.starts_with("domain")) && custom_search {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    for d in host.dns.iter().flatten() {
        out.push_str(&format!("nameserver {d}\n"));
    }
    if custom_search {
        out.push_str(&format!(
            "search {}\n",
            host.dns_search.clone().unwrap_or_default().join(" ")
        ));
    }
    if let Some(opts) = host.dns_options.as_ref().filter(|o| !o.is_empty()) {
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    out
}

/// Mount points a container has, for the record and `inspect`.
pub fn mount_sources(
    engine: &Engine,
    mounts: &[ResolvedMount],
) -> Vec<(ResolvedMount, std::path::PathBuf)> {
    mounts
        .iter()
        .map(|m| {
            let path = match m.kind {
                MountKind::Bind => std::path::PathBuf::from(&m.source),
                MountKind::Volume => engine
                    .volumes
                    .get(&m.source)
                    .map(|v| {
                        let root = engine.volumes.host_path(&v);
                        match &m.subpath {
                            Some(sub) => root.join(sub),
                            None => root,
                        }
                    })
                    .unwrap_or_default(),
                MountKind::Tmpfs => std::path::PathBuf::new(),
            };
            (m.clone(), path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoint_and_cmd_follow_docker() {
        let image = RunConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            env: Some(vec!["A=1".into(), "B=2".into()]),
            ..Default::default()
        };
        let mut c = ContainerConfig::default();
        merge_with_image(&mut c, &image);
        assert_eq!(c.entrypoint.unwrap(), vec!["/entry"]);
        assert_eq!(c.cmd.unwrap(), vec!["default"]);

        let mut c = ContainerConfig {
            cmd: Some(vec!["x".into()]),
            env: Some(vec!["B=3".into()]),
            ..Default::default()
        };
        merge_with_image(&mut c, &image);
        assert_eq!(c.entrypoint.unwrap(), vec!["/entry"]);
        assert_eq!(c.cmd.unwrap(), vec!["x"]);
        assert_eq!(c.env.unwrap(), vec!["A=1", "B=3"]);

        // A new entrypoint drops the image's cmd.
        let mut c = ContainerConfig {
            entrypoint: Some(vec!["/other".into()]),
            ..Default::default()
        };
        merge_with_image(&mut c, &image);
        assert_eq!(c.entrypoint.unwrap(), vec!["/other"]);
        assert!(c.cmd.is_none());

        // An empty entrypoint clears the image's one and keeps its cmd.
        let mut c = ContainerConfig {
            entrypoint: Some(vec!["".into()]),
            ..Default::default()
        };
        merge_with_image(&mut c, &image);
        assert!(c.entrypoint.unwrap().is_empty());
        assert_eq!(c.cmd.unwrap(), vec!["default"]);
    }

    #[test]
    fn signals_parse() {
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("2").unwrap(), 2);
        assert!(parse_signal("SIGNOPE").is_err());
    }
}
