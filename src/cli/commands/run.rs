//! `run` and `create`: flags → the Engine API create body; then attach, start and wait like
//! the docker CLI (wait is registered before start so a fast exit is never missed).

use std::collections::HashMap;

use crate::api::client::{decode, with_query, Client};
use crate::api::models::{
    ContainerCreateBody, ContainerWaitResponse, HealthConfig, HostConfig, Mount, MountTmpfsOptions,
    MountTypeEnum, PortBinding, ResourcesUlimits, RestartPolicy as ApiRestart,
    RestartPolicyNameEnum,
};
use crate::cli::args::RunArgs;
use crate::cli::{attach, CliResult, Exit};
use crate::engine::supervisor::RestartPolicy;
use crate::util::bytesize::parse_bytes;
use crate::util::duration::parse_duration;

fn bad_flag(flag: &str, value: &str, why: impl std::fmt::Display) -> Exit {
    Exit::msg(125, format!("wharf: invalid argument \"{value}\" for \"{flag}\" flag: {why}\nSee 'wharf run --help'."))
}

/// `--restart no|always|unless-stopped|on-failure[:N]` as the API's policy.
pub(crate) fn restart_flag(s: &str) -> CliResult<ApiRestart> {
    let policy = RestartPolicy::parse(s)
        .map_err(|e| Exit::msg(125, format!("wharf: {e}\nSee 'wharf run --help'.")))?;
    Ok(ApiRestart {
        name: Some(match policy {
            RestartPolicy::No => RestartPolicyNameEnum::NO,
            RestartPolicy::Always => RestartPolicyNameEnum::ALWAYS,
            RestartPolicy::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
            RestartPolicy::OnFailure { .. } => RestartPolicyNameEnum::ON_FAILURE,
        }),
        maximum_retry_count: Some(policy.max_retries() as i64),
    })
}

/// `--cpus 1.5` as nano CPUs.
pub(crate) fn cpus_flag(c: &str) -> CliResult<i64> {
    let v: f64 = c
        .parse()
        .map_err(|_| bad_flag("--cpus", c, "invalid number"))?;
    if v <= 0.0 {
        return Err(bad_flag("--cpus", c, "must be positive"));
    }
    Ok((v * 1e9) as i64)
}

fn duration_ns(flag: &str, v: &Option<String>) -> CliResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => parse_duration(s)
            .map(|d| Some(d.as_nanos() as i64))
            .map_err(|e| bad_flag(flag, s, e)),
    }
}

/// `KEY=VALUE` lines of an env file (comments and blanks skipped; `KEY` alone takes our value).
fn read_env_file(path: &std::path::Path) -> CliResult<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Exit::msg(125, format!("wharf: open {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

fn parse_mount(spec: &str) -> CliResult<Mount> {
    let mut m = Mount {
        typ: Some(MountTypeEnum::VOLUME),
        ..Default::default()
    };
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "type" => {
                m.typ = Some(match v {
                    "bind" => MountTypeEnum::BIND,
                    "volume" => MountTypeEnum::VOLUME,
                    "tmpfs" => MountTypeEnum::TMPFS,
                    other => {
                        return Err(bad_flag(
                            "--mount",
                            spec,
                            format!("unknown mount type {other:?}"),
                        ))
                    }
                })
            }
            "source" | "src" => m.source = Some(v.to_string()),
            "target" | "destination" | "dst" => m.target = Some(v.to_string()),
            "readonly" | "ro" => m.read_only = Some(v.is_empty() || v == "true" || v == "1"),
            "tmpfs-size" => {
                let size = parse_bytes(v).map_err(|e| bad_flag("--mount", spec, e))?;
                m.tmpfs_options
                    .get_or_insert_with(MountTmpfsOptions::default)
                    .size_bytes = Some(size);
            }
            "tmpfs-mode" => {
                let mode = i64::from_str_radix(v, 8).map_err(|e| bad_flag("--mount", spec, e))?;
                m.tmpfs_options
                    .get_or_insert_with(MountTmpfsOptions::default)
                    .mode = Some(mode);
            }
            "volume-nocopy" => {
                m.volume_options
                    .get_or_insert_with(Default::default)
                    .no_copy = Some(v.is_empty() || v == "true")
            }
            "bind-propagation" | "consistency" => {}
            other => {
                return Err(bad_flag(
                    "--mount",
                    spec,
                    format!("unexpected key '{other}' in '{part}'"),
                ))
            }
        }
    }
    if m.target.is_none() {
        return Err(bad_flag("--mount", spec, "target is required"));
    }
    Ok(m)
}

