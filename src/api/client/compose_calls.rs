//! Typed calls used by the compose layer: networks (Docker's `/networks` endpoints), volumes
//! with filters, the `/events` stream, logs, archives and the small container verbs.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::Method;

use super::{empty, full, next_chunk, typed_filters as encode_filters, with_query, Client};
use super::{ClientError, Result};
use crate::api::models::{
    EndpointSettings, ExecConfig, ExecInspectResponse, Network, NetworkCreateResponse, Volume,
};
use crate::api::stream::Decoder;
use tokio::io::AsyncReadExt;

/// A streamed `/events` answer, read line by line (one JSON object per line).
pub struct EventStream {
    body: Incoming,
    buf: Vec<u8>,
}

impl EventStream {
    /// Read a JSON-lines body (events, build progress).
    pub(super) fn new(body: Incoming) -> Self {
        EventStream {
            body,
            buf: Vec::new(),
        }
    }

    /// The next event, `None` when the daemon ended the stream.
    pub async fn next(&mut self) -> Result<Option<serde_json::Value>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(line)
                    .map(Some)
                    .map_err(|e| ClientError::Decode(format!("event: {e}")));
            }
            match next_chunk(&mut self.body).await? {
                Some(c) => self.buf.extend_from_slice(&c),
                None => return Ok(None),
            }
        }
    }
}

impl Client {
    // ---- networks --------------------------------------------------------------------------

    /// `POST /networks/create` with Docker's body (`Name`, `Driver`, `Internal`, `Labels`,
    /// `IPAM`, `Options`, ...).
    pub async fn create_network(&self, body: &serde_json::Value) -> Result<NetworkCreateResponse> {
        self.post_json("/networks/create", Some(body)).await
    }

