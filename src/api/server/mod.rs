//! The daemon's HTTP server: Docker Engine API routes on a UNIX socket, versioned
//! (`/v1.NN/...`) and unversioned paths alike.

mod attach_ws;
mod build;
mod containers;
mod detach;
mod distribution;
mod exec;
mod hijack;
mod images;
mod networks;
mod search;
mod stats;
mod swarm;
mod system;
pub mod tls;
mod volumes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::ErrorBody;
use crate::engine::{Engine, Error};

pub type State = Arc<Engine>;
pub type Query = axum::extract::Query<HashMap<String, String>>;

/// An engine error as Docker reports it: status code and `{"message": ...}`.
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        let body = serde_json::to_vec(&ErrorBody {
            message: self.0.to_string(),
        })
        .unwrap_or_default();
        Response::builder()
            .status(status)
            .header("Content-Type", "application/json")
            .body(Body::from(body))
            .unwrap()
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

pub fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Response {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap()
}

pub fn ok_json<T: serde::Serialize>(v: &T) -> ApiResult {
    Ok(json(StatusCode::OK, v))
}

pub fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Docker's query booleans: `1`, `true`, `True`.
pub fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True" | "yes"))
}

pub fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError(Error::invalid(format!("invalid JSON in request body: {e}"))))
}

/// A streaming response body from a channel of chunks.
pub fn stream_body(rx: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

pub fn stream_body_ok(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|item| (Ok::<_, std::io::Error>(item), rx))
    });
    Body::from_stream(stream)
}

/// Feed a request body to blocking code as a `Read`.
pub fn body_reader(body: Body) -> crate::api::io::ChannelReader {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let item = chunk.map_err(std::io::Error::other);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    crate::api::io::ChannelReader::new(rx)
}

fn router(engine: State) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/auth", post(images::auth))
        .route("/events", get(system::events))
        .route("/system/df", get(system::df))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/attach", post(hijack::attach))
        .route("/containers/{id}/attach/ws", get(attach_ws::attach_ws))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/containers/{id}/changes", get(containers::changes))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/export", get(containers::export))
        .route(
            "/containers/{id}/archive",
            get(containers::archive_get)
                .put(containers::archive_put)
                .head(containers::archive_head),
        )
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::remove),
        )
        .route(
            "/containers/{id}/{alias}",
            axum::routing::delete(containers::remove_named_link),
        )
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(hijack::exec_start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/images/json", get(images::list))
        .route("/images/load", post(images::load))
        .route("/images/get", get(images::save_many))
        .route("/images/create", post(images::create))
        .route("/images/prune", post(images::prune))
        .route("/images/search", get(search::search))
        .route("/distribution/{*rest}", get(distribution::inspect))
        .route(
            "/images/{*rest}",
            get(images::get_dispatch)
                .post(images::post_dispatch)
                .delete(images::remove),
        )
        .route("/commit", post(images::commit))
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/swarm", axum::routing::any(swarm::not_a_swarm))
        .route("/swarm/{*rest}", axum::routing::any(swarm::not_a_swarm))
        .route("/nodes", axum::routing::any(swarm::not_a_swarm))
        .route("/nodes/{*rest}", axum::routing::any(swarm::not_a_swarm))
        .route("/services", axum::routing::any(swarm::not_a_swarm))
        .route("/services/{*rest}", axum::routing::any(swarm::not_a_swarm))
        .route("/tasks", axum::routing::any(swarm::not_a_swarm))
        .route("/tasks/{*rest}", axum::routing::any(swarm::not_a_swarm))
        .route("/secrets", axum::routing::any(swarm::not_a_swarm))
        .route("/secrets/{*rest}", axum::routing::any(swarm::not_a_swarm))
        .route("/configs", axum::routing::any(swarm::not_a_swarm))
        .route("/configs/{*rest}", axum::routing::any(swarm::not_a_swarm))
        .fallback(not_found)
        .layer(axum::middleware::map_response(json_errors))
        .with_state(engine)
}

/// axum's own rejections (a body over the limit, a bad header) are plain text, but Docker's
/// clients read every error as `{"message": …}`: wrap them.
async fn json_errors(resp: Response) -> Response {
    use axum::http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
    let failed = resp.status().is_client_error() || resp.status().is_server_error();
    let text = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(failed && text) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .unwrap_or_default();
    let body = serde_json::to_vec(&ErrorBody {
        message: String::from_utf8_lossy(&text).trim().to_string(),
    })
    .unwrap_or_default();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

async fn not_found(req: Request<Body>) -> Response {
    json(
        StatusCode::NOT_FOUND,
        &ErrorBody {
            message: format!("page not found: {} {}", req.method(), req.uri().path()),
        },
    )
}

/// A `/vX.Y/` prefix outside the versions this daemon serves is refused with dockerd's
/// messages (400), before any route sees it.
async fn refuse_unsupported_version(req: Request<Body>, next: axum::middleware::Next) -> Response {
    use crate::api::{version_key, API_VERSION, MIN_API_VERSION};
    let asked = version_prefix(req.uri().path()).map(|(v, _)| v.to_string());
    let refused = asked.and_then(|v| {
        let key = version_key(&v);
        if key < version_key(MIN_API_VERSION) {
            Some(format!("client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"))
        } else if key > version_key(API_VERSION) {
            Some(format!("client version {v} is too new. Maximum supported API version is {API_VERSION}"))
        } else {
            None
        }
    });
    match refused {
        Some(message) => json(StatusCode::BAD_REQUEST, &ErrorBody { message }),
        None => next.run(req).await,
    }
}

/// Strip a `/v1.NN` prefix so one route table serves versioned and unversioned paths.
/// The handlers that answer older clients in their version's shape find it in the request's
/// extensions (absent: the newest).
fn strip_version(mut req: Request<Body>) -> Request<Body> {
    if let Some((v, rest)) = version_prefix(req.uri().path()).filter(|(_, r)| !r.is_empty()) {
        let asked = AskedVersion(crate::api::version_key(v));
        let pq = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
        req.extensions_mut().insert(asked);
    }
    req
}

/// The API version a request's path asked for, as [`crate::api::version_key`] orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AskedVersion(pub (u32, u32));

impl AskedVersion {
    /// Whether the client asked for a version older than `major.minor`.
    pub fn before(asked: Option<&AskedVersion>, major: u32, minor: u32) -> bool {
        asked.is_some_and(|v| v.0 < (major, minor))
    }
}

/// `/v1.41/containers/json` → (`1.41`, `/containers/json`); the rest is empty for a bare
/// `/v1.41`. None without a version prefix.
fn version_prefix(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let (version, rest) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let numeric = !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.');
    numeric.then_some((version, rest))
}

/// Each request is a phase of the trace (`WHARF_TRACE`), until its response's head.
async fn trace_request(
    req: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let span = tracing::debug_span!(target: "phase", "request", method = %req.method(), path = %req.uri().path());
    next.run(req).instrument(span).await
}

/// Serve the API on `listener` (a UNIX socket, TCP, TLS) until `shutdown` resolves.
pub async fn serve<L>(
    engine: State,
    listener: L,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    use tower::ServiceExt;
    let versioned = router(engine).map_request(strip_version);
    let app = Router::new()
        .fallback_service(versioned)
        .layer(axum::middleware::from_fn(refuse_unsupported_version))
        .layer(axum::middleware::from_fn(trace_request));
    axum::serve(
        listener,
        axum::ServiceExt::<Request<Body>>::into_make_service(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