/// `-p [ip:]host:container[/proto]` (ranges too) into Docker's `PortBindings`.
fn parse_publish(
    spec: &str,
    bindings: &mut HashMap<String, Option<Vec<PortBinding>>>,
) -> CliResult<Vec<String>> {
    crate::docker::port::add_bindings(spec, bindings)
        .map_err(|e| bad_flag("-p, --publish", spec, e.reason))
}

pub fn build_body(a: &RunArgs) -> CliResult<ContainerCreateBody> {
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
    let restart = restart_flag(&a.restart)?;
    let memory = match &a.memory {
        Some(m) => Some(parse_bytes(m).map_err(|e| bad_flag("-m, --memory", m, e))?),
        None => None,
    };
    let nano_cpus = a.cpus.as_deref().map(cpus_flag).transpose()?;
    let healthcheck = if a.no_healthcheck {
        Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        })
    } else if a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some()
        || a.health_start_interval.is_some()
    {
        Some(HealthConfig {
            test: a
                .health_cmd
                .as_ref()
                .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
            interval: duration_ns("--health-interval", &a.health_interval)?,
            timeout: duration_ns("--health-timeout", &a.health_timeout)?,
            retries: a.health_retries,
            start_period: duration_ns("--health-start-period", &a.health_start_period)?,
            start_interval: duration_ns("--health-start-interval", &a.health_start_interval)?,
        })
    } else {
        None
    };
    let mut ulimits = Vec::new();
    for u in &a.ulimit {
        let (name, vals) = u
            .split_once('=')
            .ok_or_else(|| bad_flag("--ulimit", u, "expected name=soft[:hard]"))?;
        let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
        let soft: i64 = soft
            .parse()
            .map_err(|_| bad_flag("--ulimit", u, "invalid soft limit"))?;
        let hard: i64 = hard
            .parse()
            .map_err(|_| bad_flag("--ulimit", u, "invalid hard limit"))?;
        ulimits.push(ResourcesUlimits {
            name: Some(name.to_string()),
            soft: Some(soft),
            hard: Some(hard),
        });
    }
    let mounts = a
        .mount
        .iter()
        .map(|m| parse_mount(m))
        .collect::<CliResult<Vec<_>>>()?;
    let tmpfs: HashMap<String, String> = a
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let mut bindings = HashMap::new();
    let mut exposed: HashMap<String, HashMap<(), ()>> = HashMap::new();
    for p in &a.publish {
        for key in parse_publish(p, &mut bindings)? {
            exposed.insert(key, HashMap::new());
        }
    }
    for e in &a.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, HashMap::new());
    }
    let shm_size = match &a.shm_size {
        Some(s) => Some(parse_bytes(s).map_err(|e| bad_flag("--shm-size", s, e))?),
        None => None,
    };
    let sysctls: HashMap<String, String> = a
        .sysctl
        .iter()
        .filter_map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let attach = !a.detach;
    let network = a.network.clone().unwrap_or_else(|| "bridge".into());
    let host = HostConfig {
        binds: (!a.volume.is_empty()).then(|| a.volume.clone()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        auto_remove: Some(a.rm),
        restart_policy: Some(restart),
        memory,
        nano_cpus,
        pids_limit: a.pids_limit,
        ulimits: (!ulimits.is_empty()).then_some(ulimits),
        cap_add: (!a.cap_add.is_empty()).then(|| a.cap_add.clone()),
        cap_drop: (!a.cap_drop.is_empty()).then(|| a.cap_drop.clone()),
        privileged: Some(a.privileged),
        readonly_rootfs: Some(a.read_only),
        init: a.init.then_some(true),
        network_mode: Some(network.clone()),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        publish_all_ports: Some(a.publish_all),
        dns: (!a.dns.is_empty()).then(|| a.dns.clone()),
        dns_search: (!a.dns_search.is_empty()).then(|| a.dns_search.clone()),
        dns_options: (!a.dns_option.is_empty()).then(|| a.dns_option.clone()),
        extra_hosts: (!a.add_host.is_empty()).then(|| a.add_host.clone()),
        security_opt: (!a.security_opt.is_empty()).then(|| a.security_opt.clone()),
        group_add: (!a.group_add.is_empty()).then(|| a.group_add.clone()),
        shm_size,
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        ..Default::default()
    };
    let networking_config = if !a.network_alias.is_empty() || a.ip.is_some() {
        let settings = crate::api::models::EndpointSettings {
            aliases: (!a.network_alias.is_empty()).then(|| a.network_alias.clone()),
            ipam_config: a
                .ip
                .as_ref()
                .map(|ip| crate::api::models::EndpointIpamConfig {
                    ipv4_address: Some(ip.clone()),
                    ..Default::default()
                }),
            ..Default::default()
        };
        Some(crate::api::models::NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network.clone(), settings)])),
        })
    } else {
        None
    };
    Ok(ContainerCreateBody {
        networking_config,
        hostname: a.hostname.clone(),
        domainname: a.domainname.clone(),
        user: a.user.clone(),
        attach_stdin: Some(a.interactive && attach),
        attach_stdout: Some(attach),
        attach_stderr: Some(attach),
        tty: Some(a.tty),
        open_stdin: Some(a.interactive),
        stdin_once: Some(a.interactive && attach),
        env: Some(env),
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        healthcheck,
        image: Some(a.image.clone()),
        working_dir: a.workdir.clone(),
        entrypoint: a.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        }),
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(host),
        ..Default::default()
    })
}

