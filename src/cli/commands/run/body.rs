//! `run`'s flags → the create body, through the same sections as compose's service builder
//! (`docker::create`). Flags are parsed in the order the docker CLI reports their errors.

use std::collections::HashMap;

use crate::api::models::ContainerCreateBody;
use crate::cli::args::RunArgs;
use crate::cli::CliResult;
use crate::docker::create::{
    endpoint, parse_ulimit, tmpfs_map, Dns, Health, Networking, Ports, Process, Resources,
    Security, Stdio, Storage,
};

use super::flags::{
    bad_flag, bytes, cpus_flag, duration, env_entry, expose_ports, parse_mount, read_env_file,
    restart_flag, sysctl_flag,
};

pub fn build_body(a: &RunArgs) -> CliResult<ContainerCreateBody> {
    let mut body = ContainerCreateBody::default();
    process(a)?.apply(&mut body);
    let restart = restart_flag(&a.restart)?;
    let memory = bytes("-m, --memory", &a.memory)?;
    let nano_cpus = a.cpus.as_deref().map(cpus_flag).transpose()?;
    if let Some(m) = &a.mac_address {
        crate::docker::mac::parse_mac(m).map_err(|why| bad_flag("--mac-address", m, why))?;
    }
    body.healthcheck = health(a)?;
    let ulimits = a
        .ulimit
        .iter()
        .map(|u| parse_ulimit(u).map_err(|why| bad_flag("--ulimit", u, why)))
        .collect::<CliResult<Vec<_>>>()?;
    Storage {
        binds: a.volume.clone(),
        mounts: a
            .mount
            .iter()
            .map(|m| parse_mount(m))
            .collect::<CliResult<Vec<_>>>()?,
        tmpfs: tmpfs_map(&a.tmpfs),
    }
    .apply(&mut body);
    ports(a)?.apply(&mut body);
    Resources {
        memory,
        memory_reservation: None,
        nano_cpus,
        pids_limit: a.pids_limit,
        shm_size: bytes("--shm-size", &a.shm_size)?,
        ulimits,
    }
    .apply(&mut body);
    security(a)?.apply(&mut body);
    Dns {
        servers: a.dns.clone(),
        search: a.dns_search.clone(),
        options: a.dns_option.clone(),
        extra_hosts: a.add_host.clone(),
    }
    .apply(&mut body);
    networking(a).apply(&mut body);
    let host = body.host_config.get_or_insert_with(Default::default);
    if legacy_links(a) && !a.link.is_empty() {
        host.links = Some(a.link.clone());
    }
    host.auto_remove = Some(a.rm);
    host.restart_policy = Some(restart);
    Ok(body)
}

/// `--link` on the default bridge is a legacy link (host entries and variables); elsewhere it
/// is an endpoint's.
fn legacy_links(a: &RunArgs) -> bool {
    matches!(a.network.as_deref(), None | Some("bridge" | "default"))
}

/// The command, environment (env files first, then `-e`), identity and stdio.
fn process(a: &RunArgs) -> CliResult<Process> {
    let mut env: Vec<String> = Vec::new();
    for f in &a.env_file {
        env.extend(read_env_file(f)?);
    }
    env.extend(a.env.iter().filter_map(|e| env_entry(e)));
    let labels: HashMap<String, String> = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    Ok(Process {
        image: a.image.clone(),
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        // `--entrypoint ""` clears the image's entrypoint
        entrypoint: a.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        }),
        env,
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        domainname: a.domainname.clone(),
        labels,
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        stdio: Stdio {
            tty: a.tty,
            open_stdin: a.interactive,
            attach: !a.detach,
        },
    })
}

/// `--no-healthcheck`, or a check when any `--health-*` flag is given.
fn health(a: &RunArgs) -> CliResult<Option<crate::api::models::HealthConfig>> {
    if a.no_healthcheck {
        return Ok(Some(
            Health {
                disable: true,
                ..Default::default()
            }
            .config(),
        ));
    }
    let any = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some()
        || a.health_start_interval.is_some();
    if !any {
        return Ok(None);
    }
    let test = match &a.health_cmd {
        Some(c) => vec!["CMD-SHELL".to_string(), c.clone()],
        None => Vec::new(),
    };
    Ok(Some(
        Health {
            disable: false,
            test,
            interval: duration("--health-interval", &a.health_interval)?,
            timeout: duration("--health-timeout", &a.health_timeout)?,
            retries: a.health_retries,
            start_period: duration("--health-start-period", &a.health_start_period)?,
            start_interval: duration("--health-start-interval", &a.health_start_interval)?,
        }
        .config(),
    ))
}

/// `-p` specs (Docker's one port grammar) and `--expose` ports (`/tcp` unless given).
fn ports(a: &RunArgs) -> CliResult<Ports> {
    let mut out = Ports::default();
    for p in &a.publish {
        out.publish_spec(p)
            .map_err(|e| bad_flag("-p, --publish", p, e.reason))?;
    }
    for e in &a.expose {
        for key in expose_ports(e)? {
            out.expose(key);
        }
    }
    Ok(out)
}

/// `run` sends its boolean flags even when they are off.
fn security(a: &RunArgs) -> CliResult<Security> {
    Ok(Security {
        privileged: Some(a.privileged),
        readonly_rootfs: Some(a.read_only),
        init: a.init.then_some(true),
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        security_opt: a.security_opt.clone(),
        group_add: a.group_add.clone(),
        sysctls: a
            .sysctl
            .iter()
            .map(|s| sysctl_flag(s))
            .collect::<CliResult<_>>()?,
    })
}

/// `--network` (bridge by default), with `--network-alias`, `--ip`, `--ip6` and, on a
/// user-defined network, `--link` (a name only this container resolves) on that network, as the
/// docker CLI sends them.
fn networking(a: &RunArgs) -> Networking {
    let network = a.network.clone().unwrap_or_else(|| "bridge".into());
    let links = if legacy_links(a) {
        Vec::new()
    } else {
        a.link.clone()
    };
    let mut endpoints = HashMap::new();
    if !a.network_alias.is_empty()
        || a.ip.is_some()
        || a.ip6.is_some()
        || a.mac_address.is_some()
        || !links.is_empty()
    {
        let ips = (a.ip.clone(), a.ip6.clone());
        let mut e = endpoint(a.network_alias.clone(), links, ips, None);
        e.mac_address = a.mac_address.clone();
        endpoints.insert(network.clone(), e);
    }
    Networking {
        mode: Some(network),
        publish_all: Some(a.publish_all),
        endpoints,
    }
}
