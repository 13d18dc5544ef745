//! `POST /build` as Docker's classic builder speaks it (a tar context, plain or gzip,
//! unpacked as it streams in; `{"stream": …}`, `{"aux": {"ID": …}}` and `{"errorDetail": …}`
//! lines back) and `POST /build/prune`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::images::{engine_error_line, error_line, multi};
use super::{body_reader, ok_json, ApiError, ApiResult, State};
use crate::docker::platform::Platform;
use crate::engine::build::mirror::LocalContext;
use crate::engine::build::{BuildEvent, BuildOptions, Context, Progress};
use crate::engine::Error;

/// The header wharf's client sends `--secret` values in: JSON `{id: base64}`.
pub const SECRETS_HEADER: &str = "x-wharf-build-secrets";

/// The header wharf's client on this machine names its context directory in (base64 of a
/// JSON [`LocalContext`]); the body then carries only the Dockerfile.
pub const CONTEXT_HEADER: &str = "x-wharf-context";

fn local_context(headers: &HeaderMap) -> Result<Option<LocalContext>, Error> {
    let Some(v) = headers.get(CONTEXT_HEADER) else {
        return Ok(None);
    };
    let bad = |e: String| Error::invalid(format!("{CONTEXT_HEADER}: {e}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.as_bytes())
        .map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&raw)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

/// Unpack the request's context: the whole tar, or for a local directory its mirror brought
/// up to date plus the Dockerfile from the body.
async fn receive_context(
    engine: &State,
    local: Option<LocalContext>,
    body: Body,
) -> Result<Context, Error> {
    let dir = engine
        .paths
        .tmp()
        .join(format!("build-{}", &crate::util::ids::random_id()[..12]));
    let mirror = match &local {
        Some(l) => Some(engine.build_contexts.current(l).await?.0),
        None => None,
    };
    let mut reader = body_reader(body);
    tokio::task::spawn_blocking(move || {
        let context = match mirror {
            Some(m) => Context::mirrored(m, &mut reader, dir),
            None => Context::unpack(&mut reader, dir),
        };
        // The docker CLI pads the context after the archive's end blocks; read that too
        // (bounded), or the connection closes under its last writes (a broken pipe).
        let _ = std::io::copy(
            &mut std::io::Read::take(&mut reader, CONTEXT_TRAILER_LIMIT),
            &mut std::io::sink(),
        );
        context
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
}

fn one(raw: &Option<String>, key: &str) -> Option<String> {
    multi(raw, key).into_iter().next().filter(|v| !v.is_empty())
}

fn flag(raw: &Option<String>, key: &str) -> bool {
    one(raw, key).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True"))
}

/// A JSON object of strings (`buildargs`, `labels`); null values mean "unset".
fn string_map(raw: &Option<String>, key: &str) -> Result<BTreeMap<String, String>, Error> {
    let Some(v) = one(raw, key) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(&v)
        .map_err(|e| Error::invalid(format!("{key}: expected a JSON object of strings: {e}")))?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

fn options(raw: &Option<String>, headers: &HeaderMap) -> Result<BuildOptions, Error> {
    if one(raw, "remote").is_some() {
        return Err(Error::invalid(
            "remote build contexts (remote=) are not supported: send the context as a tar",
        ));
    }
    let shm_size = match one(raw, "shmsize") {
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| Error::invalid(format!("shmsize: {s:?} is not a number")))?,
        ),
        None => None,
    };
    let mut secrets = BTreeMap::new();
    if let Some(v) = headers.get(SECRETS_HEADER) {
        let map: BTreeMap<String, String> = v
            .to_str()
            .ok()
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| Error::invalid("X-Wharf-Build-Secrets: expected JSON {id: base64}"))?;
        for (id, b64) in map {
            let data = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::invalid(format!("secret {id}: {e}")))?;
            secrets.insert(id, data);
        }
    }
    let extra_hosts = multi(raw, "extrahosts")
        .iter()
        .flat_map(|v| v.split(',').map(str::trim).map(String::from))
        .filter(|v| !v.is_empty())
        .collect();
    Ok(BuildOptions {
        tags: multi(raw, "t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect(),
        dockerfile: one(raw, "dockerfile").unwrap_or_else(|| "Dockerfile".into()),
        build_args: string_map(raw, "buildargs")?,
        target: one(raw, "target"),
        no_cache: flag(raw, "nocache"),
        cache_from: match one(raw, "cachefrom") {
            Some(v) => serde_json::from_str(&v).map_err(|e| {
                Error::invalid(format!("cachefrom: expected a JSON array of images: {e}"))
            })?,
            None => Vec::new(),
        },
        pull: flag(raw, "pull"),
        labels: string_map(raw, "labels")?,
        network_mode: one(raw, "networkmode"),
        extra_hosts,
        shm_size,
        secrets,
    })
}

fn line(v: &serde_json::Value) -> Bytes {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// How much a client may send after the context archive's end (tar pads to 10 KiB records).
const CONTEXT_TRAILER_LIMIT: u64 = 1 << 20;

pub async fn build(
    AxState(engine): AxState<State>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let opts = options(&raw, &headers).map_err(ApiError)?;
    if let Some(p) = one(&raw, "platform").filter(|p| !p.is_empty()) {
        let host = Platform::host();
        let wanted = Platform::parse(&p).map_err(|e| ApiError(Error::invalid(e)))?;
        if !wanted.matches(&host.os, &host.architecture, "") {
            return Err(ApiError(Error::invalid(format!(
                "platform {p}: wharf builds for this host's platform ({host}) only"
            ))));
        }
    }
    let quiet = flag(&raw, "q");
    let local = local_context(&headers).map_err(ApiError)?;
    if let Some(l) = &local {
        if !l.visible() {
            // The client falls back to sending the context as a tar.
            let message = format!(
                "the build context {} is not visible to the daemon",
                l.dir.display()
            );
            return Ok(super::json(
                StatusCode::PRECONDITION_FAILED,
                &serde_json::json!({ "message": message }),
            ));
        }
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let context = match receive_context(&engine, local, body).await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(error_line(&e.to_string())).await;
                return;
            }
        };
        let (ptx, mut prx) = mpsc::channel::<BuildEvent>(256);
        let out = tx.clone();
        let forward = tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    ev = prx.recv() => ev,
                    // The client hung up: dropping `prx` tells the build to stop.
                    _ = out.closed() => return,
                };
                let Some(ev) = ev else { return };
                let l = match ev {
                    BuildEvent::Stream(_) if quiet => continue,
                    BuildEvent::Stream(s) => line(&serde_json::json!({ "stream": s })),
                    BuildEvent::Aux(id) => line(&serde_json::json!({"aux": {"ID": id}})),
                };
                if out.send(l).await.is_err() {
                    return;
                }
            }
        });
        let result = engine.build_image(context, opts, Progress::new(ptx)).await;
        let _ = forward.await;
        match result {
            Ok(id) if quiet => {
                let _ = tx
                    .send(line(&serde_json::json!({ "stream": format!("{id}\n") })))
                    .await;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(engine_error_line(&e)).await;
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::stream_body_ok(rx))
        .unwrap())
}

pub async fn prune(AxState(engine): AxState<State>, RawQuery(raw): RawQuery) -> ApiResult {
    let filters = crate::engine::container::view::parse_filters(one(&raw, "filters").as_deref())?;
    let mut older_than = None;
    for (k, vals) in &filters {
        match k.as_str() {
            "until" => {
                for v in vals {
                    let t = crate::engine::container::logs::parse_time(v).ok_or_else(|| {
                        ApiError(Error::invalid(format!(
                            "filter until={v}: not a time or duration"
                        )))
                    })?;
                    older_than = Some((chrono::Utc::now().timestamp() as f64 - t).max(0.0) as i64);
                }
            }
            other => {
                return Err(ApiError(Error::invalid(format!(
                    "invalid filter '{other}' (build cache prune takes until)"
                ))))
            }
        }
    }
    let all = flag(&raw, "all");
    let e = engine.clone();
    let pruned = tokio::task::spawn_blocking(move || e.build_cache_prune(all, older_than))
        .await
        .map_err(|e| ApiError(Error::internal(e.to_string())))??;
    ok_json(&serde_json::json!({
        "CachesDeleted": pruned.entries,
        "SpaceReclaimed": pruned.reclaimed,
    }))
}
