//! `POST /build` from the client side: the context goes up as a stream (any `ReqBody`, e.g.
//! [`reader_body`](super::reader_body) over a tar being written), the progress comes back
//! as [`BuildMessage`]s. `wharf build` uses it; so can the compose layer for `build:`.

use std::collections::BTreeMap;

use base64::Engine as _;
use hyper::Method;

use super::compose_calls::EventStream;
use super::{with_query, Client, ReqBody, Result};

/// The header naming a local context directory (see the daemon's `/build`).
const CONTEXT_HEADER: &str = "X-Wharf-Context";

/// What to build; the fields map onto Docker's `/build` query.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub tags: Vec<String>,
    /// The Dockerfile's path inside the context.
    pub dockerfile: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    /// Only the image id comes back (`q=1`).
    pub quiet: bool,
    pub labels: BTreeMap<String, String>,
    pub network: Option<String>,
    pub extra_hosts: Vec<String>,
    pub shm_size: Option<i64>,
    /// `RUN --mount=type=secret` values by id (sent in a header, never in the context).
    pub secrets: BTreeMap<String, Vec<u8>>,
}

/// One line of build progress.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildMessage {
    /// Output text: step headers, RUN output, ` ---> id` lines.
    Stream(String),
    /// The built image's id.
    Image(String),
    /// The build failed with this message (the stream ends after it).
    Error(String),
}

/// The progress of a running build.
pub struct BuildStream(EventStream);

impl BuildStream {
    /// The next message; `None` when the build is over.
    pub async fn next(&mut self) -> Result<Option<BuildMessage>> {
        loop {
            let Some(v) = self.0.next().await? else {
                return Ok(None);
            };
            if let Some(e) = v.get("errorDetail").and_then(|d| d.get("message")) {
                return Ok(Some(BuildMessage::Error(
                    e.as_str().unwrap_or_default().to_string(),
                )));
            }
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return Ok(Some(BuildMessage::Error(e.to_string())));
            }
            if let Some(id) = v.pointer("/aux/ID").and_then(|i| i.as_str()) {
                return Ok(Some(BuildMessage::Image(id.to_string())));
            }
            if let Some(s) = v.get("stream").and_then(|s| s.as_str()) {
                return Ok(Some(BuildMessage::Stream(s.to_string())));
            }
        }
    }
}

impl BuildRequest {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q: Vec<(&str, String)> = self.tags.iter().map(|t| ("t", t.clone())).collect();
        if let Some(d) = &self.dockerfile {
            q.push(("dockerfile", d.clone()));
        }
        if !self.build_args.is_empty() {
            q.push((
                "buildargs",
                serde_json::to_string(&self.build_args).unwrap_or_default(),
            ));
        }
        if !self.labels.is_empty() {
            q.push((
                "labels",
                serde_json::to_string(&self.labels).unwrap_or_default(),
            ));
        }
        if let Some(t) = &self.target {
            q.push(("target", t.clone()));
        }
        for (flag, on) in [
            ("nocache", self.no_cache),
            ("pull", self.pull),
            ("q", self.quiet),
        ] {
            if on {
                q.push((flag, "1".into()));
            }
        }
        if let Some(n) = &self.network {
            q.push(("networkmode", n.clone()));
        }
        for h in &self.extra_hosts {
            q.push(("extrahosts", h.clone()));
        }
        if let Some(s) = self.shm_size {
            q.push(("shmsize", s.to_string()));
        }
        q.push(("rm", "1".into()));
        q
    }
}

/// The packing of a context that is being sent as a tar (its result: the bytes sent); None
/// when the daemon reads the directory itself.
pub type Packer = Option<tokio::task::JoinHandle<std::io::Result<u64>>>;

impl Client {
    /// Build from a planned context: a daemon that sees the same directory (it runs on this
    /// machine) reads it from there, keeping a mirror between builds; otherwise, or when the
    /// daemon refuses that, the context is packed and sent as a tar.
    pub async fn build_from(
        &self,
        plan: super::context::Plan,
        req: &BuildRequest,
    ) -> Result<(BuildStream, Packer)> {
        let mut req = req.clone();
        req.dockerfile = Some(plan.dockerfile.clone());
        if let Some((header, control)) = super::context::local_request(&plan) {
            let body = super::full(control);
            match self
                .send_build(body, &req, vec![(CONTEXT_HEADER, header)])
                .await
            {
                Err(super::ClientError::Api { status: 412, .. }) => {}
                other => return other.map(|s| (s, None)),
            }
        }
        let (body, _, packer) = super::context::spawn_pack(plan);
        Ok((self.build(body, &req).await?, packer))
    }

    /// `POST /build`: upload `context` (a tar, plain or gzip) and follow the build.
    pub async fn build(&self, context: ReqBody, req: &BuildRequest) -> Result<BuildStream> {
        self.send_build(context, req, Vec::new()).await
    }

    async fn send_build(
        &self,
        context: ReqBody,
        req: &BuildRequest,
        mut headers: Vec<(&str, String)>,
    ) -> Result<BuildStream> {
        let path = with_query("/build", &req.query());
        if !req.secrets.is_empty() {
            let map: BTreeMap<&String, String> = req
                .secrets
                .iter()
                .map(|(k, v)| (k, base64::engine::general_purpose::STANDARD.encode(v)))
                .collect();
            headers.push((
                "X-Wharf-Build-Secrets",
                serde_json::to_string(&map).unwrap_or_default(),
            ));
        }
        let resp = self
            .send_with_headers(
                Method::POST,
                &path,
                context,
                Some("application/x-tar"),
                &headers,
            )
            .await?;
        Ok(BuildStream(EventStream::new(resp.into_body())))
    }

    /// `POST /build/prune` (`all` also drops the cache of tagged images' builds; `until` a
    /// duration or time); returns (entries removed, bytes reclaimed).
    pub async fn prune_build_cache(&self, all: bool, until: Option<&str>) -> Result<(usize, u64)> {
        let mut q = Vec::new();
        if all {
            q.push(("all", "1".to_string()));
        }
        if let Some(u) = until {
            q.push(("filters", serde_json::json!({ "until": [u] }).to_string()));
        }
        let v: serde_json::Value = self
            .post_json::<_, serde_json::Value>(&with_query("/build/prune", &q), None)
            .await?;
        Ok((
            v["CachesDeleted"].as_array().map(|a| a.len()).unwrap_or(0),
            v["SpaceReclaimed"].as_u64().unwrap_or(0),
        ))
    }
}

/// A request body fed by a channel of chunks (a context tar written by blocking code
/// through [`ChannelWriter`](crate::api::io::ChannelWriter)).
pub fn channel_body(
    rx: tokio::sync::mpsc::Receiver<std::result::Result<bytes::Bytes, std::io::Error>>,
) -> ReqBody {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|item| (item.map(hyper::body::Frame::data), rx))
    });
    http_body_util::BodyExt::boxed(http_body_util::StreamBody::new(stream))
}
