//! Resource usage of a container in the shape of Docker's `/containers/{id}/stats`: CPU,
//! memory, pids, network and block I/O. Read from the container's cgroup where the controller
//! holds it (v2, or v1 when a limit created the v1 group), else summed over its processes from
//! `/proc` (a hybrid host keeps limit-less containers out of the v1 controllers: see
//! `runtime::cgroups`). Network counters come from the container's namespace
//! (`/proc/<pid>/net/dev`).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::ContainerRecord;
use crate::engine::runtime::cgroups::{Cgroup, Layout};

/// Clock ticks per second of `/proc/*/stat` times (Linux's USER_HZ).
const USER_HZ: u64 = 100;

/// One sample; `None` fields read as zero (a container that is not running).
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub read: String,
    /// Container CPU time, ns: total, user, kernel.
    pub cpu_total: u64,
    pub cpu_user: u64,
    pub cpu_kernel: u64,
    /// Host CPU time of all CPUs, ns (`system_cpu_usage`).
    pub system_cpu: u64,
    pub online_cpus: u64,
    pub memory_usage: u64,
    pub memory_limit: u64,
    pub memory_stats: HashMap<String, u64>,
    pub pids: u64,
    pub pids_limit: Option<u64>,
    /// Interface → (rx bytes, rx packets, rx errors, rx dropped, tx ...).
    pub networks: Vec<(String, [u64; 8])>,
    /// (major, minor, op, bytes) of block I/O.
    pub blkio: Vec<(u64, u64, &'static str, u64)>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `key value` lines (memory.stat, cpu.stat) as a map.
fn kv(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Host CPU time of all CPUs in ns, and the number of online CPUs, from `/proc/stat`.
fn system_cpu() -> (u64, u64) {
    let stat = read("/proc/stat");
    let mut total = 0;
    let mut cpus = 0;
    for l in stat.lines() {
        if let Some(rest) = l.strip_prefix("cpu ") {
            total = rest
                .split_whitespace()
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
                * (1_000_000_000 / USER_HZ);
        } else if l.starts_with("cpu") {
            cpus += 1;
        }
    }
    (total, cpus.max(1))
}

fn host_memory() -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// A process's user and system CPU time in ns (`/proc/<pid>/stat` fields 14 and 15).
fn proc_cpu(pid: i32) -> (u64, u64) {
    let stat = read(&format!("/proc/{pid}/stat"));
    // The command name may hold spaces: fields start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ns = 1_000_000_000 / USER_HZ;
    (tick(11) * ns, tick(12) * ns)
}

fn proc_rss(pid: i32) -> u64 {
    let statm = read(&format!("/proc/{pid}/statm"));
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// `/proc/<pid>/net/dev` of the container's namespace, without `lo`.
fn networks(pid: i32) -> Vec<(String, [u64; 8])> {
    read(&format!("/proc/{pid}/net/dev"))
        .lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() >= 12).then(|| {
                (
                    name.to_string(),
                    [v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]],
                )
            })
        })
        .collect()
}

