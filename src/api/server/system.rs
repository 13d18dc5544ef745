//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{ok_json, stream_body_ok, ApiResult, Query, State};
use crate::api::{API_VERSION, MIN_API_VERSION};
use crate::engine::filters::{self, parse as parse_filters};
use crate::engine::supervisor::RunStatus;

pub async fn ping() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("API-Version", API_VERSION)
        .header("Docker-Experimental", "false")
        .header("OSType", "linux")
        .header("Builder-Version", "1")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(Body::from("OK"))
        .unwrap()
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().to_string())
        .unwrap_or_default()
}

pub async fn version() -> ApiResult {
    ok_json(&serde_json::json!({
        "Platform": {"Name": "wharf"},
        "Components": [{"Name": "Engine", "Version": env!("CARGO_PKG_VERSION"), "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": crate::docker::platform::host_arch()}}],
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "n/a (rust)",
        "Os": "linux",
        "Arch": crate::docker::platform::host_arch(),
        "KernelVersion": kernel(),
        "BuildTime": "",
    }))
}

pub async fn info(AxState(engine): AxState<State>) -> ApiResult {
    let all = engine.containers.all();
    let running = all
        .iter()
        .filter(|c| c.state.status == RunStatus::Running)
        .count();
    let paused = all
        .iter()
        .filter(|c| c.state.status == RunStatus::Paused)
        .count();
    let images = engine.images.list()?.len();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let cgroup_version = match crate::engine::runtime::cgroups::detect() {
        Some(crate::engine::runtime::cgroups::Layout::V2) => "2",
        _ => "1",
    };
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().to_string())
        .unwrap_or_default();
    ok_json(&serde_json::json!({
        "ID": "wharf",
        "Containers": all.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": all.len() - running - paused,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "ipvlan", "macvlan", "null"], "Log": ["json-file"]},
        "MemoryLimit": true,
        "SwapLimit": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "NFd": 0,
        "NGoroutines": 0,
        "SystemTime": crate::engine::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "KernelVersion": kernel(),
        "OperatingSystem": "wharf engine on Linux",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem,
        "DockerRootDir": engine.paths.root.display().to_string(),
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        // Clients name the default runtime `runc` (docker-py, compose's `runtime:`).
        "Runtimes": {"runc": {"path": engine.binary.display().to_string()}},
        "DefaultRuntime": "runc",
        "Swarm": super::swarm::info(),
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": [],
    }))
}

fn event_matches(ev: &serde_json::Value, filters: &HashMap<String, Vec<String>>) -> bool {
    let typ = ev["Type"].as_str().unwrap_or_default();
    let action = ev["Action"].as_str().unwrap_or_default();
    let id = ev["Actor"]["ID"].as_str().unwrap_or_default();
    let attrs = &ev["Actor"]["Attributes"];
    let name = attrs["name"].as_str().unwrap_or_default();
    filters::all_match(filters, |k, v| match k {
        "type" => typ == v,
        "event" => action == v || action.split(':').next() == Some(v),
        "container" => (typ == "container") && (id.starts_with(v) || name == v),
        "image" => attrs["image"].as_str() == Some(v) || (typ == "image" && id == v),
        "volume" => typ == "volume" && id == v,
        "network" => typ == "network" && (id == v || name == v),
        "label" => filters::label_matches(v, |k| attrs[k].as_str()),
        _ => true,
    })
}

/// Docker's event JSON, with the legacy top-level fields old clients read.
fn event_json(ev: &crate::api::models::EventMessage) -> serde_json::Value {
    let mut v = serde_json::to_value(ev).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        if ev.typ == Some(crate::api::models::EventMessageTypeEnum::CONTAINER) {
            let id = ev
                .actor
                .as_ref()
                .and_then(|a| a.id.clone())
                .unwrap_or_default();
            let from = ev
                .actor
                .as_ref()
                .and_then(|a| a.attributes.as_ref())
                .and_then(|a| a.get("image").cloned())
                .unwrap_or_default();
            obj.insert(
                "status".into(),
                serde_json::Value::String(ev.action.clone().unwrap_or_default()),
            );
            obj.insert("id".into(), serde_json::Value::String(id));
            obj.insert("from".into(), serde_json::Value::String(from));
        }
    }
    v
}

