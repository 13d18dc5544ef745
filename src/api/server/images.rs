//! `/images/...` and `/commit` routes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{
    body_reader, flag, json, ok_json, stream_body, stream_body_ok, ApiError, ApiResult,
    AskedVersion, Query, State,
};
use crate::api::io::ChannelWriter;
use crate::api::models::{ImageDeleteResponseItem, ImageInspect, ImageInspectRootFs, ImageSummary};
use crate::docker::platform::Platform;
use crate::engine::container::fs::CommitOptions;
use crate::engine::filters::{self, parse as parse_filters};
use crate::engine::image::cancel::{Cancel, CANCELLED};
use crate::engine::image::changes::apply_changes;
use crate::engine::image::config::{History, ImageConfig, RunConfig};
use crate::engine::image::reference::Reference;
use crate::engine::image::{archive, ImageRecord, RemovedImage};
use crate::engine::registry::Credentials;
use crate::engine::{Engine, Error, Result};

/// All values of a repeated query parameter (`changes=...&changes=...`).
pub(super) fn multi(raw: &Option<String>, key: &str) -> Vec<String> {
    raw.as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn single(raw: &Option<String>, key: &str) -> Option<String> {
    multi(raw, key).into_iter().next()
}

fn created_unix(rec: &ImageRecord) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&rec.created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn familiar_tags(engine: &Engine, id: &str) -> Result<Vec<String>> {
    Ok(engine
        .images
        .tags_of(id)?
        .iter()
        .map(|t| {
            crate::engine::image::reference::Reference::parse(t)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| t.clone())
        })
        .collect())
}

