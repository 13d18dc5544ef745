//! One compose service as a Swarm ServiceSpec: the container spec (image, command,
//! environment, mounts, secrets, configs, healthcheck, identity), the task's resources,
//! restart policy, placement and networks, the service's mode, update and rollback configs
//! and endpoint (ports). What docker stack deploy does with each key, wharf does; the keys a
//! swarm has no place for are reported.

use std::collections::HashMap;
use std::str::FromStr;

use super::objects::{network_name, object_name, DEFAULT_NETWORK};
use super::{Namespace, LABEL_IMAGE};
use crate::api::models::{
    EndpointPortConfig, EndpointSpec, HealthConfig, Limit, Mount, MountBindOptions,
    MountTmpfsOptions, MountVolumeOptions, MountVolumeOptionsDriverConfig, NetworkAttachmentConfig,
    ResourceObject, ResourcesUlimits, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig, ServiceSpecUpdateConfig, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecDnsConfig,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecPrivileges,
    TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy,
};
use crate::compose::convert::{ConvertError, Report};
use crate::compose::model::{
    DeployMode, Duration, Healthcheck, Mount as ComposeMount, MountType, Project, RestartPolicy,
    Service, ServiceFileRef, UpdateConfig,
};

/// Keys a swarm service has no place for, and why (each reported once, where it was written).
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "build",
        "a swarm runs images from a registry: `stack deploy --build` builds and pushes it first",
    ),
    (
        "container_name",
        "a swarm names a service's containers itself",
    ),
    (
        "depends_on",
        "a swarm starts services in no order: make each one wait for what it needs",
    ),
    (
        "links",
        "services reach each other by name on their networks",
    ),
    (
        "external_links",
        "services reach each other by name on their networks",
    ),
    (
        "network_mode",
        "a swarm service joins networks: use `networks:`",
    ),
    ("privileged", "swarm services cannot be privileged"),
    ("devices", "swarm services cannot map devices"),
    ("cgroup_parent", "not supported by swarm services"),
    ("domainname", "not supported by swarm services"),
    ("ipc", "not supported by swarm services"),
    ("pid", "not supported by swarm services"),
    ("mac_address", "not supported by swarm services"),
    ("security_opt", "not supported by swarm services"),
    (
        "shm_size",
        "not supported by swarm services: mount a tmpfs at /dev/shm",
    ),
    ("userns_mode", "not supported by swarm services"),
    (
        "volumes_from",
        "not supported by swarm services: share a named volume",
    ),
    ("mem_limit", "use deploy.resources.limits.memory"),
    ("cpus", "use deploy.resources.limits.cpus"),
    ("pids_limit", "use deploy.resources.limits.pids"),
    (
        "expose",
        "every port of a task is reachable on its networks",
    ),
    (
        "platform",
        "a swarm places tasks on nodes whose platform the image has",
    ),
    (
        "pull_policy",
        "every node pulls the image the service is pinned to",
    ),
    ("post_start", "a swarm has no lifecycle hooks"),
    ("pre_stop", "a swarm has no lifecycle hooks"),
    (
        "develop",
        "watch is for a local engine (`wharf compose watch`)",
    ),
];

