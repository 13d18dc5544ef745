//! `GET /containers/{id}/stats`: one sample (`stream=false`, `one-shot`) or a JSON line per
//! second until the client goes away or the container is removed.

use std::time::Duration;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{flag, ok_json, stream_body_ok, ApiError, ApiResult, Query, State};
use crate::engine::container::stats::{sample, to_json, Sample};
use crate::engine::{Engine, Error};

/// Sample a container off the async workers; `None` once it is gone.
async fn take(engine: &State, id: &str) -> Result<Option<(serde_json::Value, Sample)>, ApiError> {
    let (e, id) = (engine.clone(), id.to_string());
    tokio::task::spawn_blocking(move || -> Option<(serde_json::Value, Sample)> {
        let rec = e.containers.get(&id)?;
        let now = sample(&rec);
        let pre = e.last_stats.swap(&id, &now);
        Some((to_json(&rec, &now, pre.as_ref()), now))
    })
    .await
    .map_err(|e| ApiError(Error::internal(e)))
}

fn one_shot_json(engine: &Engine, id: &str) -> Option<serde_json::Value> {
    let rec = engine.containers.get(id)?;
    Some(to_json(&rec, &sample(&rec), None))
}

pub async fn stats(AxState(engine): AxState<State>, Path(id): Path<String>, q: Query) -> ApiResult {
    let id = engine.containers.resolve(&id)?.id;
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    if !stream {
        if flag(&q, "one-shot") {
            let e = engine.clone();
            let v = tokio::task::spawn_blocking(move || one_shot_json(&e, &id))
                .await
                .map_err(|e| ApiError(Error::internal(e)))?;
            return ok_json(&v.ok_or_else(|| ApiError(Error::not_found("No such container")))?);
        }
        let (v, _) = take(&engine, &id)
            .await?
            .ok_or_else(|| ApiError(Error::not_found("No such container")))?;
        return ok_json(&v);
    }
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Ok(Some((v, _))) = take(&engine, &id).await else {
                break;
            };
            let mut line = serde_json::to_vec(&v).unwrap_or_default();
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                break;
            }
        }
        engine.last_stats.forget(&id);
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body_ok(rx))
        .unwrap())
}