/// The images `GET /images/json` lists; untagged build steps only with `all` (`images -a`,
/// as dockerd lists the classic builder's intermediate images).
pub fn summaries(engine: &Engine, all: bool) -> Result<Vec<ImageSummary>> {
    let in_use = engine.containers.images_in_use();
    let mut out = Vec::new();
    for rec in engine.images.list()? {
        let repo_tags = familiar_tags(engine, &rec.id)?;
        // Untagged build steps are build cache, not images (`builder prune` reclaims them).
        if rec.intermediate && repo_tags.is_empty() && !all {
            continue;
        }
        let config = engine.images.config(&rec.id)?;
        out.push(ImageSummary {
            id: rec.id.clone(),
            parent_id: rec.parent.clone().unwrap_or_default(),
            repo_tags,
            repo_digests: rec.repo_digests.clone(),
            created: created_unix(&rec),
            size: rec.size as i64,
            shared_size: -1,
            virtual_size: None,
            labels: config.config.labels.clone().unwrap_or_default(),
            containers: in_use.iter().filter(|i| **i == rec.id).count() as i64,
            manifests: None,
            descriptor: None,
        });
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    Ok(out)
}

fn glob_match(pattern: &str, text: &str) -> bool {
    fn m(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && m(p, &t[1..])),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
}

pub async fn list(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let all = summaries(&engine, super::flag(&q, "all"))?;
    let filtered: Vec<ImageSummary> = all
        .into_iter()
        .filter(|img| {
            filters::all_match(&filters, |k, v| match k {
                "dangling" => (v == "true" || v == "1") == img.repo_tags.is_empty(),
                "label" => filters::label_matches(v, |k| img.labels.get(k).map(String::as_str)),
                "reference" => img.repo_tags.iter().any(|t| {
                    glob_match(v, t)
                        || t.rsplit_once(':')
                            .is_some_and(|(name, _)| glob_match(v, name))
                }),
                _ => true,
            })
        })
        .collect();
    ok_json(&filtered)
}

fn progress(lines: &[serde_json::Value]) -> Response {
    let mut body = Vec::new();
    for l in lines {
        body.extend(serde_json::to_vec(l).unwrap_or_default());
        body.push(b'\n');
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// `POST /images/load`: a chunked stream of JSON lines, as dockerd sends (docker-py reads a
/// multi-image load line by line); a failure is the stream's last line, `error`/`errorDetail`.
pub async fn load(AxState(engine): AxState<State>, body: Body) -> ApiResult {
    let reader = body_reader(body);
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::spawn(async move {
        let e = engine.clone();
        // A client that goes away (the response's receiver dropped) stops the unpacking.
        let cancel = Cancel::new();
        let watch = cancel.when_closed(&tx);
        let loaded = tokio::task::spawn_blocking(move || archive::load(&e.images, reader, &cancel))
            .await
            .map_err(Error::internal)
            .and_then(|r| r);
        drop(watch);
        let lines: Vec<serde_json::Value> = match &loaded {
            Ok(names) => names
                .iter()
                .map(|name| {
                    let text = if name.starts_with("sha256:") {
                        format!("Loaded image ID: {name}\n")
                    } else {
                        format!("Loaded image: {name}\n")
                    };
                    serde_json::json!({ "stream": text })
                })
                .collect(),
            Err(e) => vec![serde_json::json!({
                "errorDetail": {"message": e.to_string()},
                "error": e.to_string(),
            })],
        };
        for name in loaded.iter().flatten() {
            engine.events.publish(
                crate::api::models::EventMessageTypeEnum::IMAGE,
                "load",
                name,
                HashMap::new(),
            );
        }
        for l in lines {
            let mut line = serde_json::to_vec(&l).unwrap_or_default();
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body_ok(rx))
        .unwrap())
}

fn save_response(engine: State, names: Vec<String>) -> ApiResult {
    for n in &names {
        engine.images.resolve(n)?;
    }
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter::new(tx.clone());
        match archive::save(&engine.images, &names, w) {
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .unwrap())
}

pub async fn save_many(AxState(engine): AxState<State>, RawQuery(raw): RawQuery) -> ApiResult {
    let names = multi(&raw, "names");
    if names.is_empty() {
        return Err(ApiError(Error::invalid("no image names given")));
    }
    save_response(engine, names)
}

/// `/images/create`: `fromSrc=-` imports a root filesystem tar; `fromImage` pulls.
/// The credentials a client sent in `X-Registry-Auth`, if any.
pub(super) fn registry_auth(headers: &HeaderMap) -> Result<Option<Credentials>> {
    match headers.get("x-registry-auth").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(v)) => Credentials::from_header(v),
        Some(Err(_)) => Err(Error::invalid("X-Registry-Auth: not ASCII")),
    }
}

/// `POST /auth` (`docker login`): check the credentials with the registry.
pub async fn auth(AxState(engine): AxState<State>, body: Bytes) -> ApiResult {
    let credentials = Credentials::from_json(&body)?;
    let token = engine.registry_login(credentials).await?;
    ok_json(&serde_json::json!({
        "Status": "Login Succeeded",
        "IdentityToken": token.unwrap_or_default(),
    }))
}

pub async fn create(
    AxState(engine): AxState<State>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    if let Some(image) = single(&raw, "fromImage") {
        let credentials = registry_auth(&headers)?;
        let tag = single(&raw, "tag").unwrap_or_default();
        let name = if tag.is_empty() {
            image
        } else if tag.starts_with("sha256:") {
            format!("{image}@{tag}")
        } else {
            format!("{image}:{tag}")
        };
        // A malformed name or platform is an HTTP error, like Docker's.
        Reference::parse(&name).map_err(|e| ApiError(Error::invalid(e)))?;
        let platform = single(&raw, "platform")
            .filter(|p| !p.is_empty())
            .map(|p| Platform::parse(&p))
            .transpose()
            .map_err(|e| ApiError(Error::invalid(e)))?;
        // No tag anywhere: every tag of the repository, as dockerd (`docker pull --all-tags`).
        let all_tags = tag.is_empty() && !names_a_tag(&name);
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        tokio::spawn(async move {
            let pulled = if all_tags {
                match Reference::parse(&name) {
                    Ok(r) => {
                        engine
                            .pull_all_tags(&r, platform.as_ref(), credentials, tx.clone())
                            .await
                    }
                    Err(e) => Err(Error::invalid(e)),
                }
            } else {
                engine
                    .pull_image(&name, platform.as_ref(), credentials, tx.clone())
                    .await
                    .map(|_| ())
            };
            if let Err(e) = pulled {
                let msg = e.to_string();
                let _ = tx.send(error_line(&msg)).await;
            } else {
                engine.events.publish(
                    crate::api::models::EventMessageTypeEnum::IMAGE,
                    "pull",
                    &name,
                    HashMap::new(),
                );
            }
        });
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", "application/json")
            .body(super::stream_body_ok(rx))
            .unwrap());
    }
    let src = single(&raw, "fromSrc").unwrap_or_default();
    if src != "-" {
        return Err(ApiError(Error::invalid(format!(
            "importing from {src:?} is not supported: send the archive in the request body (fromSrc=-)"
        ))));
    }
    let repo = single(&raw, "repo").unwrap_or_default();
    let tag = single(&raw, "tag").unwrap_or_default();
    let reference = if repo.is_empty() {
        None
    } else {
        let full = if tag.is_empty() {
            repo.clone()
        } else {
            format!("{repo}:{tag}")
        };
        Some(Reference::parse(&full).map_err(|e| ApiError(Error::invalid(e)))?)
    };
    let changes = multi(&raw, "changes");
    let message = single(&raw, "message").unwrap_or_default();
    let mut run = RunConfig::default();
    apply_changes(&mut run, &changes).map_err(|e| ApiError(Error::invalid(e)))?;
    let reader = body_reader(body);
    let e = engine.clone();
    // hyper drops this handler's future when the client hangs up: the guard then stops the
    // unpacking on its blocking thread.
    let cancel = Cancel::new();
    let _guard = cancel.on_drop();
    let id = tokio::task::spawn_blocking(move || -> Result<String> {
        let ingest = e.images.ingest();
        let layer = ingest.add_layer_until(reader, &cancel)?;
        if cancel.is_cancelled() {
            // Unreferenced, the layer goes with the next garbage collection.
            return Err(Error::conflict(CANCELLED));
        }
        let mut config = ImageConfig::new(vec![layer.diff_id.clone()], run);
        config.history.push(History {
            created: config.created.clone(),
            created_by: None,
            author: None,
            comment: Some(if message.is_empty() {
                "Imported from -".into()
            } else {
                message
            }),
            empty_layer: false,
        });
        let bytes = serde_json::to_vec(&config)?;
        let tags: Vec<Reference> = reference.into_iter().collect();
        Ok(e.images.register(&bytes, &[layer], &tags, None)?.id)
    })
    .await
    .map_err(|e| ApiError(Error::internal(e)))??;
    engine.events.publish(
        crate::api::models::EventMessageTypeEnum::IMAGE,
        "import",
        &id,
        HashMap::new(),
    );
    Ok(progress(&[serde_json::json!({ "status": id })]))
}

pub async fn prune(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let only_dangling = !filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "false" || x == "0"));
    let in_use = engine.containers.images_in_use();
    let mut deleted = Vec::new();
    let mut reclaimed = 0i64;
    for rec in engine.images.list()? {
        if in_use.contains(&rec.id) {
            continue;
        }
        let tags = engine.images.tags_of(&rec.id)?;
        if (only_dangling && !tags.is_empty()) || (rec.intermediate && tags.is_empty()) {
            continue;
        }
        for t in &tags {
            let _ = engine.images.remove(t, true, false);
            deleted.push(ImageDeleteResponseItem {
                untagged: Some(
                    crate::engine::image::reference::Reference::parse(t)
                        .map(|r| r.familiar())
                        .unwrap_or_default(),
                ),
                deleted: None,
            });
        }
        if engine.images.get(&rec.id).is_ok() {
            engine.images.remove(&rec.id, true, false)?;
        }
        reclaimed += rec.size as i64;
        deleted.push(ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(rec.id.clone()),
        });
    }
    ok_json(&serde_json::json!({"ImagesDeleted": deleted, "SpaceReclaimed": reclaimed}))
}