/// Block I/O bytes by device: v2 `io.stat` (`8:0 rbytes=.. wbytes=..`) or v1
/// `blkio.throttle.io_service_bytes` (`8:0 Read 123`).
fn blkio(cg: &Cgroup) -> Vec<(u64, u64, &'static str, u64)> {
    let dev = |d: &str| -> Option<(u64, u64)> {
        let (a, b) = d.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    let mut out = Vec::new();
    match cg.layout() {
        Layout::V2 => {
            for l in cg.read("", "io.stat").unwrap_or_default().lines() {
                let mut it = l.split_whitespace();
                let Some((maj, min)) = it.next().and_then(dev) else {
                    continue;
                };
                for f in it {
                    match f.split_once('=') {
                        Some(("rbytes", v)) => out.push((maj, min, "read", v.parse().unwrap_or(0))),
                        Some(("wbytes", v)) => {
                            out.push((maj, min, "write", v.parse().unwrap_or(0)))
                        }
                        _ => {}
                    }
                }
            }
        }
        Layout::V1 => {
            let text = cg
                .read("blkio", "blkio.throttle.io_service_bytes")
                .unwrap_or_default();
            for l in text.lines() {
                let f: Vec<&str> = l.split_whitespace().collect();
                if let [d, op, v] = f[..] {
                    let op = match op {
                        "Read" => "read",
                        "Write" => "write",
                        _ => continue,
                    };
                    if let Some((maj, min)) = dev(d) {
                        out.push((maj, min, op, v.parse().unwrap_or(0)));
                    }
                }
            }
        }
    }
    out
}

/// Read a sample of a container (zeroes when it is not running).
pub fn sample(rec: &ContainerRecord) -> Sample {
    let (system_cpu, online_cpus) = system_cpu();
    let mut s = Sample {
        read: crate::engine::now_rfc3339(),
        system_cpu,
        online_cpus,
        ..Default::default()
    };
    if !rec.state.is_running() {
        s.read = "0001-01-01T00:00:00Z".into();
        return s;
    }
    let Some(cg) = Cgroup::detect(&format!("wharf/{}", rec.id)) else {
        return s;
    };
    let pids = cg.pids();
    s.pids = pids.len() as u64;
    let v2 = cg.layout() == Layout::V2;
    // CPU: the cgroup's counters when the controller has them.
    let cpu = if v2 {
        cg.read("", "cpu.stat").ok().map(|t| {
            let m = kv(&t);
            let us = |k: &str| m.get(k).copied().unwrap_or(0) * 1000;
            (us("usage_usec"), us("user_usec"), us("system_usec"))
        })
    } else {
        cg.read("cpuacct", "cpuacct.usage").ok().map(|t| {
            let m = kv(&cg.read("cpuacct", "cpuacct.stat").unwrap_or_default());
            let ns = 1_000_000_000 / USER_HZ;
            let tick = |k: &str| m.get(k).copied().unwrap_or(0) * ns;
            (t.parse().unwrap_or(0), tick("user"), tick("system"))
        })
    };
    (s.cpu_total, s.cpu_user, s.cpu_kernel) = cpu.unwrap_or_else(|| {
        let (u, k) = pids
            .iter()
            .map(|p| proc_cpu(*p))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        (u + k, u, k)
    });
    // Memory.
    let limit_of = |v: String| v.parse::<u64>().ok().filter(|l| *l < (1 << 62));
    let mem = if v2 {
        cg.read("", "memory.current").ok().map(|u| {
            let limit = cg.read("", "memory.max").ok().and_then(limit_of);
            (
                u.parse().unwrap_or(0),
                limit,
                cg.read("", "memory.stat").unwrap_or_default(),
            )
        })
    } else {
        cg.read("memory", "memory.usage_in_bytes").ok().map(|u| {
            let limit = cg
                .read("memory", "memory.limit_in_bytes")
                .ok()
                .and_then(limit_of);
            (
                u.parse().unwrap_or(0),
                limit,
                cg.read("memory", "memory.stat").unwrap_or_default(),
            )
        })
    };
    match mem {
        Some((usage, limit, stat)) => {
            s.memory_usage = usage;
            s.memory_limit = limit.unwrap_or_else(host_memory);
            s.memory_stats = kv(&stat);
        }
        None => {
            s.memory_usage = pids.iter().map(|p| proc_rss(*p)).sum();
            s.memory_limit = rec
                .host_config
                .memory
                .filter(|m| *m > 0)
                .map(|m| m as u64)
                .unwrap_or_else(host_memory);
        }
    }
    let pids_max = if v2 {
        cg.read("", "pids.max")
    } else {
        cg.read("pids", "pids.max")
    };
    s.pids_limit = pids_max.ok().and_then(|v| v.parse().ok());
    if let Some(pid) = pids
        .first()
        .copied()
        .or((rec.state.pid > 0).then_some(rec.state.pid))
    {
        s.networks = networks(pid);
    }
    s.blkio = blkio(&cg);
    s
}

fn cpu_json(s: &Sample) -> Value {
    json!({
        "cpu_usage": {
            "total_usage": s.cpu_total,
            "usage_in_usermode": s.cpu_user,
            "usage_in_kernelmode": s.cpu_kernel,
        },
        "system_cpu_usage": s.system_cpu,
        "online_cpus": s.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

/// Docker's stats JSON of `now`, with `pre` as the previous sample (`precpu_stats`).
pub fn to_json(rec: &ContainerRecord, now: &Sample, pre: Option<&Sample>) -> Value {
    let zero = Sample::default();
    let pre = pre.unwrap_or(&zero);
    let networks: serde_json::Map<String, Value> = now
        .networks
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                json!({
                    "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                    "tx_bytes": v[4], "tx_packets": v[5], "tx_errors": v[6], "tx_dropped": v[7],
                }),
            )
        })
        .collect();
    let blkio: Vec<Value> = now
        .blkio
        .iter()
        .map(|(maj, min, op, v)| json!({"major": maj, "minor": min, "op": op, "value": v}))
        .collect();
    let mut v = json!({
        "name": format!("/{}", rec.name),
        "id": rec.id,
        "read": now.read,
        "preread": if pre.read.is_empty() { "0001-01-01T00:00:00Z" } else { &pre.read },
        "pids_stats": {"current": now.pids},
        "blkio_stats": {
            "io_service_bytes_recursive": blkio,
            "io_serviced_recursive": null, "io_queue_recursive": null,
            "io_service_time_recursive": null, "io_wait_time_recursive": null,
            "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(now),
        "precpu_stats": cpu_json(pre),
        "memory_stats": {
            "usage": now.memory_usage,
            "stats": now.memory_stats,
            "limit": now.memory_limit,
        },
    });
    if let Some(l) = now.pids_limit {
        v["pids_stats"]["limit"] = json!(l);
    }
    if rec.state.is_running() {
        v["networks"] = Value::Object(networks);
    }
    v
}

/// The last sample of each container, so that a one-off `stats` (`stream=false`) reports CPU
/// use since the previous request instead of waiting a second for a second sample.
#[derive(Default)]
pub struct LastSamples(std::sync::Mutex<HashMap<String, Sample>>);

impl LastSamples {
    /// Record `now` for `id`; returns the sample it replaces.
    pub fn swap(&self, id: &str, now: &Sample) -> Option<Sample> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(id.to_string(), now.clone())
    }

    pub fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_gives_cpu_time_and_cpus() {
        let (total, cpus) = system_cpu();
        assert!(total > 0 && cpus >= 1);
        let (user, kernel) = proc_cpu(std::process::id() as i32);
        assert!(user + kernel < total);
        assert!(proc_rss(std::process::id() as i32) > 0);
    }

    #[test]
    fn key_value_files_parse() {
        let m = kv("cache 12\nrss 34\ninactive_file 5\n");
        assert_eq!(m["rss"], 34);
        assert_eq!(m.len(), 3);
    }
}
