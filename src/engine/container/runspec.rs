//! From a container record to what its supervisor runs: the runtime spec and supervision config.

use super::create::{health_spec, parse_signal, restart_policy};
use super::mounts::MountKind;
use super::ContainerRecord;
use crate::engine::error::{Error, Result};
use crate::engine::runtime::{
    self, caps, MountSpec, NetworkNamespace, ProcessSpec, RootfsSpec, RuntimeSpec,
};
use crate::engine::supervisor::SupervisorConfig;
use crate::engine::Engine;

pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

impl Engine {
    /// What the supervisor of `rec` runs: the runtime spec and how to supervise it.
    pub(crate) fn supervisor_config(&self, rec: &ContainerRecord) -> Result<SupervisorConfig> {
        let dir = self.containers.dir(&rec.id);
        let host = &rec.host_config;
        let spec = self.runtime_spec(rec)?;
        let stop_signal = match rec.config.stop_signal.as_deref() {
            Some(s) if !s.is_empty() => parse_signal(s)?,
            _ => libc::SIGTERM,
        };
        Ok(SupervisorConfig {
            spec,
            log_path: dir.join(format!("{}-json.log", rec.id)),
            state_path: dir.join("state.json"),
            socket_path: self.paths.supervisor_socket(&rec.id),
            open_stdin: rec.config.open_stdin.unwrap_or(false),
            stdin_once: rec.config.stdin_once.unwrap_or(false),
            restart: restart_policy(host)?,
            health: match &rec.config.healthcheck {
                Some(h) => health_spec(h)?,
                None => None,
            },
            stop_signal,
            stop_timeout_secs: rec
                .config
                .stop_timeout
                .unwrap_or(DEFAULT_STOP_TIMEOUT)
                .max(0) as u64,
            restart_count: rec.state.restart_count,
            wharf_binary: self.binary.clone(),
        })
    }

    /// The container as the runtime sees it: layers, mounts, process, namespaces, limits.
    fn runtime_spec(&self, rec: &ContainerRecord) -> Result<RuntimeSpec> {
        let image = self.images.get(&rec.image_id)?;
        let dir = self.containers.dir(&rec.id);
        let host = &rec.host_config;
        let privileged = host.privileged.unwrap_or(false);
        let capabilities = caps::compute(
            privileged,
            host.cap_add.as_deref().unwrap_or_default(),
            host.cap_drop.as_deref().unwrap_or_default(),
        )
        .map_err(Error::invalid)?;
        let mounts = self.runtime_mounts(rec)?;
        let network = match host.network_mode.as_deref() {
            Some("host") => NetworkNamespace::Host,
            _ => NetworkNamespace::New,
        };
        let mut sysctls: Vec<(String, String)> = host
            .sysctls
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        sysctls.sort();
        if let Some((k, _)) = sysctls
            .iter()
            .find(|(k, _)| network == NetworkNamespace::Host && k.starts_with("net."))
        {
            // It would change the host's own setting.
            return Err(Error::invalid(format!(
                "sysctl \"{k}\" is not allowed in host network mode"
            )));
        }
        if let Some((k, _)) = sysctls
            .iter()
            .find(|(k, _)| !crate::docker::sysctl::is_namespaced(k))
        {
            // runc's check: only what the container's own namespaces scope can be set.
            let why = if k == "kernel.hostname" || k == "kernel.domainname" {
                format!(
                    "sysctl \"{k}\" is not allowed as it conflicts with the OCI \"hostname\" field"
                )
            } else {
                format!("sysctl \"{k}\" is not in a separate kernel namespace")
            };
            return Err(Error::invalid(why));
        }
        Ok(RuntimeSpec {
            id: rec.id.clone(),
            rootfs: RootfsSpec {
                layers: self.images.layer_dirs(&image),
                init_layer: dir.join("init"),
                upper: dir.join("upper"),
                work: dir.join("work"),
                mountpoint: self.paths.container_run_dir(&rec.id).join("rootfs"),
                readonly: host.readonly_rootfs.unwrap_or(false),
                shm_size: host.shm_size.filter(|s| *s > 0).map(|s| s as u64),
            },
            process: self.process_spec(rec, capabilities)?,
            hostname: rec.config.hostname.clone().unwrap_or_default(),
            domainname: rec.config.domainname.clone().unwrap_or_default(),
            mounts,
            network,
            join_pid_ns_of: None,
            privileged,
            masked_paths: runtime::MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            readonly_paths: runtime::READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            cgroup: cgroup_spec(rec),
            init: host.init.unwrap_or(false),
            sysctls,
        })
    }