/// Whether an image name says its tag or digest (`box:1`, `box@sha256:…`, not `host:5000/box`).
fn names_a_tag(name: &str) -> bool {
    let last = name.rsplit('/').next().unwrap_or(name);
    name.contains('@') || last.contains(':')
}

/// The last line of a progress stream that failed, as Docker clients expect it.
pub(super) fn error_line(msg: &str) -> Bytes {
    error_json(serde_json::json!({"error": msg, "errorDetail": {"message": msg}}))
}

/// An engine error as a stream's last line; a failed command carries its exit code, as
/// the classic builder's `errorDetail.code`.
pub(super) fn engine_error_line(e: &crate::engine::Error) -> Bytes {
    let msg = e.to_string();
    match e {
        crate::engine::Error::CommandFailed { code, .. } => error_json(serde_json::json!({
            "error": msg, "errorDetail": {"code": code, "message": msg}
        })),
        _ => error_line(&msg),
    }
}

fn error_json(v: serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// Image names contain slashes, so `/images/{name}/json` is routed by suffix.
fn split_rest(rest: &str) -> (String, &str) {
    for suffix in ["/json", "/history", "/get", "/tag", "/push"] {
        if let Some(name) = rest.strip_suffix(suffix) {
            return (name.to_string(), &suffix[1..]);
        }
    }
    (rest.to_string(), "")
}

pub async fn get_dispatch(
    AxState(engine): AxState<State>,
    Path(rest): Path<String>,
    asked: Option<axum::Extension<AskedVersion>>,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let (name, action) = split_rest(&rest);
    match action {
        "json" => {
            let mut v = serde_json::to_value(inspect(&engine, &name)?)
                .map_err(|e| ApiError(Error::internal(format!("image inspect: {e}"))))?;
            if AskedVersion::before(asked.as_deref(), 1, 45) || reads_container_config(&headers) {
                with_container_config(&mut v);
            }
            ok_json(&v)
        }
        "history" => ok_json(&history(&engine, &name)?),
        "get" => save_response(engine, vec![name]),
        _ => Err(ApiError(Error::not_found(format!(
            "page not found: /images/{rest}"
        )))),
    }
}

pub async fn post_dispatch(
    AxState(engine): AxState<State>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    q: Query,
) -> ApiResult {
    let (name, action) = split_rest(&rest);
    match action {
        "tag" => {
            let image = engine.images.resolve(&name)?;
            let repo = q.get("repo").cloned().unwrap_or_default();
            let tag = q.get("tag").cloned().unwrap_or_default();
            let full = if tag.is_empty() {
                repo
            } else {
                format!("{repo}:{tag}")
            };
            let reference = Reference::parse(&full).map_err(|e| ApiError(Error::invalid(e)))?;
            engine.images.tag(&image.id, &reference)?;
            engine.events.publish(
                crate::api::models::EventMessageTypeEnum::IMAGE,
                "tag",
                &image.id,
                HashMap::from([("name".to_string(), reference.familiar())]),
            );
            Ok(json(StatusCode::CREATED, &serde_json::json!({})))
        }
        "push" => {
            let tag = q.get("tag").cloned().unwrap_or_default();
            // No tag anywhere: every local tag of the repository (`docker push --all-tags`).
            let all_tags = tag.is_empty() && !names_a_tag(&name);
            let full = if tag.is_empty() {
                name.clone()
            } else {
                format!("{name}:{tag}")
            };
            let reference = Reference::parse(&full).map_err(|e| ApiError(Error::invalid(e)))?;
            if !all_tags {
                engine.images.resolve(&reference.to_string()).map_err(|_| {
                    ApiError(Error::not_found(format!(
                        "An image does not exist locally with the tag: {}",
                        reference.familiar_name()
                    )))
                })?;
            }
            let credentials = registry_auth(&headers)?;
            let (tx, rx) = mpsc::channel::<Bytes>(64);
            tokio::spawn(async move {
                let pushed = if all_tags {
                    engine
                        .push_all_tags(&reference, credentials, tx.clone())
                        .await
                } else {
                    engine
                        .push_image(&full, credentials, tx.clone())
                        .await
                        .map(|_| ())
                };
                match pushed {
                    Ok(()) => engine.events.publish(
                        crate::api::models::EventMessageTypeEnum::IMAGE,
                        "push",
                        &full,
                        HashMap::new(),
                    ),
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = tx.send(error_line(&msg)).await;
                    }
                }
            });
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "application/json")
                .body(super::stream_body_ok(rx))
                .unwrap())
        }
        _ => Err(ApiError(Error::not_found(format!(
            "page not found: /images/{rest}"
        )))),
    }
}

