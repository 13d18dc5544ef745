//! `/containers/{id}/exec`, `/exec/{id}/json`, `/exec/{id}/resize`.

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bytes::Bytes;

use super::{json, ok_json, parse_json, ApiResult, Query, State};
use crate::api::models::ExecConfig;

pub async fn create(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let cfg: ExecConfig = parse_json(&camel_detach_keys(body))?;
    let exec_id = engine.exec_create(&id, cfg)?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({ "Id": exec_id }),
    ))
}

/// Go decodes JSON keys case-insensitively, and docker-py sends `detachKeys` (its config
/// file's spelling) where the API says `DetachKeys`.
fn camel_detach_keys(body: Bytes) -> Bytes {
    let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice(&body) else {
        return body;
    };
    match obj.remove("detachKeys") {
        Some(keys) if !obj.contains_key("DetachKeys") => {
            obj.insert("DetachKeys".into(), keys);
            serde_json::to_vec(&obj).map(Bytes::from).unwrap_or(body)
        }
        _ => body,
    }
}

pub async fn inspect(AxState(engine): AxState<State>, Path(id): Path<String>) -> ApiResult {
    ok_json(&engine.exec_inspect(&id)?)
}

pub async fn resize(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult {
    let h = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(24);
    let w = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(80);
    engine.exec_resize(&id, h, w)?;
    Ok(StatusCode::OK.into_response())
}
