//! `/containers/...` routes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{
    body_reader, flag, json, no_content, ok_json, parse_json, stream_body, stream_body_ok,
    ApiError, ApiResult, Query, State,
};
use crate::api::io::ChannelWriter;
use crate::api::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerWaitExitError, ContainerWaitResponse,
};
use crate::docker::platform::Platform;
use crate::engine::container::lifecycle::WaitCondition;
use crate::engine::container::logs::{parse_time, LogOptions};
use crate::engine::container::CreateRequest;
use crate::engine::filters::{self, parse as parse_filters};
use crate::engine::Error;

/// What dockerd refuses at create (its `verifyContainerSettings`), with its words: a
/// relative working directory, healthcheck durations under a millisecond, negative retries.
fn verify_settings(body: &ContainerCreateBody) -> Result<(), Error> {
    if let Some(wd) = body.working_dir.as_deref().filter(|w| !w.is_empty()) {
        if !wd.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{wd}' is invalid, it needs to be an absolute path"
            )));
        }
    }
    let Some(h) = &body.healthcheck else {
        return Ok(());
    };
    const MINIMUM_NS: i64 = 1_000_000;
    for (name, v) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
    ] {
        if v.is_some_and(|ns| ns != 0 && ns < MINIMUM_NS) {
            return Err(Error::invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if h.retries.is_some_and(|r| r < 0) {
        return Err(Error::invalid("Retries in Healthcheck cannot be negative"));
    }
    Ok(())
}

pub async fn create(AxState(engine): AxState<State>, q: Query, body: Bytes) -> ApiResult {
    let body: ContainerCreateBody = parse_json(&body)?;
    verify_settings(&body)?;
    let name = q.get("name").cloned();
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Some(Platform::parse(p).map_err(|e| ApiError(Error::invalid(e)))?),
        None => None,
    };
    // Networks must exist (Docker answers 404 at create).
    let host = body.host_config.clone().unwrap_or_default();
    use crate::engine::network::NetworkMode;
    if NetworkMode::parse(host.network_mode.as_deref()) == NetworkMode::Networks {
        let mut names = vec![NetworkMode::primary(host.network_mode.as_deref())];
        if let Some(eps) = body
            .networking_config
            .as_ref()
            .and_then(|n| n.endpoints_config.as_ref())
        {
            names.extend(eps.keys().cloned());
        }
        for n in names {
            if n != "default" {
                engine.find_network(&n).await?;
            }
        }
    } else if let NetworkMode::Container(other) = NetworkMode::parse(host.network_mode.as_deref()) {
        engine.containers.resolve(&other)?;
    }
    let e = engine.clone();
    let (id, warnings) = tokio::task::spawn_blocking(move || {
        e.create_container(CreateRequest {
            name,
            body,
            platform,
        })
    })
    .await
    .map_err(|e| ApiError(Error::internal(e)))??;
    Ok(json(
        StatusCode::CREATED,
        &ContainerCreateResponse { id, warnings },
    ))
}

pub async fn list(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let all = flag(&q, "all") || limit.is_some();
    let mut list = engine.list_containers(all, limit, &filters)?;
    if flag(&q, "size") {
        fill_sizes(&engine, &mut list).await;
    }
    ok_json(&list)
}

/// Each container's writable layer (`SizeRw`) and it over its image (`SizeRootFs`), as
/// dockerd reports them with `size=1` and in `system df`; measured off the async workers.
pub async fn fill_sizes(engine: &State, list: &mut [bollard_stubs::models::ContainerSummary]) {
    let ids: Vec<String> = list.iter().filter_map(|c| c.id.clone()).collect();
    let e = engine.clone();
    let sizes: HashMap<String, (i64, i64)> = tokio::task::spawn_blocking(move || {
        ids.into_iter()
            .filter_map(|id| {
                let rec = e.containers.get(&id)?;
                Some((id, e.container_sizes(&rec)))
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    for c in list {
        if let Some((rw, root_fs)) = c.id.as_ref().and_then(|id| sizes.get(id)) {
            c.size_rw = Some(*rw);
            c.size_root_fs = Some(*root_fs);
        }
    }
}

pub async fn inspect(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    let mut info = engine.inspect_container(&id)?;
    if flag(&q, "size") {
        // The writable layer, and it over the image's layers, as dockerd reports them.
        let rec = engine.containers.resolve(&id)?;
        let e = engine.clone();
        let (rw, root_fs) = tokio::task::spawn_blocking(move || e.container_sizes(&rec))
            .await
            .map_err(|e| ApiError(Error::internal(e)))?;
        info.size_rw = Some(rw);
        info.size_root_fs = Some(root_fs);
    }
    let mut v = serde_json::to_value(info).map_err(|e| ApiError(Error::internal(e)))?;
    // dockerd writes the unset endpoint settings as null; clients index them.
    if let Some(nets) = v
        .pointer_mut("/NetworkSettings/Networks")
        .and_then(|n| n.as_object_mut())
    {
        for ep in nets.values_mut().filter_map(|e| e.as_object_mut()) {
            for key in ["IPAMConfig", "Links", "Aliases", "DriverOpts", "DNSNames"] {
                ep.entry(key).or_insert(serde_json::Value::Null);
            }
        }
    }
    ok_json(&v)
}

pub async fn start(AxState(engine): AxState<State>, Path(id): Path<String>) -> ApiResult {
    engine.start_container(&id).await?;
    no_content()
}

fn timeout(q: &HashMap<String, String>) -> Option<i64> {
    q.get("t").or(q.get("timeout")).and_then(|t| t.parse().ok())
}

pub async fn stop(AxState(engine): AxState<State>, Path(id): Path<String>, q: Query) -> ApiResult {
    engine
        .stop_container(&id, timeout(&q), q.get("signal").map(String::as_str))
        .await?;
    no_content()
}

pub async fn restart(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    engine
        .restart_container(&id, timeout(&q), q.get("signal").map(String::as_str))
        .await?;
    no_content()
}

pub async fn kill(AxState(engine): AxState<State>, Path(id): Path<String>, q: Query) -> ApiResult {
    engine
        .kill_container(&id, q.get("signal").map(String::as_str))
        .await?;
    no_content()
}

pub async fn wait(AxState(engine): AxState<State>, Path(id): Path<String>, q: Query) -> ApiResult {
    let condition = WaitCondition::parse(q.get("condition").map(String::as_str))?;
    // Resolve now so an unknown container fails before the 200 header goes out.
    let rec = engine.containers.resolve(&id)?;
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let bus = engine.events.subscribe();
    tokio::spawn(async move {
        let body = match engine.wait_container_from(&rec.id, condition, bus).await {
            Ok((code, err)) => ContainerWaitResponse {
                status_code: code,
                error: err.map(|m| ContainerWaitExitError { message: Some(m) }),
            },
            Err(e) => ContainerWaitResponse {
                status_code: -1,
                error: Some(ContainerWaitExitError {
                    message: Some(e.to_string()),
                }),
            },
        };
        let _ = tx
            .send(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()))
            .await;
    });
    // The status line is sent at once (Docker clients wait for it before starting).
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body_ok(rx))
        .unwrap())
}

pub async fn pause(AxState(engine): AxState<State>, Path(id): Path<String>) -> ApiResult {
    engine.pause_container(&id, true).await?;
    no_content()
}

pub async fn unpause(AxState(engine): AxState<State>, Path(id): Path<String>) -> ApiResult {
    engine.pause_container(&id, false).await?;
    no_content()
}

pub async fn rename(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    engine.rename_container(&id, q.get("name").map(String::as_str).unwrap_or_default())?;
    no_content()
}

pub async fn resize(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    let h = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(24);
    let w = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(80);
    engine.resize_container(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn remove(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    if flag(&q, "link") {
        engine.remove_link(&id)?;
        return no_content();
    }
    engine
        .remove_container(&id, flag(&q, "force"), flag(&q, "v"))
        .await?;
    no_content()
}

/// `DELETE /containers/parent/alias?link=1`: a link's name has a slash in it.
pub async fn remove_named_link(
    AxState(engine): AxState<State>,
    Path((parent, alias)): Path<(String, String)>,
    q: Query,
) -> ApiResult {
    if !flag(&q, "link") {
        return Err(ApiError(Error::not_found(format!(
            "No such container: {parent}/{alias}"
        ))));
    }
    engine.remove_link(&format!("{parent}/{alias}"))?;
    no_content()
}

pub async fn prune(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for rec in engine.containers.all() {
        if rec.state.is_running() {
            continue;
        }
        let labels = rec.labels();
        if !filters::labels_match(&filters, |k| labels.get(k).map(String::as_str)) {
            continue;
        }
        // What its writable layer held is what the removal gives back.
        let size = crate::util::fsutil::dir_size(&engine.containers.dir(&rec.id).join("upper"));
        if engine.remove_container(&rec.id, false, false).await.is_ok() {
            deleted.push(rec.id);
            reclaimed += size;
        }
    }
    ok_json(&serde_json::json!({"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}))
}

pub async fn logs(AxState(engine): AxState<State>, Path(id): Path<String>, q: Query) -> ApiResult {
    let opts = LogOptions {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        since: q.get("since").and_then(|s| parse_time(s)),
        until: q.get("until").and_then(|s| parse_time(s)),
        timestamps: flag(&q, "timestamps"),
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        follow: flag(&q, "follow"),
    };
    if !opts.stdout && !opts.stderr {
        return Err(ApiError(Error::invalid(
            "Bad parameters: you must choose at least one stream",
        )));
    }
    let (tty, rx) = engine.container_logs(&id, opts)?;
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", ctype)
        .body(stream_body_ok(rx))
        .unwrap())
}

pub async fn changes(AxState(engine): AxState<State>, Path(id): Path<String>) -> ApiResult {
    let changes = tokio::task::spawn_blocking(move || engine.container_changes(&id))
        .await
        .map_err(|e| ApiError(Error::internal(e)))??;
    ok_json(&changes)
}

pub async fn update(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body: bollard_stubs::models::ContainerUpdateBody = parse_json(&body)?;
    let warnings = engine.update_container(&id, body).await?;
    ok_json(&serde_json::json!({ "Warnings": warnings }))
}

pub async fn top(AxState(engine): AxState<State>, Path(id): Path<String>, q: Query) -> ApiResult {
    let ps_args = q.get("ps_args").cloned().filter(|a| !a.trim().is_empty());
    let (titles, processes) =
        tokio::task::spawn_blocking(move || engine.top_container(&id, ps_args.as_deref()))
            .await
            .map_err(|e| ApiError(Error::internal(e)))??;
    ok_json(&serde_json::json!({"Titles": titles, "Processes": processes}))
}

pub async fn export(AxState(engine): AxState<State>, Path(id): Path<String>) -> ApiResult {
    engine.containers.resolve(&id)?;
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter::new(tx);
        if let Err(e) = engine.export_container(&id, w) {
            tracing::warn!("export of {id} failed: {e}");
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .unwrap())
}

fn stat_header(engine: &State, id: &str, path: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let stat = engine.archive_stat(id, path)?;
    Ok(base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&stat).unwrap_or_default()))
}

pub async fn archive_head(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    let path = q.get("path").cloned().unwrap_or_default();
    let e = engine.clone();
    let header = tokio::task::spawn_blocking(move || stat_header(&e, &id, &path))
        .await
        .map_err(|e| ApiError(Error::internal(e)))??;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("X-Docker-Container-Path-Stat", header)
        .body(Body::empty())
        .unwrap())
}

pub async fn archive_get(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    let path = q.get("path").cloned().unwrap_or_default();
    let (e, i, p) = (engine.clone(), id.clone(), path.clone());
    let header = tokio::task::spawn_blocking(move || stat_header(&e, &i, &p))
        .await
        .map_err(|e| ApiError(Error::internal(e)))??;
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter::new(tx);
        let _ = engine.archive_get(&id, &path, w);
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .header("X-Docker-Container-Path-Stat", header)
        .body(stream_body(rx))
        .unwrap())
}

pub async fn archive_put(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
    _headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let path = q.get("path").cloned().unwrap_or_default();
    let reader = body_reader(body);
    tokio::task::spawn_blocking(move || engine.archive_put(&id, &path, reader))
        .await
        .map_err(|e| ApiError(Error::internal(e)))??;
    Ok(StatusCode::OK.into_response())
}