pub async fn remove(
    AxState(engine): AxState<State>,
    Path(rest): Path<String>,
    q: Query,
) -> ApiResult {
    let image = engine.images.resolve(&rest)?;
    let users: Vec<String> = engine
        .containers
        .all()
        .into_iter()
        .filter(|c| c.image_id == image.id)
        .map(|c| c.id)
        .collect();
    let force = flag(&q, "force");
    let by_name_with_other_names = Reference::parse(&rest)
        .ok()
        .map(|r| r.to_string())
        .is_some_and(|t| {
            engine
                .images
                .tags_of(&image.id)
                .map(|ts| ts.contains(&t) && ts.len() > 1)
                .unwrap_or(false)
        });
    if !users.is_empty() && !force && !by_name_with_other_names {
        let running = engine
            .containers
            .get(&users[0])
            .is_some_and(|c| c.state.is_running());
        let kind = if running { "running" } else { "stopped" };
        return Err(ApiError(Error::conflict(format!(
            "conflict: unable to remove repository reference \"{rest}\" (must force) - container {} is using its referenced image {} ({kind})",
            crate::util::ids::short_id(&users[0]),
            crate::util::ids::short_id(&image.id)
        ))));
    }
    let removed = engine.images.remove(&rest, force, !users.is_empty())?;
    let items: Vec<ImageDeleteResponseItem> = removed
        .into_iter()
        .map(|r| match r {
            RemovedImage::Untagged(t) => ImageDeleteResponseItem {
                untagged: Some(t),
                deleted: None,
            },
            RemovedImage::Deleted(id) => ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(id),
            },
        })
        .collect();
    for it in &items {
        let (action, id) = match (&it.untagged, &it.deleted) {
            (Some(t), _) => ("untag", t.clone()),
            (_, Some(d)) => ("delete", d.clone()),
            _ => continue,
        };
        engine.events.publish(
            crate::api::models::EventMessageTypeEnum::IMAGE,
            action,
            &id,
            HashMap::new(),
        );
    }
    ok_json(&items)
}