/// The ServiceSpec of compose service `name`.
pub(super) fn service_spec(
    project: &Project,
    ns: &Namespace,
    name: &str,
    svc: &Service,
    report: &mut Report<'_>,
) -> Result<ServiceSpec, ConvertError> {
    let key = format!("services.{name}");
    unsupported(&key, svc, report);
    let Some(image) = svc.image.clone() else {
        return Err(invalid(
            report,
            &key,
            "image",
            "a swarm service needs an image: name the one `build:` makes with `image:`".into(),
        ));
    };
    let deploy = svc.deploy.clone().unwrap_or_default();
    let placement = deploy.placement.clone().unwrap_or_default();
    let container = TaskSpecContainerSpec {
        image: Some(image.clone()),
        labels: Some(ns.labels(&svc.labels)),
        command: svc.entrypoint.clone(),
        args: svc.command.clone(),
        hostname: svc.hostname.clone(),
        env: Some(environment(svc)),
        dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        privileges: Some(TaskSpecContainerSpecPrivileges::default()),
        tty: Some(svc.tty),
        open_stdin: Some(svc.stdin_open),
        read_only: Some(svc.read_only),
        mounts: Some(mounts(project, ns, &key, svc, report)),
        stop_signal: svc.stop_signal.clone(),
        stop_grace_period: svc.stop_grace_period.map(nanos),
        health_check: svc.healthcheck.as_ref().and_then(healthcheck),
        hosts: Some(hosts(svc)),
        dns_config: Some(TaskSpecContainerSpecDnsConfig {
            nameservers: non_empty(&svc.dns),
            search: non_empty(&svc.dns_search),
            options: non_empty(&svc.dns_opt),
        }),
        secrets: Some(secrets(project, ns, &svc.secrets)),
        configs: Some(configs(project, ns, &svc.configs)),
        init: svc.init,
        sysctls: (!svc.sysctls.is_empty()).then(|| svc.sysctls.clone().into_iter().collect()),
        capability_add: non_empty(&svc.cap_add),
        capability_drop: non_empty(&svc.cap_drop),
        ulimits: Some(
            svc.ulimits
                .iter()
                .map(|(n, u)| ResourcesUlimits {
                    name: Some(n.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect(),
        ),
        ..Default::default()
    };
    let task = TaskSpec {
        container_spec: Some(container),
        resources: Some(resources(svc)),
        restart_policy: restart_policy(svc),
        placement: Some(TaskSpecPlacement {
            constraints: non_empty(&placement.constraints),
            preferences: (!placement.preferences.is_empty()).then(|| {
                placement
                    .preferences
                    .iter()
                    .map(|p| TaskSpecPlacementPreferences {
                        spread: Some(TaskSpecPlacementSpread {
                            spread_descriptor: Some(p.spread.clone()),
                        }),
                    })
                    .collect()
            }),
            max_replicas: placement.max_replicas_per_node.map(|n| n as i64),
            platforms: None,
        }),
        networks: Some(networks(project, ns, name, svc)),
        log_driver: svc.logging.as_ref().map(|l| TaskSpecLogDriver {
            name: l.driver.clone(),
            options: (!l.options.is_empty()).then(|| l.options.clone().into_iter().collect()),
        }),
        ..Default::default()
    };
    let replicas = deploy.replicas.or(svc.scale).map(i64::from);
    let mode = match deploy.mode.unwrap_or_default() {
        DeployMode::Replicated => ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas }),
            ..Default::default()
        },
        DeployMode::ReplicatedJob => ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: replicas,
                total_completions: replicas,
            }),
            ..Default::default()
        },
        mode @ (DeployMode::Global | DeployMode::GlobalJob) => {
            if replicas.is_some() {
                return Err(invalid(
                    report,
                    &key,
                    "deploy",
                    "replicas can only be used with replicated or replicated-job mode".into(),
                ));
            }
            if mode == DeployMode::Global {
                ServiceSpecMode {
                    global: Some(HashMap::new()),
                    ..Default::default()
                }
            } else {
                ServiceSpecMode {
                    global_job: Some(HashMap::new()),
                    ..Default::default()
                }
            }
        }
    };
    let rollback_config = match &deploy.rollback_config {
        Some(u) => Some(rollback_config(u).map_err(|m| invalid(report, &key, "deploy", m))?),
        None => None,
    };
    let mut labels = ns.labels(&deploy.labels);
    labels.insert(LABEL_IMAGE.into(), image);
    Ok(ServiceSpec {
        name: Some(ns.scope(name)),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(mode),
        update_config: deploy.update_config.as_ref().map(update_config),
        rollback_config,
        endpoint_spec: Some(endpoint(&key, svc, report)?),
        networks: None,
    })
}

fn invalid(report: &Report<'_>, key: &str, field: &str, message: String) -> ConvertError {
    let key = format!("{key}.{field}");
    ConvertError::Invalid {
        at: report.location(&key),
        key,
        message,
    }
}

