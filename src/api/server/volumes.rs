//! `/volumes` routes.

use std::collections::HashMap;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use bytes::Bytes;

use super::{flag, json, no_content, ok_json, parse_json, ApiResult, Query, State};
use crate::api::models::{Volume, VolumeCreateOptions};
use crate::engine::filters::{self, parse as parse_filters};
use crate::engine::volume::{VolumeRecord, ANONYMOUS_LABEL};
use crate::engine::{Engine, Result};

pub fn to_api(engine: &Engine, v: &VolumeRecord, with_size: bool) -> Volume {
    Volume {
        name: v.name.clone(),
        driver: v.driver.clone(),
        mountpoint: v.mountpoint.display().to_string(),
        created_at: Some(v.created.clone()),
        labels: v.labels.clone(),
        scope: Some(crate::api::models::VolumeScopeEnum::LOCAL),
        options: v.options.clone(),
        usage_data: with_size.then(|| crate::api::models::VolumeUsageData {
            size: engine.volumes.size(v) as i64,
            ref_count: engine.volume_users(&v.name).len() as i64,
        }),
        ..Default::default()
    }
}

pub fn volume_list(engine: &Engine, with_size: bool) -> Result<Vec<Volume>> {
    Ok(engine
        .volumes
        .list()?
        .iter()
        .map(|v| to_api(engine, v, with_size))
        .collect())
}

fn matches(engine: &Engine, v: &VolumeRecord, filters: &HashMap<String, Vec<String>>) -> bool {
    filters::all_match(filters, |k, val| match k {
        "name" => v.name.contains(val),
        "dangling" => {
            let dangling = engine.volume_users(&v.name).is_empty();
            (val == "true" || val == "1") == dangling
        }
        "label" => filters::label_matches(val, |k| v.labels.get(k).map(String::as_str)),
        "driver" => v.driver == val,
        _ => false,
    })
}

pub async fn list(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let vols: Vec<Volume> = engine
        .volumes
        .list()?
        .iter()
        .filter(|v| matches(&engine, v, &filters))
        .map(|v| to_api(&engine, v, false))
        .collect();
    ok_json(&serde_json::json!({"Volumes": vols, "Warnings": []}))
}

pub async fn create(AxState(engine): AxState<State>, body: Bytes) -> ApiResult {
    let opts: VolumeCreateOptions = parse_json(&body)?;
    let rec = engine.volumes.create(
        opts.name.as_deref(),
        opts.driver.as_deref(),
        opts.labels.unwrap_or_default(),
        opts.driver_opts.unwrap_or_default(),
    )?;
    engine.events.publish(
        crate::api::models::EventMessageTypeEnum::VOLUME,
        "create",
        &rec.name,
        HashMap::from([("driver".to_string(), rec.driver.clone())]),
    );
    Ok(json(StatusCode::CREATED, &to_api(&engine, &rec, false)))
}

pub async fn inspect(AxState(engine): AxState<State>, Path(name): Path<String>) -> ApiResult {
    let v = engine.volumes.get(&name)?;
    ok_json(&to_api(&engine, &v, false))
}

pub async fn remove(
    AxState(engine): AxState<State>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult {
    let users = engine.volume_users(&name);
    if flag(&q, "force") && engine.volumes.get(&name).is_err() {
        return no_content();
    }
    engine.volumes.remove(&name, &users)?;
    engine.events.publish(
        crate::api::models::EventMessageTypeEnum::VOLUME,
        "destroy",
        &name,
        HashMap::new(),
    );
    no_content()
}

pub async fn prune(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let all = filters
        .get("all")
        .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for v in engine.volumes.list()? {
        if !engine.volume_users(&v.name).is_empty() {
            continue;
        }
        // Like Docker 23+: only anonymous volumes unless `all=true`.
        if !all && !v.labels.contains_key(ANONYMOUS_LABEL) {
            continue;
        }
        if !filters::labels_match(&filters, |k| v.labels.get(k).map(String::as_str)) {
            continue;
        }
        reclaimed += engine.volumes.size(&v);
        if engine.volumes.remove(&v.name, &[]).is_ok() {
            deleted.push(v.name.clone());
        }
    }
    ok_json(&serde_json::json!({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}))
}