fn inspect(engine: &Engine, name: &str) -> Result<ImageInspect> {
    let rec = engine.images.resolve(name)?;
    let config = engine.images.config(&rec.id)?;
    let api_config = serde_json::from_value(serde_json::to_value(&config.config)?).ok();
    let comment = config.history.last().and_then(|h| h.comment.clone());
    Ok(ImageInspect {
        id: Some(rec.id.clone()),
        repo_tags: Some(familiar_tags(engine, &rec.id)?),
        repo_digests: Some(rec.repo_digests.clone()),
        parent: Some(rec.parent.clone().unwrap_or_default()),
        comment: Some(comment.unwrap_or_default()),
        created: config.created.clone(),
        docker_version: Some(String::new()),
        author: Some(config.author.clone().unwrap_or_default()),
        config: api_config,
        architecture: Some(config.architecture.clone()),
        os: Some(config.os.clone()),
        // The platform's variant (`v7` of linux/arm/v7), absent when the image has none.
        variant: config
            .extra
            .get("variant")
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(String::from),
        size: Some(rec.size as i64),
        root_fs: Some(ImageInspectRootFs {
            typ: "layers".into(),
            layers: Some(rec.layers.clone()),
        }),
        metadata: Some(crate::api::models::ImageInspectMetadata {
            last_tag_time: None,
        }),
        ..Default::default()
    })
}