fn unsupported(key: &str, svc: &Service, report: &mut Report<'_>) {
    let set = |k: &str| -> bool {
        match k {
            "build" => svc.build.is_some(),
            "container_name" => svc.container_name.is_some(),
            "depends_on" => !svc.depends_on.is_empty(),
            "links" => !svc.links.is_empty(),
            "network_mode" => svc.network_mode.is_some(),
            "privileged" => svc.privileged,
            "domainname" => svc.domainname.is_some(),
            "security_opt" => !svc.security_opt.is_empty(),
            "shm_size" => svc.shm_size.is_some(),
            "volumes_from" => !svc.volumes_from.is_empty(),
            "mem_limit" => svc.mem_limit.is_some(),
            "cpus" => svc.cpus.is_some(),
            "pids_limit" => svc.pids_limit.is_some(),
            "expose" => !svc.expose.is_empty(),
            "platform" => svc.platform.is_some(),
            "pull_policy" => svc.pull_policy.is_some(),
            "post_start" => !svc.post_start.is_empty(),
            "pre_stop" => !svc.pre_stop.is_empty(),
            "develop" => svc.develop.is_some(),
            // keys the model keeps among the extensions, or not at all
            other => svc.extensions.contains_key(other),
        }
    };
    for (k, why) in UNSUPPORTED {
        if set(k) {
            report.drop_key(format!("{key}.{k}"), *why);
        }
    }
    for (net, attach) in &svc.networks {
        let Some(a) = attach else { continue };
        if a.ipv4_address.is_some() || a.ipv6_address.is_some() {
            report.drop_key(
                format!("{key}.networks"),
                format!("a swarm assigns the addresses of tasks on {net}: ipv4_address and ipv6_address are ignored"),
            );
        }
    }
}

/// `K=V` sorted, a variable declared without a value as `K` (the task inherits nothing).
fn environment(svc: &Service) -> Vec<String> {
    let mut env: Vec<String> = svc
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    env.sort();
    env
}

/// `extra_hosts` in swarm's notation, `ADDRESS HOST`.
fn hosts(svc: &Service) -> Vec<String> {
    svc.extra_hosts
        .iter()
        .flat_map(|(host, addrs)| addrs.iter().map(move |a| format!("{a} {host}")))
        .collect()
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn nanos(d: Duration) -> i64 {
    d.0.as_nanos() as i64
}

fn healthcheck(h: &Healthcheck) -> Option<HealthConfig> {
    if h.disable {
        return Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    }
    Some(HealthConfig {
        test: non_empty(&h.test),
        interval: h.interval.map(nanos),
        timeout: h.timeout.map(nanos),
        retries: h.retries.map(|r| r as i64),
        start_period: h.start_period.map(nanos),
        start_interval: h.start_interval.map(nanos),
    })
}

/// A wire enum from the compose model's value of the same spelling.
fn wire<T: FromStr>(v: impl serde::Serialize) -> Option<T> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
}

/// `deploy.restart_policy`, else the legacy `restart:` (`always`, `unless-stopped` → any).
fn restart_policy(svc: &Service) -> Option<TaskSpecRestartPolicy> {
    if let Some(p) = svc.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        return Some(TaskSpecRestartPolicy {
            condition: p.condition.and_then(wire),
            delay: p.delay.map(nanos),
            max_attempts: p.max_attempts.map(|n| n as i64),
            window: p.window.map(nanos),
        });
    }
    let (condition, max) = match svc.restart? {
        RestartPolicy::No => return None,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => ("any", None),
        RestartPolicy::OnFailure(n) => ("on-failure", n.filter(|n| *n > 0)),
    };
    Some(TaskSpecRestartPolicy {
        condition: condition.parse().ok(),
        max_attempts: max.map(i64::from),
        ..Default::default()
    })
}

fn resources(svc: &Service) -> TaskSpecResources {
    let r = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.clone())
        .unwrap_or_default();
    let cpus = |c: Option<f64>| c.map(|c| (c * 1e9).round() as i64);
    TaskSpecResources {
        limits: r.limits.map(|l| Limit {
            nano_cpus: cpus(l.cpus),
            memory_bytes: l.memory.map(|m| m.0 as i64),
            pids: l.pids,
        }),
        reservations: r.reservations.map(|l| ResourceObject {
            nano_cpus: cpus(l.cpus),
            memory_bytes: l.memory.map(|m| m.0 as i64),
            generic_resources: None,
        }),
    }
}

fn update_config(u: &UpdateConfig) -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(u.parallelism.unwrap_or(1) as i64),
        delay: u.delay.map(nanos),
        failure_action: u.failure_action.and_then(wire),
        monitor: u.monitor.map(nanos),
        max_failure_ratio: u.max_failure_ratio,
        order: u.order.and_then(wire),
    }
}

