//! The grammars of `run`'s flags that are wharf's own to parse (restart, CPUs, durations,
//! sizes, env files, `--mount`), each failing with the docker CLI's "invalid argument" text.

use std::time::Duration;

use crate::api::models::{
    Mount, MountTmpfsOptions, MountTypeEnum, RestartPolicy as ApiRestart, RestartPolicyNameEnum,
};
use crate::cli::{CliResult, Exit};
use crate::engine::supervisor::RestartPolicy;
use crate::util::bytesize::parse_bytes;
use crate::util::duration::parse_duration;

pub(super) fn bad_flag(flag: &str, value: &str, why: impl std::fmt::Display) -> Exit {
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

/// A `--health-*` duration (`30s`, `1m30s`); a negative one is refused as the docker CLI does.
pub(super) fn duration(flag: &str, v: &Option<String>) -> CliResult<Option<Duration>> {
    if v.as_deref().is_some_and(|s| s.trim().starts_with('-')) {
        return Err(Exit::msg(
            125,
            format!("wharf: {flag} cannot be negative\nSee 'wharf run --help'."),
        ));
    }
    v.as_deref()
        .map(|s| parse_duration(s).map_err(|e| bad_flag(flag, s, e)))
        .transpose()
}

/// `--expose 80`, `--expose 8000-8010/udp`: the keys of every port of the range, with
/// the docker CLI's errors (a port past 65535 is not an exposed port).
pub(super) fn expose_ports(e: &str) -> CliResult<Vec<String>> {
    let usage = |msg: String| Exit::msg(125, format!("wharf: {msg}\nSee 'wharf run --help'."));
    if e.contains(':') {
        return Err(usage(format!("invalid port format for --expose: {e}")));
    }
    let (range, proto) = match e.split_once('/') {
        Some((r, p)) if !p.is_empty() => (r, p),
        Some((r, _)) => (r, "tcp"),
        None => (e, "tcp"),
    };
    let bad = |why: String| {
        usage(format!(
            "invalid range format for --expose: {e}, error: {why}"
        ))
    };
    let port = |p: &str| {
        p.parse::<u16>().map_err(|err| {
            let why = match err.kind() {
                std::num::IntErrorKind::PosOverflow => "value out of range",
                _ => "invalid syntax",
            };
            bad(format!("parsing {p:?}: {why}"))
        })
    };
    if range.is_empty() {
        return Err(bad("empty string specified for ports".into()));
    }
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if end < start {
        return Err(bad(format!("invalid range specified for port: {range}")));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `--sysctl KEY=VALUE`, refused unless Docker's allow-list has the key.
pub(super) fn sysctl_flag(s: &str) -> CliResult<(String, String)> {
    let not_allowed = || bad_flag("--sysctl", s, format!("sysctl '{s}' is not allowed"));
    let (k, v) = s.split_once('=').ok_or_else(not_allowed)?;
    if crate::docker::sysctl::is_namespaced(k) {
        Ok((k.to_string(), v.to_string()))
    } else {
        Err(not_allowed())
    }
}

/// A byte size flag (`64m`, `1g`).
pub(super) fn bytes(flag: &str, v: &Option<String>) -> CliResult<Option<i64>> {
    v.as_deref()
        .map(|s| parse_bytes(s).map_err(|e| bad_flag(flag, s, e)))
        .transpose()
}

/// `KEY=VALUE` lines of an env file (comments and blanks skipped; `KEY` alone takes our value).
pub(super) fn read_env_file(path: &std::path::Path) -> CliResult<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Exit::msg(125, format!("wharf: open {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

pub(super) fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

/// `--mount type=...,source=...,target=...` as a typed mount.
pub(super) fn parse_mount(spec: &str) -> CliResult<Mount> {
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