/// docker-compose 1.x (Debian bookworm's 1.29) asks for the server's newest version and still
/// reads `ContainerConfig` when it recreates a service: it fails with a `KeyError` against
/// dockerd 25 and later. wharf keeps it working by showing the field to that client only.
fn reads_container_config(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::USER_AGENT)
        .is_some_and(|v| v.as_bytes().starts_with(b"docker-compose/1."))
}

/// Below API 1.45 dockerd still shows `Container` and `ContainerConfig` (the config of the
/// container an image was committed from; its empty shape for built and pulled images).
fn with_container_config(v: &mut serde_json::Value) {
    if let Some(obj) = v.as_object_mut() {
        obj.insert("Container".into(), "".into());
        obj.insert(
            "ContainerConfig".into(),
            serde_json::json!({
                "Hostname": "", "Domainname": "", "User": "",
                "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
                "Tty": false, "OpenStdin": false, "StdinOnce": false,
                "Env": null, "Cmd": null, "Image": "", "Volumes": null,
                "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
            }),
        );
    }
}

fn history(engine: &Engine, name: &str) -> Result<Vec<serde_json::Value>> {
    let rec = engine.images.resolve(name)?;
    let config = engine.images.config(&rec.id)?;
    let tags = familiar_tags(engine, &rec.id)?;
    let mut layer_iter = rec.layers.iter();
    let mut rows = Vec::new();
    let entries: Vec<History> = if config.history.is_empty() {
        rec.layers.iter().map(|_| History::default()).collect()
    } else {
        config.history.clone()
    };
    for h in &entries {
        let size = if h.empty_layer {
            0
        } else {
            layer_iter
                .next()
                .and_then(|d| engine.images.layer(d).ok())
                .map(|l| l.size)
                .unwrap_or(0)
        };
        rows.push(serde_json::json!({
            "Id": "<missing>",
            "Created": h.created.as_deref().and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()).map(|t| t.timestamp()).unwrap_or(0),
            "CreatedBy": h.created_by.clone().unwrap_or_default(),
            "Tags": serde_json::Value::Null,
            "Size": size,
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    rows.reverse();
    if let Some(first) = rows.first_mut() {
        first["Id"] = serde_json::Value::String(rec.id.clone());
        first["Tags"] = serde_json::json!(tags);
    }
    Ok(rows)
}

pub async fn commit(
    AxState(engine): AxState<State>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let container = single(&raw, "container").unwrap_or_default();
    let repo = single(&raw, "repo").unwrap_or_default();
    let tag = single(&raw, "tag").unwrap_or_default();
    let reference = if repo.is_empty() {
        None
    } else if tag.is_empty() {
        Some(repo)
    } else {
        Some(format!("{repo}:{tag}"))
    };
    let mut changes = multi(&raw, "changes");
    // Docker clients may also send the config in the body; we honour its Cmd/Env/... as changes.
    if !body.is_empty() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            if let Some(cmd) = v.get("Cmd").filter(|c| c.is_array()) {
                changes.push(format!("CMD {cmd}"));
            }
        }
    }
    let pause = single(&raw, "pause").is_none_or(|p| p != "0" && p != "false");
    let opts = CommitOptions {
        reference,
        author: single(&raw, "author"),
        comment: single(&raw, "comment"),
        changes,
        pause,
        cancel: Cancel::new(),
    };
    // As for imports: a client that hangs up stops archiving the changes and nothing is tagged.
    let _guard = opts.cancel.on_drop();
    let e = engine.clone();
    let id = tokio::task::spawn_blocking(move || e.commit_container(&container, opts))
        .await
        .map_err(|e| ApiError(Error::internal(e)))??;
    Ok(json(StatusCode::CREATED, &serde_json::json!({ "Id": id })))
}
