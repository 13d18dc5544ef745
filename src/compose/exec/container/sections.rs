//! The small sections of a service's body: process, ports, healthcheck, restart, resources,
//! security, logging and the platform check. Each reads its service keys, and says what this
//! engine does not enforce.

use crate::api::models::{HostConfigLogConfig, RestartPolicy as ApiRestart, RestartPolicyNameEnum};
use crate::compose::model::{Healthcheck, RestartPolicy, Service};
use crate::compose::plan::{container_labels, service_image};
use crate::docker::create::{ulimit, Health, Ports, Process, Resources, Security, Stdio};

use super::{Ctx, Warnings};

/// Image, command, environment (`env_file` contents were merged in by the loader), identity,
/// labels and stop settings; compose never attaches at create time.
pub(super) fn process(cx: &Ctx) -> Process {
    let (project, svc, inp) = (cx.project, cx.svc, cx.inp);
    Process {
        image: service_image(project, inp.service, svc),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: svc
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        working_dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        hostname: svc.hostname.clone(),
        domainname: svc.domainname.clone(),
        labels: container_labels(
            project,
            inp.service,
            inp.number,
            inp.config_hash,
            inp.oneoff,
            inp.image_id,
        )
        .into_iter()
        .collect(),
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc
            .stop_grace_period
            .map(|d| d.0.as_secs_f64().ceil() as i64),
        stdio: Stdio {
            tty: svc.tty,
            open_stdin: svc.stdin_open,
            attach: false,
        },
    }
}

/// `ports:` (published) and `expose:` (`port[-port][/proto]`, exposed only).
pub(super) fn ports(cx: &Ctx) -> Result<Ports, String> {
    let mut out = Ports::default();
    for p in &cx.svc.ports {
        out.publish(
            format!("{}/{}", p.target, p.protocol),
            p.host_ip.clone().unwrap_or_default(),
            p.published.clone().unwrap_or_default(),
        );
    }
    for e in &cx.svc.expose {
        let (ports, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        let range = match ports.split_once('-') {
            Some((a, b)) => a.parse::<u16>().ok().zip(b.parse::<u16>().ok()),
            None => ports.parse::<u16>().ok().map(|p| (p, p)),
        };
        let Some((a, b)) = range.filter(|(a, b)| a <= b) else {
            return Err(cx.err("expose", format!("invalid port {e:?}")));
        };
        for p in a..=b {
            out.expose(format!("{p}/{proto}"));
        }
    }
    Ok(out)
}

pub(super) fn health(h: &Healthcheck) -> crate::api::models::HealthConfig {
    Health {
        disable: h.disable,
        test: h.test.clone(),
        interval: h.interval.map(|d| d.0),
        timeout: h.timeout.map(|d| d.0),
        retries: h.retries.map(|r| r as i64),
        start_period: h.start_period.map(|d| d.0),
        start_interval: h.start_interval.map(|d| d.0),
    }
    .config()
}

pub(super) fn restart(r: RestartPolicy) -> ApiRestart {
    let (name, max) = match r {
        RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
        RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
        RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        RestartPolicy::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, n.map(i64::from)),
    };
    ApiRestart {
        name: Some(name),
        maximum_retry_count: max,
    }
}

/// Limits: the service keys win over `deploy.resources`; reservations are warned about.
pub(super) fn resources(svc: &Service, warn: &mut Warnings) -> Resources {
    let res = svc.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let limits = res.and_then(|r| r.limits.clone()).unwrap_or_default();
    let reservations = res.and_then(|r| r.reservations.clone()).unwrap_or_default();
    if reservations.memory.is_some() {
        warn.warn(
            "deploy.resources.reservations.memory",
            "is recorded (MemoryReservation) but not enforced by this engine",
        );
    }
    if reservations.cpus.is_some() {
        warn.warn(
            "deploy.resources.reservations.cpus",
            "is not supported by this engine: ignored",
        );
    }
    if reservations.pids.is_some() {
        warn.warn(
            "deploy.resources.reservations.pids",
            "is not supported by this engine: ignored",
        );
    }
    Resources {
        memory: svc.mem_limit.or(limits.memory).map(|b| b.0 as i64),
        memory_reservation: reservations.memory.map(|b| b.0 as i64),
        nano_cpus: svc.cpus.or(limits.cpus).map(|c| (c * 1e9) as i64),
        pids_limit: svc.pids_limit.or(limits.pids),
        shm_size: svc.shm_size.map(|b| b.0 as i64),
        ulimits: svc
            .ulimits
            .iter()
            .map(|(n, u)| ulimit(n, u.soft, u.hard))
            .collect(),
    }
}

/// Privileges: compose leaves unset flags out of the body.
pub(super) fn security(svc: &Service) -> Security {
    Security {
        privileged: svc.privileged.then_some(true),
        readonly_rootfs: svc.read_only.then_some(true),
        init: svc.init,
        cap_add: svc.cap_add.clone(),
        cap_drop: svc.cap_drop.clone(),
        security_opt: svc.security_opt.clone(),
        group_add: Vec::new(),
        sysctls: svc.sysctls.clone().into_iter().collect(),
    }
}

/// `logging:`; logs are always kept as json-file, so other drivers and options are warned.
pub(super) fn logging(svc: &Service, warn: &mut Warnings) -> Option<HostConfigLogConfig> {
    let l = svc.logging.as_ref()?;
    let driver = l.driver.clone().unwrap_or_else(|| "json-file".into());
    if driver != "json-file" && driver != "local" {
        warn.warn(
            "logging.driver",
            &format!("{driver:?} is not supported by this engine: logs are kept as json-file"),
        );
    }
    if !l.options.is_empty() {
        let keys: Vec<&str> = l.options.keys().map(String::as_str).collect();
        warn.warn(
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

/// `platform:` other than this host's is warned: the image runs as it is.
pub(super) fn platform(svc: &Service, warn: &mut Warnings) {
    let Some(p) = &svc.platform else { return };
    let arch = crate::docker::platform::host_arch();
    let host = crate::docker::platform::Platform::host();
    let same = crate::docker::platform::Platform::parse(p)
        .is_ok_and(|p| p.matches(&host.os, &host.architecture, ""));
    if !same {
        warn.warn(
            "platform",
            &format!("{p:?} is not this host's platform (linux/{arch}): the image runs as it is"),
        );
    }
}
