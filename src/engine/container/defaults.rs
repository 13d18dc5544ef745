//! The `HostConfig` dockerd reports: every field its clients index (docker-py reads
//! `HostConfig["LogConfig"]["Type"]`, compose compares `NetworkMode`, ...) is present, with
//! dockerd's defaults where the request left it out. Applied to the view, so records created
//! before this existed show the same.

use std::collections::HashMap;

use bollard_stubs::models::{
    HostConfig, HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};

use crate::engine::error::{Error, Result};

/// The log driver containers use when the request names none (the only one wharf writes).
pub const DEFAULT_LOG_DRIVER: &str = "json-file";
/// Log drivers accepted at create: wharf's json-file, and `none` (no logs to read back, as
/// with dockerd); others (`local`, `syslog`, ...) are refused by name rather than silently
/// written as json-file.
const LOG_DRIVERS: &[&str] = &[DEFAULT_LOG_DRIVER, "none"];
/// Docker's default /dev/shm size.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Refuse a log driver wharf cannot honour, as dockerd words it.
pub fn validate_log_config(host: &HostConfig) -> Result<()> {
    let Some(typ) = host.log_config.as_ref().and_then(|l| l.typ.as_deref()) else {
        return Ok(());
    };
    if typ.is_empty() || LOG_DRIVERS.contains(&typ) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "logger: no log driver named '{typ}' is registered"
    )))
}

/// The one runtime wharf has, under the name Docker clients use for the default.
pub const DEFAULT_RUNTIME: &str = "runc";

/// Refuse a runtime other than the built-in one, as dockerd words it.
pub fn validate_runtime(host: &HostConfig) -> Result<()> {
    match host.runtime.as_deref() {
        None | Some("") | Some(DEFAULT_RUNTIME) => Ok(()),
        Some(other) => Err(Error::invalid(format!(
            "unknown or invalid runtime name: {other}"
        ))),
    }
}

/// `host` with dockerd's defaults filled in.
pub fn with_defaults(host: &HostConfig) -> HostConfig {
    let mut h = host.clone();
    let log = h
        .log_config
        .get_or_insert_with(HostConfigLogConfig::default);
    if log.typ.as_deref().is_none_or(str::is_empty) {
        log.typ = Some(DEFAULT_LOG_DRIVER.into());
    }
    log.config.get_or_insert_with(HashMap::new);
    if h.network_mode
        .as_deref()
        .is_none_or(|m| m.is_empty() || m == "default")
    {
        h.network_mode = Some("bridge".into());
    }
    let restart = h.restart_policy.get_or_insert_with(RestartPolicy::default);
    if matches!(restart.name, None | Some(RestartPolicyNameEnum::EMPTY)) {
        restart.name = Some(RestartPolicyNameEnum::NO);
    }
    restart.maximum_retry_count.get_or_insert(0);
    h.port_bindings.get_or_insert_with(HashMap::new);
    h.runtime = Some(DEFAULT_RUNTIME.into());
    h.shm_size = Some(h.shm_size.filter(|s| *s > 0).unwrap_or(DEFAULT_SHM_SIZE));
    h.ipc_mode = Some(
        h.ipc_mode
            .take()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "private".into()),
    );
    h.cgroupns_mode
        .get_or_insert(bollard_stubs::models::HostConfigCgroupnsModeEnum::PRIVATE);
    h.console_size.get_or_insert_with(|| vec![0, 0]);
    for v in [&mut h.dns, &mut h.dns_options, &mut h.dns_search] {
        v.get_or_insert_with(Vec::new);
    }
    for s in [
        &mut h.container_id_file,
        &mut h.volume_driver,
        &mut h.cgroup,
        &mut h.pid_mode,
        &mut h.uts_mode,
        &mut h.userns_mode,
        &mut h.cgroup_parent,
        &mut h.cpuset_cpus,
        &mut h.cpuset_mems,
    ] {
        s.get_or_insert_with(String::new);
    }
    for b in [
        &mut h.auto_remove,
        &mut h.privileged,
        &mut h.publish_all_ports,
        &mut h.readonly_rootfs,
    ] {
        b.get_or_insert(false);
    }
    for n in [
        &mut h.cpu_shares,
        &mut h.memory,
        &mut h.memory_reservation,
        &mut h.nano_cpus,
        &mut h.cpu_period,
        &mut h.cpu_quota,
        &mut h.cpu_realtime_period,
        &mut h.cpu_realtime_runtime,
        &mut h.cpu_count,
        &mut h.cpu_percent,
        &mut h.io_maximum_iops,
        &mut h.io_maximum_bandwidth,
    ] {
        n.get_or_insert(0);
    }
    h.blkio_weight.get_or_insert(0);
    h.oom_score_adj.get_or_insert(0);
    h.blkio_weight_device.get_or_insert_with(Vec::new);
    h.blkio_device_read_bps.get_or_insert_with(Vec::new);
    h.blkio_device_write_bps.get_or_insert_with(Vec::new);
    h.blkio_device_read_iops.get_or_insert_with(Vec::new);
    h.blkio_device_write_iops.get_or_insert_with(Vec::new);
    h.devices.get_or_insert_with(Vec::new);
    h.ulimits.get_or_insert_with(Vec::new);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_request_reads_like_dockerd() {
        let h = with_defaults(&HostConfig::default());
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(
            v["LogConfig"],
            serde_json::json!({"Type": "json-file", "Config": {}})
        );
        assert_eq!(v["NetworkMode"], "bridge");
        assert_eq!(
            v["RestartPolicy"],
            serde_json::json!({"Name": "no", "MaximumRetryCount": 0})
        );
        assert_eq!(v["Runtime"], "runc");
        assert_eq!(v["ShmSize"], DEFAULT_SHM_SIZE);
    }

    #[test]
    fn what_the_user_set_stays() {
        let mut h = HostConfig {
            network_mode: Some("host".into()),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some([("max-file".to_string(), "3".to_string())].into()),
            }),
            ..Default::default()
        };
        h = with_defaults(&h);
        assert_eq!(h.network_mode.as_deref(), Some("host"));
        assert_eq!(h.log_config.unwrap().config.unwrap()["max-file"], "3");
    }

    #[test]
    fn unknown_log_drivers_are_refused() {
        let h = HostConfig {
            log_config: Some(HostConfigLogConfig {
                typ: Some("asdf".into()),
                config: None,
            }),
            ..Default::default()
        };
        let e = validate_log_config(&h).unwrap_err().to_string();
        assert!(e.contains("no log driver named 'asdf'"), "{e}");
        assert!(validate_log_config(&HostConfig::default()).is_ok());
    }
}
