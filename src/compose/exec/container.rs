//! A service → the Engine API's container create body. Every service key is mapped, or named
//! in an explicit warning (what this engine does not enforce) or error (what it cannot do).

use std::collections::HashMap;
use std::path::Path;

use crate::api::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig,
    HostConfigLogConfig, Mount, MountTmpfsOptions, MountTypeEnum, MountVolumeOptions,
    NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy as ApiRestart,
    RestartPolicyNameEnum,
};
use crate::compose::load::env::Environment;
use crate::compose::model::{
    FileObject, MountType, NetworkMode, Project, RestartPolicy, Service, ServiceFileRef,
};
use crate::compose::plan::{container_labels, network_name, service_image, volume_name};

/// A file to copy into the container before it starts (secrets and configs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCopy {
    pub target: String,
    pub content: Vec<u8>,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
}

/// What creating a service container needs.
#[derive(Clone, Debug, Default)]
pub struct Built {
    pub body: ContainerCreateBody,
    /// Keys this engine does not enforce (warned, never silent).
    pub warnings: Vec<String>,
    /// Secrets and configs to copy in before start.
    pub files: Vec<FileCopy>,
}

/// Inputs beyond the project.
#[derive(Clone, Debug, Default)]
pub struct BuildInputs<'a> {
    pub service: &'a str,
    pub number: u32,
    pub name: &'a str,
    pub config_hash: &'a str,
    pub oneoff: bool,
    pub image_id: Option<&'a str>,
    /// Whether the engine has bridge networks (else containers get the default network).
    pub networking: bool,
    /// Anonymous volumes of the container being replaced: destination → volume name.
    pub inherited: HashMap<String, String>,
    /// Mounts resolved from `volumes_from` (the source containers' mounts).
    pub volumes_from: Vec<Mount>,
    /// `network_mode: service:x` resolved to a container id or name.
    pub network_container: Option<String>,
    /// The environment (for secrets and configs from `environment:`).
    pub environment: Option<&'a Environment>,
}

fn err(service: &str, key: &str, msg: impl std::fmt::Display) -> String {
    format!("service {service:?}: {key}: {msg}")
}

fn ns(d: &crate::compose::model::Duration) -> i64 {
    d.0.as_nanos() as i64
}

