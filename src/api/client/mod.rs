//! The Docker Engine API client used by the CLI and the compose layer: hyper over a UNIX
//! socket, one connection per request (cheap locally), typed methods for what wharf uses.

pub mod build;
mod compose_calls;
pub mod context;
pub mod credentials;
pub mod swarm;
pub mod transport;
mod typed;
pub use compose_calls::{split_tag, EventStream};
pub use typed::encode_filters as typed_filters;

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{version_key, ErrorBody, API_VERSION};

pub use crate::util::body::{empty, full, reader_body, ReqBody};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to the wharf daemon at {socket}: {source}")]
    Connect {
        socket: String,
        source: std::io::Error,
    },
    /// The daemon answered with an error; `message` is its own text.
    #[error("{message}")]
    Api { status: u16, message: String },
    #[error("talking to the wharf daemon: {0}")]
    Http(#[from] hyper::Error),
    #[error("invalid response from the wharf daemon: {0}")]
    Decode(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A request that cannot be sent (a name too long for a URI).
    #[error("invalid request {0}")]
    Request(String),
    /// The registry credentials for a request could not be had (a credential helper failed,
    /// Docker's config file is unreadable).
    #[error("{0}")]
    Credentials(#[from] credentials::Error),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct Client {
    endpoint: transport::Endpoint,
    /// The API version in request paths: wharf's own, or a lower one a daemon asked for
    /// ([`negotiated`](Client::negotiated)).
    version: std::sync::Arc<str>,
}

/// What a path segment cannot carry as is: names are user input (`inspect 'a b'`).
const PATH_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// Percent-encode the path part of `path?query` (the query is encoded by [`with_query`]).
fn encode_path(path: &str) -> String {
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out = percent_encoding::utf8_percent_encode(p, PATH_UNSAFE).to_string();
    if let Some(q) = q {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A path for an error message, cut when it is huge.
fn shorten(path: &str) -> String {
    match path.char_indices().nth(80) {
        Some((i, _)) => format!("{}… ({} bytes)", &path[..i], path.len()),
        None => path.to_string(),
    }
}

/// Build `path?k=v&k2=v2` with proper escaping.
pub fn with_query(path: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return path.to_string();
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    format!("{path}?{}", s.finish())
}

impl Client {
    /// A client of the daemon on the UNIX socket `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client::with_endpoint(transport::Endpoint::Unix(socket.into()))
    }

    /// A client of the daemon at `endpoint` (local, TCP, SSH).
    pub fn with_endpoint(endpoint: transport::Endpoint) -> Self {
        Client {
            endpoint,
            version: API_VERSION.into(),
        }
    }

    /// This client, speaking the highest API version both it and the daemon know, as the
    /// docker CLI negotiates: a daemon older than wharf's API (dockerd 20.10 speaks 1.41)
    /// refuses paths of a newer version.
    pub async fn negotiated(&self) -> Result<Client> {
        let mut sender = self.connect().await?;
        let req = Request::builder()
            .method(Method::GET)
            .uri("http://wharf/_ping")
            .header("Host", "wharf")
            .body(empty())
            .map_err(|e| ClientError::Request(e.to_string()))?;
        let resp = sender.send_request(req).await?;
        let theirs = resp
            .headers()
            .get("Api-Version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let _ = resp.into_body().collect().await?;
        let mut client = self.clone();
        if let Some(theirs) = theirs {
            if version_key(&theirs) < version_key(API_VERSION) {
                client.version = theirs.into();
            }
        }
        Ok(client)
    }

    /// The API version this client puts in request paths.
    pub fn api_version(&self) -> &str {
        &self.version
    }

    pub fn endpoint(&self) -> &transport::Endpoint {
        &self.endpoint
    }

    async fn connect(&self) -> Result<hyper::client::conn::http1::SendRequest<ReqBody>> {
        let stream = self
            .endpoint
            .connect()
            .await
            .map_err(|source| ClientError::Connect {
                socket: self.endpoint.to_string(),
                source,
            })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
    ) -> Result<Request<ReqBody>> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!(
                "http://wharf/v{}{}",
                self.version,
                encode_path(path)
            ))
            .header("Host", "wharf")
            .header("User-Agent", concat!("wharf/", env!("CARGO_PKG_VERSION")));
        if let Some(ct) = content_type {
            b = b.header("Content-Type", ct);
        }
        b.body(body)
            .map_err(|e| ClientError::Request(format!("{}: {e}", shorten(path))))
    }

    /// Send a request; error statuses become `ClientError::Api` with the daemon's message.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
    ) -> Result<Response<Incoming>> {
        self.send_with_auth(method, path, body, content_type, None)
            .await
    }

    /// [`send`](Self::send) with registry credentials (an `X-Registry-Auth` value).
    pub async fn send_with_auth(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
        registry_auth: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let headers: Vec<(&str, String)> = registry_auth
            .map(|a| ("X-Registry-Auth", a.to_string()))
            .into_iter()
            .collect();
        self.send_with_headers(method, path, body, content_type, &headers)
            .await
    }

    /// [`send`](Self::send) with extra request headers.
    pub async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        use tracing::Instrument;
        let span = tracing::debug_span!(target: "phase", "request", method = %method, path = %shorten(path));
        self.send_traced(method, path, body, content_type, headers)
            .instrument(span)
            .await
    }

    async fn send_traced(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let mut req = self.request(method, path, body, content_type)?;
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                value.parse(),
            ) {
                req.headers_mut().insert(n, v);
            }
        }
        let resp = sender.send_request(req).await?;
        if resp.status().is_client_error() || resp.status().is_server_error() {
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await?.to_bytes();
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string());
            return Err(ClientError::Api { status, message });
        }
        Ok(resp)
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.send(Method::GET, path, empty(), None).await?;
        decode(resp).await
    }

    pub async fn post_json<T: serde::de::DeserializeOwned, B: serde::Serialize>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let body = match body {
            Some(b) => full(serde_json::to_vec(b).map_err(|e| ClientError::Decode(e.to_string()))?),
            None => empty(),
        };
        let resp = self
            .send(Method::POST, path, body, Some("application/json"))
            .await?;
        decode(resp).await
    }

    /// A POST whose answer has no body worth reading (204, 304).
    pub async fn post(&self, path: &str) -> Result<StatusCode> {
        let resp = self.send(Method::POST, path, empty(), None).await?;
        let status = resp.status();
        let _ = resp.into_body().collect().await?;
        Ok(status)
    }

    pub async fn delete(&self, path: &str) -> Result<Bytes> {
        let resp = self.send(Method::DELETE, path, empty(), None).await?;
        Ok(resp.into_body().collect().await?.to_bytes())
    }

    /// Open an HTTP upgrade (`attach`, `exec start`) and return the raw connection.
    pub async fn hijack(
        &self,
        path: &str,
        body: ReqBody,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        use tracing::Instrument;
        let span = tracing::debug_span!(target: "phase", "request", method = "POST", path = %shorten(path), upgrade = true);
        self.hijack_traced(path, body).instrument(span).await
    }

    async fn hijack_traced(
        &self,
        path: &str,
        body: ReqBody,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        let mut sender = self.connect().await?;
        let mut req = self.request(Method::POST, path, body, Some("application/json"))?;
        req.headers_mut().insert(
            "Connection",
            hyper::header::HeaderValue::from_static("Upgrade"),
        );
        req.headers_mut()
            .insert("Upgrade", hyper::header::HeaderValue::from_static("tcp"));
        let resp = sender.send_request(req).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await?.to_bytes();
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).to_string());
            return Err(ClientError::Api { status, message });
        }
        let upgraded = hyper::upgrade::on(resp).await?;
        Ok(TokioIo::new(upgraded))
    }

    /// Before starting a container: attach to its output (and stdin when `stdin`) and register
    /// a wait for `condition` (`next-exit`, `removed`), so no output and no exit is missed.
    /// Returns the attached connection and the wait's pending response.
    pub async fn attach_and_wait(
        &self,
        id: &str,
        stdin: bool,
        condition: &str,
    ) -> Result<(TokioIo<hyper::upgrade::Upgraded>, Response<Incoming>)> {
        let mut params = vec![
            ("stream", "1".to_string()),
            ("stdout", "1".to_string()),
            ("stderr", "1".to_string()),
        ];
        if stdin {
            params.push(("stdin", "1".to_string()));
        }
        let conn = self
            .hijack(
                &with_query(&format!("/containers/{id}/attach"), &params),
                empty(),
            )
            .await?;
        let wait = self
            .send(
                Method::POST,
                &with_query(
                    &format!("/containers/{id}/wait"),
                    &[("condition", condition.to_string())],
                ),
                empty(),
                None,
            )
            .await?;
        Ok((conn, wait))
    }

    /// Whether a daemon answers on the socket.
    pub async fn ping(&self) -> Result<()> {
        let resp = self.send(Method::GET, "/_ping", empty(), None).await?;
        let _ = resp.into_body().collect().await?;
        Ok(())
    }
}

/// `1.41` as (1, 41), for comparing versions.
pub async fn decode<T: serde::de::DeserializeOwned>(resp: Response<Incoming>) -> Result<T> {
    let bytes = resp.into_body().collect().await?.to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Decode(format!("{e}: {}", String::from_utf8_lossy(&bytes))))
}

/// Read a streamed body chunk by chunk.
pub async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
