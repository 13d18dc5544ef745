//! `wharf stats`, `wharf update` and `wharf diff`: a container's resource use, its limits
//! changed in place, and its filesystem changes, with Docker's flags and output.

use std::collections::{BTreeMap, HashMap};

use clap::Args;

use super::run::{cpus_flag, restart_flag};
use crate::api::client::Client;
use crate::cli::output::{print_table, Row, Table};
use crate::cli::{CliResult, Exit};
use crate::util::bytesize::{human_size, parse_bytes};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS quota
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

const STATS_COLUMNS: &[(&str, &str)] = &[
    ("CONTAINER ID", "ID"),
    ("NAME", "Name"),
    ("CPU %", "CPUPerc"),
    ("MEM USAGE / LIMIT", "MemUsage"),
    ("MEM %", "MemPerc"),
    ("NET I/O", "NetIO"),
    ("BLOCK I/O", "BlockIO"),
    ("PIDS", "PIDs"),
];

/// Binary sizes as `docker stats` writes memory (`1.5MiB`, `7.7GiB`): 4 significant digits.
fn binary_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let digits = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    let trimmed = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{trimmed}{}", units[i])
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// One table row from a stats JSON document (Docker's CLI arithmetic).
pub fn stats_row(v: &serde_json::Value, no_trunc: bool) -> Row {
    let cpu = &v["cpu_stats"];
    let pre = &v["precpu_stats"];
    let cpu_delta =
        u(&cpu["cpu_usage"]["total_usage"]) as f64 - u(&pre["cpu_usage"]["total_usage"]) as f64;
    let sys_delta = u(&cpu["system_cpu_usage"]) as f64 - u(&pre["system_cpu_usage"]) as f64;
    let cpus = u(&cpu["online_cpus"]).max(1) as f64;
    let cpu_perc = if cpu_delta > 0.0 && sys_delta > 0.0 {
        cpu_delta / sys_delta * cpus * 100.0
    } else {
        0.0
    };
    let mem = &v["memory_stats"];
    // Docker subtracts the page cache that can be reclaimed.
    let inactive = mem["stats"]["inactive_file"]
        .as_u64()
        .or(mem["stats"]["total_inactive_file"].as_u64())
        .unwrap_or(0);
    let usage = u(&mem["usage"]).saturating_sub(inactive);
    let limit = u(&mem["limit"]);
    let mem_perc = if limit > 0 {
        usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0i64, 0i64);
    if let Some(nets) = v["networks"].as_object() {
        for n in nets.values() {
            rx += u(&n["rx_bytes"]) as i64;
            tx += u(&n["tx_bytes"]) as i64;
        }
    }
    let (mut read, mut write) = (0i64, 0i64);
    for e in v["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += u(&e["value"]) as i64,
            Some("write") => write += u(&e["value"]) as i64,
            _ => {}
        }
    }
    let id = v["id"].as_str().unwrap_or_default();
    let id = if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    };
    let name = v["name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/');
    let mut r = BTreeMap::new();
    r.insert("ID".into(), id.to_string());
    r.insert("Container".into(), id.to_string());
    r.insert("Name".into(), name.to_string());
    r.insert("CPUPerc".into(), format!("{cpu_perc:.2}%"));
    r.insert(
        "MemUsage".into(),
        format!("{} / {}", binary_size(usage), binary_size(limit)),
    );
    r.insert("MemPerc".into(), format!("{mem_perc:.2}%"));
    r.insert(
        "NetIO".into(),
        format!("{} / {}", human_size(rx), human_size(tx)),
    );
    r.insert(
        "BlockIO".into(),
        format!("{} / {}", human_size(read), human_size(write)),
    );
    r.insert("PIDs".into(), u(&v["pids_stats"]["current"]).to_string());
    r
}

async fn stats_rows(client: &Client, ids: &[String], no_trunc: bool) -> CliResult<Vec<Row>> {
    let calls = ids.iter().map(|id| async move {
        client
            .get_json::<serde_json::Value>(&format!("/containers/{id}/stats?stream=false"))
            .await
    });
    let mut rows = Vec::new();
    for r in futures_util::future::join_all(calls).await {
        rows.push(stats_row(&r?, no_trunc));
    }
    Ok(rows)
}

pub async fn stats(client: &Client, a: StatsArgs) -> CliResult {
    let ids: Vec<String> = if a.containers.is_empty() {
        client
            .list_containers(a.all, &HashMap::new())
            .await?
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    } else {
        a.containers.clone()
    };
    let format = a.format.as_deref();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let rows = stats_rows(client, &ids, a.no_trunc).await?;
        if !a.no_stream {
            // Like docker: redraw in place.
            print!("\x1b[2J\x1b[H");
        }
        print_table(
            &Table {
                columns: STATS_COLUMNS,
                rows,
            },
            format,
        )?;
        if a.no_stream {
            return Ok(());
        }
    }
}

fn size_flag(flag: &str, v: &Option<String>) -> CliResult<Option<i64>> {
    match v.as_deref() {
        None => Ok(None),
        Some("-1") => Ok(Some(-1)),
        Some(s) => parse_bytes(s).map(Some).map_err(|e| {
            Exit::msg(
                125,
                format!("wharf: invalid argument \"{s}\" for \"{flag}\" flag: {e}"),
            )
        }),
    }
}

pub async fn update(client: &Client, a: UpdateArgs) -> CliResult {
    let body = bollard_stubs::models::ContainerUpdateBody {
        memory: size_flag("-m, --memory", &a.memory)?,
        memory_reservation: size_flag("--memory-reservation", &a.memory_reservation)?,
        memory_swap: size_flag("--memory-swap", &a.memory_swap)?,
        nano_cpus: a.cpus.as_deref().map(cpus_flag).transpose()?,
        cpu_shares: a.cpu_shares,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids_limit: a.pids_limit,
        restart_policy: a.restart.as_deref().map(restart_flag).transpose()?,
        ..Default::default()
    };
    let mut failed = false;
    for c in &a.containers {
        match client
            .post_json::<serde_json::Value, _>(&format!("/containers/{c}/update"), Some(&body))
            .await
        {
            Ok(_) => println!("{c}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Exit::code(1));
    }
    Ok(())
}

pub async fn diff(client: &Client, a: DiffArgs) -> CliResult {
    let changes: Vec<serde_json::Value> = client
        .get_json(&format!("/containers/{}/changes", a.container))
        .await?;
    for c in changes {
        let kind = match c["Kind"].as_u64() {
            Some(0) => "C",
            Some(1) => "A",
            _ => "D",
        };
        println!("{kind} {}", c["Path"].as_str().unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker_stats() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1536 * 1024), "1.5MiB");
        assert_eq!(binary_size(8 * 1024 * 1024 * 1024), "8GiB");
    }

    #[test]
    fn a_row_from_stats_json() {
        let v = serde_json::json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 2 * 1024 * 1024, "limit": 8 * 1024 * 1024, "stats": {"inactive_file": 0}},
            "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 10}},
            "pids_stats": {"current": 3},
        });
        let r = stats_row(&v, false);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "40.00%");
        assert_eq!(r["MemUsage"], "2MiB / 8MiB");
        assert_eq!(r["MemPerc"], "25.00%");
        assert_eq!(r["NetIO"], "1kB / 10B");
        assert_eq!(r["PIDs"], "3");
    }
}