/// Send `ev` as a JSON line when it passes `filters`; false once the client has gone.
async fn forward(
    tx: &mpsc::Sender<Bytes>,
    filters: &HashMap<String, Vec<String>>,
    ev: &bollard_stubs::models::EventMessage,
) -> bool {
    let v = event_json(ev);
    if !event_matches(&v, filters) {
        return true;
    }
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    tx.send(Bytes::from(line)).await.is_ok()
}

pub async fn events(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let until = q
        .get("until")
        .and_then(|u| crate::engine::container::logs::parse_time(u));
    let since = q
        .get("since")
        .and_then(|s| crate::engine::container::logs::parse_time(s));
    let (past, mut rx) = match since {
        Some(s) => engine.events.subscribe_since((s * 1e9) as i64),
        None => (Vec::new(), engine.events.subscribe()),
    };
    let until_nanos = until.map(|u| (u * 1e9) as i64);
    let (tx, out) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        // The replay of what `since` asks for, up to `until`.
        for ev in past {
            if until_nanos.is_some_and(|u| ev.time_nano.unwrap_or(0) > u) {
                return;
            }
            if !forward(&tx, &filters, &ev).await {
                return;
            }
        }
        let deadline = until.map(|u| {
            let now = chrono::Utc::now().timestamp() as f64;
            tokio::time::Instant::now() + std::time::Duration::from_secs_f64((u - now).max(0.0))
        });
        loop {
            let ev = match deadline {
                Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                    Ok(ev) => ev,
                    Err(_) => return,
                },
                None => tokio::select! {
                    ev = rx.recv() => ev,
                    _ = tx.closed() => return,
                },
            };
            match ev {
                Ok(ev) => {
                    if !forward(&tx, &filters, &ev).await {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body_ok(out))
        .unwrap())
}

/// Per image: the size of its layers that another image also has (dockerd's SharedSize).
fn shared_sizes(engine: &crate::engine::Engine) -> HashMap<String, i64> {
    let images = engine.images.list().unwrap_or_default();
    let mut holders: HashMap<&str, usize> = HashMap::new();
    for i in &images {
        let distinct: std::collections::HashSet<&str> =
            i.layers.iter().map(String::as_str).collect();
        for l in distinct {
            *holders.entry(l).or_default() += 1;
        }
    }
    images
        .iter()
        .map(|i| {
            let distinct: std::collections::HashSet<&str> =
                i.layers.iter().map(String::as_str).collect();
            let shared = distinct
                .into_iter()
                .filter(|l| holders.get(l).copied().unwrap_or(0) > 1)
                .filter_map(|l| engine.images.layer(l).ok())
                .map(|l| l.size as i64)
                .sum();
            (i.id.clone(), shared)
        })
        .collect()
}

pub async fn df(AxState(engine): AxState<State>) -> ApiResult {
    let mut images = super::images::summaries(&engine, false)?;
    let shared = shared_sizes(&engine);
    for i in &mut images {
        i.shared_size = shared.get(&i.id).copied().unwrap_or(0);
    }
    let mut containers = engine.list_containers(true, None, &HashMap::new())?;
    let volumes = super::volumes::volume_list(&engine, true)?;
    super::containers::fill_sizes(&engine, &mut containers).await;
    let e = engine.clone();
    let cache = tokio::task::spawn_blocking(move || e.build_cache_records())
        .await
        .map_err(|e| super::ApiError(crate::engine::Error::internal(e)))??;
    ok_json(&serde_json::json!({
        "LayersSize": images.iter().map(|i| i.size).sum::<i64>(),
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": cache.iter().map(build_cache_entry).collect::<Vec<_>>(),
    }))
}

/// A build cache entry as dockerd's `BuildCache` items (wharf's builder keeps regular step
/// results only; none is in use between builds).
fn build_cache_entry(r: &crate::engine::build::CacheRecord) -> bollard_stubs::models::BuildCache {
    let time = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    bollard_stubs::models::BuildCache {
        id: Some(r.key.chars().take(25).collect()),
        typ: Some(bollard_stubs::models::BuildCacheTypeEnum::REGULAR),
        description: Some(r.description.clone()),
        in_use: Some(false),
        shared: Some(r.shared),
        size: Some(r.size as i64),
        created_at: time(r.created),
        last_used_at: time(r.last_used),
        usage_count: Some(r.uses as i64),
        ..Default::default()
    }
}