/// Build the create body for a container of `inp.service`.
pub fn build(project: &Project, inp: &BuildInputs) -> Result<Built, String> {
    let s = inp.service;
    let svc: &Service = project
        .services
        .get(s)
        .ok_or_else(|| format!("no such service: {s}"))?;
    let mut warnings: Vec<String> = Vec::new();
    let mut warn = |key: &str, msg: &str| warnings.push(format!("service {s:?}: {key}: {msg}"));

    // environment (env_file contents were merged in by the loader)
    let env: Vec<String> = svc
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();

    // ports and expose
    let mut exposed: HashMap<String, HashMap<(), ()>> = HashMap::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.insert(key.clone(), HashMap::new());
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.clone().unwrap_or_default()),
                host_port: Some(p.published.clone().unwrap_or_default()),
            });
    }
    for e in &svc.expose {
        let (ports, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        let range = match ports.split_once('-') {
            Some((a, b)) => a.parse::<u16>().ok().zip(b.parse::<u16>().ok()),
            None => ports.parse::<u16>().ok().map(|p| (p, p)),
        };
        let Some((a, b)) = range.filter(|(a, b)| a <= b) else {
            return Err(err(s, "expose", format!("invalid port {e:?}")));
        };
        for p in a..=b {
            exposed.insert(format!("{p}/{proto}"), HashMap::new());
        }
    }

    // mounts
    let mut mounts: Vec<Mount> = Vec::new();
    for (i, m) in svc.volumes.iter().enumerate() {
        let key = format!("volumes[{i}]");
        let mut out = Mount {
            target: Some(m.target.clone()),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        };
        match m.kind {
            MountType::Volume => {
                out.typ = Some(MountTypeEnum::VOLUME);
                out.source = match &m.source {
                    Some(src) if project.volumes.contains_key(src) => {
                        Some(volume_name(project, src))
                    }
                    Some(src) => Some(src.clone()),
                    None => inp.inherited.get(&m.target).cloned(),
                };
                if let Some(v) = &m.volume {
                    if v.nocopy || v.subpath.is_some() {
                        out.volume_options = Some(MountVolumeOptions {
                            no_copy: v.nocopy.then_some(true),
                            subpath: v.subpath.clone(),
                            ..Default::default()
                        });
                    }
                    if v.subpath.is_some() {
                        warn(&key, "volume.subpath is not supported by this engine: the whole volume is mounted");
                    }
                }
            }
            MountType::Bind => {
                out.typ = Some(MountTypeEnum::BIND);
                let src = m
                    .source
                    .clone()
                    .ok_or_else(|| err(s, &key, "a bind mount needs a source"))?;
                let create = m.bind.as_ref().is_none_or(|b| b.create_host_path);
                if !Path::new(&src).exists() {
                    if create {
                        std::fs::create_dir_all(&src).map_err(|e| {
                            err(s, &key, format!("cannot create bind source {src}: {e}"))
                        })?;
                    } else {
                        return Err(err(
                            s,
                            &key,
                            format!("bind source path does not exist: {src}"),
                        ));
                    }
                }
                out.source = Some(src);
                if let Some(b) = &m.bind {
                    if b.propagation.is_some() {
                        warn(
                            &key,
                            "bind.propagation is not supported by this engine (mounts are private)",
                        );
                    }
                    if b.selinux.is_some() {
                        warn(
                            &key,
                            "bind.selinux is not supported by this engine (no relabelling)",
                        );
                    }
                }
            }
            MountType::Tmpfs => {
                out.typ = Some(MountTypeEnum::TMPFS);
                if let Some(t) = &m.tmpfs {
                    out.tmpfs_options = Some(MountTmpfsOptions {
                        size_bytes: t.size.map(|b| b.0 as i64),
                        mode: t.mode.map(i64::from),
                        ..Default::default()
                    });
                }
            }
            other => {
                return Err(err(
                    s,
                    &key,
                    format!("mount type {other:?} is not supported by this engine"),
                ))
            }
        }
        mounts.push(out);
    }
    for m in &inp.volumes_from {
        if !mounts.iter().any(|x| x.target == m.target) {
            mounts.push(m.clone());
        }
    }
    // anonymous volumes inherited for targets no longer declared: docker compose keeps them
    // only for declared targets, so do we.

    // secrets and configs
    let mut files = Vec::new();
    let mut copy_refs = |refs: &[ServiceFileRef],
                         defs: &std::collections::BTreeMap<String, FileObject>,
                         what: &str,
                         default_dir: &str|
     -> Result<(), String> {
        for r in refs {
            let def = defs
                .get(&r.source)
                .ok_or_else(|| err(s, what, format!("undefined {what} {:?}", r.source)))?;
            if def.external {
                return Err(err(
                    s,
                    what,
                    format!(
                        "external {what} {:?} needs a swarm; it is not supported by this engine",
                        r.source
                    ),
                ));
            }
            let content: Vec<u8> = if let Some(f) = &def.file {
                std::fs::read(f).map_err(|e| err(s, what, format!("cannot read {f}: {e}")))?
            } else if let Some(c) = &def.content {
                c.clone().into_bytes()
            } else if let Some(var) = &def.environment {
                inp.environment
                    .and_then(|e| e.get(var))
                    .ok_or_else(|| {
                        err(
                            s,
                            what,
                            format!("{what} {:?} comes from environment variable {var}, which is not set", r.source),
                        )
                    })?
                    .into_bytes()
            } else {
                return Err(err(
                    s,
                    what,
                    format!("{what} {:?} has no file, content or environment", r.source),
                ));
            };
            let target = match &r.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("{default_dir}/{t}"),
                None if default_dir == "/run/secrets" => format!("/run/secrets/{}", r.source),
                None => format!("/{}", r.source),
            };
            let num =
                |v: &Option<String>| v.as_ref().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            files.push(FileCopy {
                target,
                content,
                uid: num(&r.uid),
                gid: num(&r.gid),
                mode: r.mode.unwrap_or(0o444),
            });
        }
        Ok(())
    };
    copy_refs(&svc.secrets, &project.secrets, "secrets", "/run/secrets")?;
    copy_refs(&svc.configs, &project.configs, "configs", "")?;
    if svc.read_only && !files.is_empty() {
        // the files cannot be copied into a read-only root filesystem: bind them from a
        // directory next to the project instead would leak state; refuse clearly
        return Err(err(
            s,
            "read_only",
            "secrets and configs cannot be copied into a read-only root filesystem by this engine",
        ));
    }

    // healthcheck
    let healthcheck = svc.healthcheck.as_ref().map(|h| {
        if h.disable {
            HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }
        } else {
            HealthConfig {
                test: (!h.test.is_empty()).then(|| h.test.clone()),
                interval: h.interval.as_ref().map(ns),
                timeout: h.timeout.as_ref().map(ns),
                retries: h.retries.map(|r| r as i64),
                start_period: h.start_period.as_ref().map(ns),
                start_interval: h.start_interval.as_ref().map(ns),
            }
        }
    });

    let restart = svc.restart.map(|r| match r {
        RestartPolicy::No => ApiRestart {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        },
        RestartPolicy::Always => ApiRestart {
            name: Some(RestartPolicyNameEnum::ALWAYS),
            maximum_retry_count: None,
        },
        RestartPolicy::UnlessStopped => ApiRestart {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        },
        RestartPolicy::OnFailure(n) => ApiRestart {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: n.map(i64::from),
        },
    });

    // resources: service keys win over deploy.resources
    let limits = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.clone())
        .unwrap_or_default();
    let reservations = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.reservations.clone())
        .unwrap_or_default();
    let memory = svc.mem_limit.or(limits.memory).map(|b| b.0 as i64);
    let cpus = svc.cpus.or(limits.cpus);
    let pids = svc.pids_limit.or(limits.pids);
    if reservations.memory.is_some() {
        warn(
            "deploy.resources.reservations.memory",
            "is recorded (MemoryReservation) but not enforced by this engine",
        );
    }
    if reservations.cpus.is_some() {
        warn(
            "deploy.resources.reservations.cpus",
            "is not supported by this engine: ignored",
        );
    }
    if reservations.pids.is_some() {
        warn(
            "deploy.resources.reservations.pids",
            "is not supported by this engine: ignored",
        );
    }

    let ulimits: Vec<ResourcesUlimits> = svc
        .ulimits
        .iter()
        .map(|(n, u)| ResourcesUlimits {
            name: Some(n.clone()),
            soft: Some(u.soft),
            hard: Some(u.hard),
        })
        .collect();
    let tmpfs: HashMap<String, String> = svc
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let extra_hosts: Vec<String> = svc
        .extra_hosts
        .iter()
        .flat_map(|(h, ips)| ips.iter().map(move |ip| format!("{h}:{ip}")))
        .collect();

    // logging
    let log_config = match &svc.logging {
        None => None,
        Some(l) => {
            let driver = l.driver.clone().unwrap_or_else(|| "json-file".into());
            if driver != "json-file" && driver != "local" {
                warn(
                    "logging.driver",
                    &format!(
                        "{driver:?} is not supported by this engine: logs are kept as json-file"
                    ),
                );
            }
            if !l.options.is_empty() {
                let keys: Vec<&str> = l.options.keys().map(String::as_str).collect();
                warn(
                    "logging.options",
                    &format!(
                        "{} not enforced by this engine (logs are kept whole)",
                        keys.join(", ")
                    ),
                );
            }
            Some(HostConfigLogConfig {
                typ: Some(driver),
                config: (!l.options.is_empty()).then(|| l.options.clone().into_iter().collect()),
            })
        }
    };
    if let Some(p) = &svc.platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        if !(p == "linux" || p.starts_with(&format!("linux/{arch}"))) {
            warn(
                "platform",
                &format!(
                    "{p:?} is not this host's platform (linux/{arch}): the image runs as it is"
                ),
            );
        }
    }

    // networks
    let mut network_mode: Option<String> = None;
    let mut endpoints: HashMap<String, EndpointSettings> = HashMap::new();
    match &svc.network_mode {
        Some(NetworkMode::Host) => network_mode = Some("host".into()),
        Some(NetworkMode::None) => network_mode = Some("none".into()),
        Some(NetworkMode::Bridge) => network_mode = Some("bridge".into()),
        Some(NetworkMode::Container(c)) => network_mode = Some(format!("container:{c}")),
        Some(NetworkMode::Service(x)) => {
            let target = inp
                .network_container
                .clone()
                .ok_or_else(|| err(s, "network_mode", format!("service {x:?} has no container")))?;
            network_mode = Some(format!("container:{target}"));
        }
        None if inp.networking => {
            // the network with the highest priority first (then by name), like docker compose
            let mut nets: Vec<(&String, i64)> = svc
                .networks
                .iter()
                .map(|(k, v)| (k, v.as_ref().and_then(|n| n.priority).unwrap_or(0)))
                .collect();
            nets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            for (i, (key, _)) in nets.iter().enumerate() {
                let cfg = svc.networks[*key].clone().unwrap_or_default();
                let mut aliases = vec![s.to_string()];
                aliases.extend(cfg.aliases.iter().cloned());
                let links: Vec<String> = svc
                    .links
                    .iter()
                    .map(|l| {
                        let (svc_name, alias) = l.split_once(':').unwrap_or((l, l));
                        format!(
                            "{}:{alias}",
                            crate::compose::plan::container_name(project, svc_name, 1)
                        )
                    })
                    .collect();
                if cfg.ipv6_address.is_some() {
                    warn(
                        &format!("networks.{key}.ipv6_address"),
                        "IPv6 is not supported by this engine: ignored",
                    );
                }
                let net = network_name(project, key);
                if i == 0 {
                    network_mode = Some(net.clone());
                }
                endpoints.insert(
                    net,
                    EndpointSettings {
                        aliases: Some(aliases),
                        links: (!links.is_empty()).then_some(links),
                        ipam_config: cfg.ipv4_address.as_ref().map(|ip| EndpointIpamConfig {
                            ipv4_address: Some(ip.clone()),
                            ..Default::default()
                        }),
                        gw_priority: cfg.priority,
                        ..Default::default()
                    },
                );
            }
        }
        None => {
            if !svc.links.is_empty() {
                warn(
                    "links",
                    "networking is not available in this engine: links are not resolvable",
                );
            }
            for (key, cfg) in &svc.networks {
                if let Some(c) = cfg {
                    if !c.aliases.is_empty() || c.ipv4_address.is_some() {
                        warn(&format!("networks.{key}"), "networking is not available in this engine: aliases and addresses are ignored");
                    }
                }
            }
        }
    }

    let stop_timeout = svc
        .stop_grace_period
        .map(|d| d.0.as_secs_f64().ceil() as i64);
    let labels = container_labels(
        project,
        s,
        inp.number,
        inp.config_hash,
        inp.oneoff,
        inp.image_id,
    );
    let host = HostConfig {
        mounts: (!mounts.is_empty()).then_some(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        restart_policy: restart,
        memory,
        memory_reservation: reservations.memory.map(|b| b.0 as i64),
        nano_cpus: cpus.map(|c| (c * 1e9) as i64),
        pids_limit: pids,
        ulimits: (!ulimits.is_empty()).then_some(ulimits),
        cap_add: (!svc.cap_add.is_empty()).then(|| svc.cap_add.clone()),
        cap_drop: (!svc.cap_drop.is_empty()).then(|| svc.cap_drop.clone()),
        privileged: svc.privileged.then_some(true),
        readonly_rootfs: svc.read_only.then_some(true),
        init: svc.init,
        network_mode,
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        dns: (!svc.dns.is_empty()).then(|| svc.dns.clone()),
        dns_search: (!svc.dns_search.is_empty()).then(|| svc.dns_search.clone()),
        dns_options: (!svc.dns_opt.is_empty()).then(|| svc.dns_opt.clone()),
        extra_hosts: (!extra_hosts.is_empty()).then_some(extra_hosts),
        security_opt: (!svc.security_opt.is_empty()).then(|| svc.security_opt.clone()),
        shm_size: svc.shm_size.map(|b| b.0 as i64),
        sysctls: (!svc.sysctls.is_empty()).then(|| svc.sysctls.clone().into_iter().collect()),
        log_config,
        ..Default::default()
    };
    let body = ContainerCreateBody {
        hostname: svc.hostname.clone(),
        domainname: svc.domainname.clone(),
        user: svc.user.clone(),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        tty: Some(svc.tty),
        open_stdin: Some(svc.stdin_open),
        stdin_once: Some(false),
        env: Some(env),
        cmd: svc.command.clone(),
        healthcheck,
        image: Some(service_image(project, s, svc)),
        working_dir: svc.working_dir.clone(),
        entrypoint: svc.entrypoint.clone(),
        labels: Some(labels.into_iter().collect()),
        stop_signal: svc.stop_signal.clone(),
        stop_timeout,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(host),
        networking_config: (!endpoints.is_empty()).then_some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
        ..Default::default()
    };
    Ok(Built {
        body,
        warnings,
        files,
    })
}