    /// The container's mounts (binds, volumes, tmpfs), then the engine's hosts, hostname and
    /// resolv.conf files where the container mounts none of its own.
    fn runtime_mounts(&self, rec: &ContainerRecord) -> Result<Vec<MountSpec>> {
        let mut mounts = Vec::new();
        for (m, path) in super::create::mount_sources(self, &rec.mounts) {
            let kind = match m.kind {
                MountKind::Bind => runtime::MountKind::Bind {
                    source: path,
                    readonly: m.read_only,
                    copy_up: false,
                    propagation: m.propagation.clone(),
                },
                MountKind::Volume => runtime::MountKind::Bind {
                    source: match &m.subpath {
                        Some(sub) => self.volume_subpath_source(&m.source, sub)?,
                        None => path,
                    },
                    readonly: m.read_only,
                    copy_up: !m.no_copy && m.subpath.is_none(),
                    propagation: None,
                },
                MountKind::Tmpfs => runtime::MountKind::Tmpfs {
                    options: m.options.clone(),
                },
            };
            mounts.push(MountSpec {
                destination: m.destination.clone(),
                kind,
            });
        }
        let dir = self.containers.dir(&rec.id);
        for (file, dest) in [
            ("hosts", "/etc/hosts"),
            ("hostname", "/etc/hostname"),
            ("resolv.conf", "/etc/resolv.conf"),
        ] {
            if !rec.mounts.iter().any(|m| m.destination == dest) {
                mounts.push(MountSpec {
                    destination: dest.into(),
                    kind: runtime::MountKind::Bind {
                        source: dir.join(file),
                        readonly: false,
                        copy_up: false,
                        propagation: None,
                    },
                });
            }
        }
        Ok(mounts)
    }

    /// The container's process: command, environment, user, capabilities, limits, seccomp.
    fn process_spec(
        &self,
        rec: &ContainerRecord,
        capabilities: Vec<String>,
    ) -> Result<ProcessSpec> {
        let host = &rec.host_config;
        let security = host.security_opt.clone().unwrap_or_default();
        let unconfined = host.privileged.unwrap_or(false)
            || security
                .iter()
                .any(|s| s.starts_with("seccomp") && s.ends_with("unconfined"));
        let rlimits = host
            .ulimits
            .iter()
            .flatten()
            .map(|u| runtime::Rlimit {
                name: u.name.clone().unwrap_or_default(),
                soft: u.soft.unwrap_or(0) as u64,
                hard: u.hard.unwrap_or(0) as u64,
            })
            .collect();
        let mut args = vec![rec.path.clone()];
        args.extend(rec.args.iter().cloned());
        let mut env = self.link_env(rec)?;
        env.extend(rec.config.env.iter().flatten().cloned());
        Ok(ProcessSpec {
            args,
            env,
            cwd: rec
                .config
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: rec.config.user.clone().unwrap_or_default(),
            additional_groups: host.group_add.clone().unwrap_or_default(),
            tty: rec.tty(),
            capabilities,
            no_new_privileges: super::create::no_new_privileges(host)?,
            rlimits,
            seccomp_bpf: (!unconfined).then(|| self.paths.seccomp_profile()),
            nice: Some(runtime::priority::container_nice()),
        })
    }
}

impl Engine {
    /// The directory a volume's `Subpath` names, without symlinks, checked to be inside the
    /// volume (a symlink in the volume must never lead the mount to the host).
    fn volume_subpath_source(&self, volume: &str, sub: &str) -> Result<std::path::PathBuf> {
        let root = self.volumes.host_path(&self.volumes.get(volume)?);
        let err = |e: String| {
            Error::invalid(format!(
                "cannot access path {sub:?} in volume {volume}: {e}"
            ))
        };
        let root = std::fs::canonicalize(&root).map_err(|e| err(e.to_string()))?;
        let target = std::fs::canonicalize(root.join(sub)).map_err(|e| err(e.to_string()))?;
        if !target.starts_with(&root) {
            return Err(err("it leads out of the volume".into()));
        }
        Ok(target)
    }
}

/// The container's cgroup and the limits its host config asks for (at start and `update`).
pub fn cgroup_spec(rec: &ContainerRecord) -> runtime::CgroupSpec {
    let host = &rec.host_config;
    let cpu_quota = match (host.nano_cpus, host.cpu_quota) {
        (Some(n), _) if n > 0 => Some(n / 10_000),
        (_, Some(q)) if q > 0 => Some(q),
        _ => None,
    };
    runtime::CgroupSpec {
        path: format!("wharf/{}", rec.id),
        memory: host.memory.filter(|m| *m > 0),
        cpu_quota,
        pids: host.pids_limit.filter(|p| *p != 0),
    }
}