fn rollback_config(u: &UpdateConfig) -> Result<ServiceSpecRollbackConfig, String> {
    let failure_action = match u.failure_action {
        Some(crate::compose::model::FailureAction::Rollback) => {
            return Err("rollback_config.failure_action cannot be rollback".into())
        }
        other => other.and_then(wire),
    };
    Ok(ServiceSpecRollbackConfig {
        parallelism: Some(u.parallelism.unwrap_or(1) as i64),
        delay: u.delay.map(nanos),
        failure_action,
        monitor: u.monitor.map(nanos),
        max_failure_ratio: u.max_failure_ratio,
        order: u.order.and_then(wire),
    })
}

/// The networks a service's tasks join (sorted by name, as docker does, so that a redeploy
/// of an unchanged file changes nothing), each with the service's name as an alias.
fn networks(
    project: &Project,
    ns: &Namespace,
    name: &str,
    svc: &Service,
) -> Vec<NetworkAttachmentConfig> {
    let fallback = crate::compose::model::Network::default();
    let mut keys: Vec<(&str, Vec<String>)> = svc
        .networks
        .iter()
        .map(|(k, a)| {
            (
                k.as_str(),
                a.as_ref().map(|a| a.aliases.clone()).unwrap_or_default(),
            )
        })
        .collect();
    if keys.is_empty() {
        keys.push((DEFAULT_NETWORK, Vec::new()));
    }
    let mut out: Vec<NetworkAttachmentConfig> = keys
        .into_iter()
        .map(|(key, mut aliases)| {
            let target = network_name(ns, key, project.networks.get(key).unwrap_or(&fallback));
            if !matches!(target.as_str(), "host" | "bridge" | "none" | "default") {
                aliases.push(name.to_string());
            }
            NetworkAttachmentConfig {
                target: Some(target),
                aliases: Some(aliases),
                driver_opts: None,
            }
        })
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

fn secrets(
    project: &Project,
    ns: &Namespace,
    refs: &[ServiceFileRef],
) -> Vec<TaskSpecContainerSpecSecrets> {
    let mut out: Vec<TaskSpecContainerSpecSecrets> = refs
        .iter()
        .map(|r| {
            let (name, uid, gid, mode) = file_ref(r);
            TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(name),
                    uid: Some(uid),
                    gid: Some(gid),
                    mode: Some(mode),
                }),
                secret_id: None,
                secret_name: Some(object_name(
                    ns,
                    &r.source,
                    &project
                        .secrets
                        .get(&r.source)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                )),
            }
        })
        .collect();
    out.sort_by(|a, b| a.secret_name.cmp(&b.secret_name));
    out
}

fn configs(
    project: &Project,
    ns: &Namespace,
    refs: &[ServiceFileRef],
) -> Vec<TaskSpecContainerSpecConfigs> {
    let mut out: Vec<TaskSpecContainerSpecConfigs> = refs
        .iter()
        .map(|r| {
            let (name, uid, gid, mode) = file_ref(r);
            TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(name),
                    uid: Some(uid),
                    gid: Some(gid),
                    mode: Some(mode),
                }),
                runtime: None,
                config_id: None,
                config_name: Some(object_name(
                    ns,
                    &r.source,
                    &project
                        .configs
                        .get(&r.source)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                )),
            }
        })
        .collect();
    out.sort_by(|a, b| a.config_name.cmp(&b.config_name));
    out
}

/// The file a secret or config becomes: target (else the source's name), owner (root) and
/// mode (0444), docker's defaults.
fn file_ref(r: &ServiceFileRef) -> (String, String, String, u32) {
    (
        r.target.clone().unwrap_or_else(|| r.source.clone()),
        r.uid.clone().unwrap_or_else(|| "0".into()),
        r.gid.clone().unwrap_or_else(|| "0".into()),
        r.mode.unwrap_or(0o444),
    )
}

fn mounts(
    project: &Project,
    ns: &Namespace,
    key: &str,
    svc: &Service,
    report: &mut Report<'_>,
) -> Vec<Mount> {
    let mut out: Vec<Mount> = svc
        .volumes
        .iter()
        .filter_map(|m| mount(project, ns, key, m, report))
        .collect();
    // `tmpfs:` paths, as tmpfs mounts (docker stack deploy drops them silently)
    for t in &svc.tmpfs {
        let (target, _) = t.split_once(':').unwrap_or((t, ""));
        out.push(Mount {
            target: Some(target.to_string()),
            typ: "tmpfs".parse().ok(),
            ..Default::default()
        });
    }
    out
}