    pub async fn list_networks(
        &self,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<Network>> {
        self.get_json(&with_query(
            "/networks",
            &[("filters", encode_filters(filters))],
        ))
        .await
    }

    pub async fn inspect_network(&self, id: &str) -> Result<Network> {
        self.get_json(&format!("/networks/{id}")).await
    }

    pub async fn remove_network(&self, id: &str) -> Result<()> {
        self.delete(&format!("/networks/{id}")).await.map(|_| ())
    }

    pub async fn connect_network(
        &self,
        network: &str,
        container: &str,
        endpoint: Option<&EndpointSettings>,
    ) -> Result<()> {
        let body = serde_json::json!({"Container": container, "EndpointConfig": endpoint});
        let resp = self
            .send(
                Method::POST,
                &format!("/networks/{network}/connect"),
                full(serde_json::to_vec(&body).unwrap_or_default()),
                Some("application/json"),
            )
            .await?;
        let _ = http_body_util::BodyExt::collect(resp.into_body()).await?;
        Ok(())
    }

    pub async fn disconnect_network(
        &self,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<()> {
        let body = serde_json::json!({"Container": container, "Force": force});
        let resp = self
            .send(
                Method::POST,
                &format!("/networks/{network}/disconnect"),
                full(serde_json::to_vec(&body).unwrap_or_default()),
                Some("application/json"),
            )
            .await?;
        let _ = http_body_util::BodyExt::collect(resp.into_body()).await?;
        Ok(())
    }

    // ---- volumes ---------------------------------------------------------------------------

    pub async fn list_volumes(
        &self,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<Volume>> {
        let v: serde_json::Value = self
            .get_json(&with_query(
                "/volumes",
                &[("filters", encode_filters(filters))],
            ))
            .await?;
        serde_json::from_value(v["Volumes"].clone())
            .or_else(|_| Ok(Vec::new()))
            .map_err(|e: serde_json::Error| ClientError::Decode(e.to_string()))
    }

    /// `POST /volumes/create` with Docker's body (`Name`, `Driver`, `DriverOpts`, `Labels`).
    pub async fn create_volume_with(&self, body: &serde_json::Value) -> Result<Volume> {
        self.post_json("/volumes/create", Some(body)).await
    }

    pub async fn inspect_volume(&self, name: &str) -> Result<Volume> {
        self.get_json(&format!("/volumes/{name}")).await
    }

    // ---- events ----------------------------------------------------------------------------

    /// Subscribe to `/events`; when this returns, the daemon has subscribed (it answers only
    /// after), so nothing that happens afterwards is missed.
    pub async fn events(
        &self,
        filters: &HashMap<String, Vec<String>>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<EventStream> {
        let mut params = vec![("filters", encode_filters(filters))];
        if let Some(s) = since {
            params.push(("since", s.to_string()));
        }
        if let Some(u) = until {
            params.push(("until", u.to_string()));
        }
        let resp = self
            .send(Method::GET, &with_query("/events", &params), empty(), None)
            .await?;
        Ok(EventStream {
            body: resp.into_body(),
            buf: Vec::new(),
        })
    }

    // ---- containers ------------------------------------------------------------------------

    /// `GET /containers/{id}/logs` with the given query parameters: whether the stream is
    /// raw (a TTY container) and the body, which streams (multiplexed) frames.
    pub async fn container_logs(
        &self,
        id: &str,
        params: &[(&str, String)],
    ) -> Result<(bool, Incoming)> {
        let resp = self
            .send(
                Method::GET,
                &with_query(&format!("/containers/{id}/logs"), params),
                empty(),
                None,
            )
            .await?;
        let raw = resp
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("raw-stream"));
        Ok((raw, resp.into_body()))
    }

    pub async fn restart_container(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let params: Vec<(&str, String)> = timeout
            .map(|t| vec![("t", t.to_string())])
            .unwrap_or_default();
        self.post(&with_query(&format!("/containers/{id}/restart"), &params))
            .await
            .map(|_| ())
    }

    pub async fn pause_container(&self, id: &str) -> Result<()> {
        self.post(&format!("/containers/{id}/pause"))
            .await
            .map(|_| ())
    }

    pub async fn unpause_container(&self, id: &str) -> Result<()> {
        self.post(&format!("/containers/{id}/unpause"))
            .await
            .map(|_| ())
    }

    /// `PUT /containers/{id}/archive?path=...` with a tar archive.
    pub async fn put_archive(&self, id: &str, path: &str, tar: Vec<u8>) -> Result<()> {
        let resp = self
            .send(
                Method::PUT,
                &with_query(
                    &format!("/containers/{id}/archive"),
                    &[("path", path.to_string())],
                ),
                full(Bytes::from(tar)),
                Some("application/x-tar"),
            )
            .await?;
        let _ = http_body_util::BodyExt::collect(resp.into_body()).await?;
        Ok(())
    }

    /// Run a command in a running container, without stdin or a TTY, to its end: its exit
    /// code and output (stdout and stderr as they came; only the last 64 KiB are kept).
    pub async fn exec_output(&self, id: &str, cfg: &ExecConfig) -> Result<(i64, Vec<u8>)> {
        const KEEP: usize = 64 * 1024;
        let cfg = ExecConfig {
            attach_stdin: Some(false),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..cfg.clone()
        };
        let exec_id = self.create_exec(id, &cfg).await?;
        let start = serde_json::json!({"Detach": false, "Tty": false}).to_string();
        let mut conn = self
            .hijack(&format!("/exec/{exec_id}/start"), full(start))
            .await?;
        let (mut frames, mut out) = (Decoder::default(), Vec::new());
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            frames.push(&buf[..n]);
            while let Some((_, data)) = frames.next_frame() {
                out.extend_from_slice(&data);
            }
            if out.len() > KEEP {
                out.drain(..out.len() - KEEP);
            }
        }
        let info: ExecInspectResponse = self.get_json(&format!("/exec/{exec_id}/json")).await?;
        Ok((info.exit_code.unwrap_or(0), out))
    }

    pub async fn top_container(&self, id: &str) -> Result<serde_json::Value> {
        self.get_json(&format!("/containers/{id}/top")).await
    }

    // ---- images ----------------------------------------------------------------------------

    /// `POST /images/create?fromImage=...`: pull (for `platform` when given). The progress
    /// stream is read to its end; an error in it (or an error status) is returned.
    pub async fn pull_image(&self, image: &str, platform: Option<&str>) -> Result<()> {
        let (name, tag) = split_tag(image);
        // Always a tag: without one the daemon pulls every tag of the repository.
        let tag = match tag {
            Some(t) => t,
            None if name.contains('@') => "",
            None => "latest",
        };
        let mut params = vec![("fromImage", name.to_string())];
        if !tag.is_empty() {
            params.push(("tag", tag.to_string()));
        }
        if let Some(p) = platform {
            params.push(("platform", p.to_string()));
        }
        let auth = match crate::engine::image::reference::Reference::parse(image) {
            Ok(r) => super::credentials::header_for(&r.registry).await?,
            Err(_) => None,
        };
        let resp = self
            .send_with_auth(
                Method::POST,
                &with_query("/images/create", &params),
                empty(),
                None,
                auth.as_deref(),
            )
            .await?;
        stream_error(resp.into_body()).await
    }

    /// `POST /images/{name}/push?tag=...`: push, with the credentials the client has for the
    /// image's registry. As for a pull, the progress stream is read to its end and an error in it
    /// is returned.
    pub async fn push_image(&self, image: &str) -> Result<()> {
        let (name, tag) = split_tag(image);
        let path = with_query(
            &format!("/images/{name}/push"),
            &[("tag", tag.unwrap_or("latest").to_string())],
        );
        let auth = match crate::engine::image::reference::Reference::parse(image) {
            Ok(r) => super::credentials::header_for(&r.registry).await?,
            Err(_) => None,
        };
        let resp = self
            .send_with_auth(Method::POST, &path, empty(), None, auth.as_deref())
            .await?;
        stream_error(resp.into_body()).await
    }

    pub async fn remove_image(&self, name: &str, force: bool) -> Result<()> {
        self.delete(&with_query(
            &format!("/images/{name}"),
            &[("force", force.to_string())],
        ))
        .await
        .map(|_| ())
    }
}

/// A JSON progress stream (pull, push) read to its end: the first `error` in it, if any.
async fn stream_error(mut body: Incoming) -> Result<()> {
    let mut buf = Vec::new();
    while let Some(c) = next_chunk(&mut body).await? {
        buf.extend_from_slice(&c);
    }
    for line in buf.split(|b| *b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            if let Some(e) = v["error"].as_str().or(v["errorDetail"]["message"].as_str()) {
                return Err(ClientError::Api {
                    status: 500,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// `repo[:tag][@digest]` → (repo, tag); a `:` inside the registry host is not a tag.
pub fn split_tag(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    match image.rfind(':') {
        Some(i) if !image[i + 1..].contains('/') => (&image[..i], Some(&image[i + 1..])),
        _ => (image, None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags() {
        assert_eq!(super::split_tag("busybox"), ("busybox", None));
        assert_eq!(super::split_tag("busybox:1"), ("busybox", Some("1")));
        assert_eq!(
            super::split_tag("localhost:5000/x"),
            ("localhost:5000/x", None)
        );
        assert_eq!(
            super::split_tag("localhost:5000/x:2"),
            ("localhost:5000/x", Some("2"))
        );
    }
}