/// A tar archive of files to extract at `/` (parent directories included).
pub fn files_tar(files: &[FileCopy]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let rel = f.target.trim_start_matches('/');
        let mut acc = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            acc.push_str(p);
            acc.push('/');
            if dirs.insert(acc.clone()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                b.append_data(&mut h, &acc, std::io::empty())?;
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(f.mode);
        h.set_size(f.content.len() as u64);
        h.set_uid(f.uid);
        h.set_gid(f.gid);
        h.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
        b.append_data(&mut h, rel, &f.content[..])?;
    }
    b.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::{load_project, LoadOptions};

    fn project(yaml: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("wharf-ctr-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = Environment::default();
        env.vars.insert("TOKEN".into(), "from-env".into());
        load_project(&LoadOptions {
            files: vec!["-".into()],
            project_name: Some("demo".into()),
            working_dir: Some(dir),
            environment: Some(env.clone()),
            stdin: Some(yaml.to_string()),
            ..Default::default()
        })
        .unwrap()
        .project
    }

    fn inputs<'a>(service: &'a str, networking: bool, env: &'a Environment) -> BuildInputs<'a> {
        BuildInputs {
            service,
            number: 1,
            name: "demo-x-1",
            config_hash: "h",
            networking,
            environment: Some(env),
            ..Default::default()
        }
    }

    #[test]
    fn networks_as_docker_api_shapes() {
        let p = project(
            "services:\n  web:\n    image: busybox\n    links: [db:database]\n    networks:\n      front:\n        aliases: [www]\n        ipv4_address: 10.9.0.5\n      back: {}\n  db:\n    image: busybox\n    networks: [back]\nnetworks:\n  front:\n  back:\n",
        );
        let env = Environment::default();
        let b = build(&p, &inputs("web", true, &env)).unwrap();
        let host = b.body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("demo_back"));
        let eps = b.body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            eps["demo_front"].aliases.clone().unwrap(),
            vec!["web", "www"]
        );
        assert_eq!(
            eps["demo_front"]
                .ipam_config
                .clone()
                .unwrap()
                .ipv4_address
                .as_deref(),
            Some("10.9.0.5")
        );
        assert_eq!(
            eps["demo_back"].links.clone().unwrap(),
            vec!["demo-db-1:database"]
        );
        // without networking: the default network, and a warning for what is lost
        let b = build(&p, &inputs("web", false, &env)).unwrap();
        assert!(b.body.networking_config.is_none());
        assert!(b.body.host_config.unwrap().network_mode.is_none());
        assert!(
            b.warnings.iter().any(|w| w.contains("links")),
            "{:?}",
            b.warnings
        );
        assert!(
            b.warnings.iter().any(|w| w.contains("networks.front")),
            "{:?}",
            b.warnings
        );
    }

    #[test]
    fn keys_map_or_warn() {
        let p = project(
            r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "true"]
    entrypoint: ["/bin/sh"]
    environment: {A: "1", UNSET: null}
    ports: ["127.0.0.1:8080:80/udp"]
    expose: ["9000-9001"]
    user: "1000:1000"
    working_dir: /w
    hostname: h
    extra_hosts: ["db:10.0.0.2"]
    dns: [1.1.1.1]
    init: true
    stop_signal: SIGINT
    stop_grace_period: 1500ms
    tty: true
    cap_add: [NET_ADMIN]
    read_only: true
    ulimits: {nofile: {soft: 10, hard: 20}}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    shm_size: 1m
    tmpfs: ["/run:size=1m"]
    restart: on-failure:3
    healthcheck: {test: ["CMD", "true"], interval: 2s, retries: 4}
    logging: {driver: none, options: {max-size: 1m}}
    deploy: {resources: {reservations: {cpus: "0.1", memory: 10m}}}
    labels: {mine: "yes"}
"#,
        );
        let env = Environment::default();
        let b = build(&p, &inputs("app", false, &env)).unwrap();
        let body = &b.body;
        assert_eq!(body.cmd.clone().unwrap(), vec!["sh", "-c", "true"]);
        assert_eq!(body.entrypoint.clone().unwrap(), vec!["/bin/sh"]);
        assert_eq!(body.env.clone().unwrap(), vec!["A=1"]);
        assert!(body.exposed_ports.clone().unwrap().contains_key("9001/tcp"));
        assert_eq!(body.stop_timeout, Some(2));
        assert_eq!(
            body.healthcheck.clone().unwrap().interval,
            Some(2_000_000_000)
        );
        assert_eq!(body.labels.clone().unwrap()["mine"], "yes");
        assert_eq!(
            body.labels.clone().unwrap()["com.docker.compose.project"],
            "demo"
        );
        let host = body.host_config.clone().unwrap();
        let pb = host.port_bindings.unwrap();
        let b80 = pb["80/udp"].clone().unwrap();
        assert_eq!(b80[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(b80[0].host_port.as_deref(), Some("8080"));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.pids_limit, Some(50));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.extra_hosts.unwrap(), vec!["db:10.0.0.2"]);
        assert_eq!(host.restart_policy.unwrap().maximum_retry_count, Some(3));
        assert_eq!(host.tmpfs.unwrap()["/run"], "size=1m");
        for key in [
            "logging.driver",
            "logging.options",
            "reservations.cpus",
            "reservations.memory",
        ] {
            assert!(
                b.warnings.iter().any(|w| w.contains(key)),
                "{key}: {:?}",
                b.warnings
            );
        }
    }

    #[test]
    fn secrets_and_configs() {
        let p = project(
            "services:\n  app:\n    image: busybox\n    secrets: [tok]\n    configs:\n      - source: cfg\n        target: /etc/app.conf\n        mode: 288\n        uid: \"33\"\nsecrets:\n  tok:\n    environment: TOKEN\nconfigs:\n  cfg:\n    content: hello\n",
        );
        let mut env = Environment::default();
        env.vars.insert("TOKEN".into(), "from-env".into());
        let b = build(&p, &inputs("app", false, &env)).unwrap();
        assert_eq!(b.files.len(), 2);
        assert_eq!(b.files[0].target, "/run/secrets/tok");
        assert_eq!(b.files[0].content, b"from-env");
        assert_eq!(
            (b.files[1].target.as_str(), b.files[1].mode, b.files[1].uid),
            ("/etc/app.conf", 0o440, 33)
        );
        let tar = files_tar(&b.files).unwrap();
        let names: Vec<String> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"run/secrets/tok".to_string()), "{names:?}");
        // the variable is unset: a clear error naming the service
        let empty = Environment::default();
        let e = build(&p, &inputs("app", false, &empty)).unwrap_err();
        assert!(e.contains("\"app\"") && e.contains("TOKEN"), "{e}");
    }
}