fn mount(
    project: &Project,
    ns: &Namespace,
    key: &str,
    m: &ComposeMount,
    report: &mut Report<'_>,
) -> Option<Mount> {
    let mut out = Mount {
        target: Some(m.target.clone()),
        source: m.source.clone(),
        typ: wire(m.kind),
        read_only: m.read_only.then_some(true),
        consistency: m.consistency.clone(),
        ..Default::default()
    };
    match m.kind {
        MountType::Volume => {
            let Some(source) = &m.source else {
                return Some(out); // anonymous: a fresh volume per task
            };
            let vol = project.volumes.get(source).cloned().unwrap_or_default();
            out.source = Some(if vol.name.is_empty() {
                ns.scope(source)
            } else {
                vol.name.clone()
            });
            let mut opts = MountVolumeOptions {
                no_copy: Some(m.volume.as_ref().is_some_and(|v| v.nocopy)),
                ..Default::default()
            };
            if m.volume.as_ref().is_some_and(|v| v.subpath.is_some()) {
                report.drop_key(
                    format!("{key}.volumes"),
                    "volume subpath is not passed on to a swarm",
                );
            }
            if !vol.external {
                opts.labels = Some(ns.labels(&vol.labels));
                if vol.driver.is_some() || !vol.driver_opts.is_empty() {
                    opts.driver_config = Some(MountVolumeOptionsDriverConfig {
                        name: vol.driver.clone(),
                        options: Some(vol.driver_opts.clone().into_iter().collect()),
                    });
                }
            }
            out.volume_options = Some(opts);
        }
        MountType::Bind => {
            if let Some(p) = m.bind.as_ref().and_then(|b| b.propagation.as_deref()) {
                out.bind_options = Some(MountBindOptions {
                    propagation: p.parse().ok(),
                    ..Default::default()
                });
            }
        }
        MountType::Tmpfs => {
            out.source = None;
            if let Some(t) = &m.tmpfs {
                out.tmpfs_options = Some(MountTmpfsOptions {
                    size_bytes: t.size.map(|s| s.0 as i64),
                    mode: t.mode.map(i64::from),
                    options: None,
                });
            }
        }
        MountType::Npipe | MountType::Cluster | MountType::Image => {
            report.drop_key(
                format!("{key}.volumes"),
                format!("{:?} mounts are not passed on to a swarm", m.kind).to_lowercase(),
            );
            return None;
        }
    }
    Some(out)
}

/// The endpoint: VIP (or DNS round robin) and the published ports, sorted, a range expanded
/// into one port each.
fn endpoint(
    key: &str,
    svc: &Service,
    report: &mut Report<'_>,
) -> Result<EndpointSpec, ConvertError> {
    let mut ports = Vec::new();
    for p in &svc.ports {
        if p.host_ip.is_some() {
            report.drop_key(
                format!("{key}.ports"),
                "a swarm publishes on every address of every node: host_ip is ignored",
            );
        }
        let published: Vec<Option<i64>> = match p.published.as_deref() {
            None => vec![None],
            Some(s) => match s.split_once('-') {
                None => vec![Some(parse_port(key, s, report)?)],
                Some((a, b)) => {
                    let (a, b) = (parse_port(key, a, report)?, parse_port(key, b, report)?);
                    (a..=b).map(Some).collect()
                }
            },
        };
        let n = published.len() as i64;
        for (i, published_port) in published.into_iter().enumerate() {
            // a published range maps onto a target range of the same length
            let target = i64::from(p.target) + if n > 1 { i as i64 } else { 0 };
            ports.push(EndpointPortConfig {
                name: p.name.clone(),
                protocol: wire(p.protocol),
                target_port: Some(target),
                published_port,
                publish_mode: wire(p.mode),
            });
        }
    }
    ports.sort_by_key(|p| {
        (
            p.published_port,
            p.target_port,
            p.protocol.map(|x| x.to_string()),
        )
    });
    let mode = svc
        .deploy
        .as_ref()
        .and_then(|d| d.endpoint_mode)
        .and_then(wire);
    Ok(EndpointSpec {
        mode,
        ports: Some(ports),
    })
}

fn parse_port(key: &str, s: &str, report: &Report<'_>) -> Result<i64, ConvertError> {
    s.trim()
        .parse::<u16>()
        .map(i64::from)
        .map_err(|_| ConvertError::Invalid {
            at: report.location(&format!("{key}.ports")),
            key: format!("{key}.ports"),
            message: format!("invalid published port {s:?}"),
        })
}