/// The exit code the docker CLI uses when a container's command cannot start.
pub fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied")
        || message.contains("is a directory")
        || message.contains("exec format error")
    {
        126
    } else {
        125
    }
}

pub async fn run(client: &Client, a: RunArgs, create_only: bool) -> CliResult {
    let body = build_body(&a)?;
    let created = client
        .create_container(a.name.as_deref(), &body)
        .await
        .map_err(|e| {
            let prefix = if e.is_not_found() {
                format!("Unable to find image '{}' locally\n", a.image)
            } else {
                String::new()
            };
            Exit::msg(
                125,
                format!("{prefix}wharf: Error response from daemon: {e}"),
            )
        })?;
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    let id = created.id;
    if create_only {
        println!("{id}");
        return Ok(());
    }
    if a.detach {
        client.start_container(&id).await.map_err(|e| {
            Exit::msg(
                start_failure_code(&e.to_string()),
                format!("wharf: Error response from daemon: {e}"),
            )
        })?;
        println!("{id}");
        return Ok(());
    }
    let condition = if a.rm { "removed" } else { "next-exit" };
    let (conn, wait) = client
        .attach_and_wait(&id, a.interactive, condition)
        .await?;
    if let Err(e) = client.start_container(&id).await {
        return Err(Exit::msg(
            start_failure_code(&e.to_string()),
            format!("wharf: Error response from daemon: {e}"),
        ));
    }
    if a.tty {
        if let Some((h, w)) = attach::terminal_size() {
            let _ = client
                .post(&with_query(
                    &format!("/containers/{id}/resize"),
                    &[("h", h.to_string()), ("w", w.to_string())],
                ))
                .await;
        }
    }
    attach::pump(conn, a.tty, a.interactive).await?;
    let status: ContainerWaitResponse = decode(wait).await?;
    if let Some(msg) = status
        .error
        .and_then(|e| e.message)
        .filter(|m| !m.is_empty())
    {
        if status.status_code < 0 {
            return Err(Exit::msg(125, format!("wharf: {msg}")));
        }
    }
    if status.status_code != 0 {
        return Err(Exit::code(status.status_code as i32));
    }
    Ok(())
}
