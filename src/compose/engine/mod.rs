//! The seam between compose and an engine: [`ComposeEngine`] is every call the compose layer
//! makes (about 25, as docker compose's `client.APIClient` subset). The wharf daemon's API
//! client implements it ([`client`]); unit tests use an in-memory engine instead (`fake`), so
//! the executor, the waits and `up`'s session are tested without a daemon.

mod client;
#[cfg(test)]
pub mod fake;

use std::collections::HashMap;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::api::client::build::BuildRequest;
use crate::api::client::{context, ClientError};
use crate::api::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    ExecConfig, ImageInspect, Network, NetworkCreateResponse, Volume,
};

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Docker's `filters` query: key → accepted values.
pub type Filters = HashMap<String, Vec<String>>;

/// `/events` messages (Docker's JSON objects), until the engine ends the stream.
pub type Events = BoxStream<'static, Result<serde_json::Value>>;

/// A container's log: whether it is raw (a TTY container) or multiplexed frames, and the bytes.
pub struct LogStream {
    pub raw: bool,
    pub chunks: BoxStream<'static, Result<Bytes>>,
}

/// An image to build: the context to pack and send, and the request.
pub struct BuildJob {
    pub context: context::Plan,
    pub request: BuildRequest,
}

/// What compose needs from an engine.
#[async_trait::async_trait]
pub trait ComposeEngine: Send + Sync {
    // ---- containers ----
    async fn list_containers(&self, all: bool, filters: &Filters) -> Result<Vec<ContainerSummary>>;
    async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse>;
    async fn create_container(
        &self,
        name: Option<&str>,
        body: &ContainerCreateBody,
    ) -> Result<ContainerCreateResponse>;
    async fn start_container(&self, id: &str) -> Result<()>;
    async fn stop_container(&self, id: &str, timeout: Option<i64>) -> Result<()>;
    async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<()>;
    async fn restart_container(&self, id: &str, timeout: Option<i64>) -> Result<()>;
    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()>;
    async fn pause_container(&self, id: &str) -> Result<()>;
    async fn unpause_container(&self, id: &str) -> Result<()>;
    /// Extract a tar archive into the container at `path`.
    async fn put_archive(&self, id: &str, path: &str, tar: Vec<u8>) -> Result<()>;
    /// Run a command in a running container to its end (no stdin, no TTY): exit code and
    /// output.
    async fn exec(&self, id: &str, cfg: &ExecConfig) -> Result<(i64, Vec<u8>)>;
    async fn container_logs(&self, id: &str, params: &[(&str, String)]) -> Result<LogStream>;
    /// `/containers/{id}/top` (`Titles`, `Processes`).
    async fn top_container(&self, id: &str) -> Result<serde_json::Value>;
    async fn events(&self, filters: &Filters) -> Result<Events>;
    // ---- networks ----
    async fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>>;
    async fn inspect_network(&self, id: &str) -> Result<Network>;
    /// Docker's create body (`Name`, `Driver`, `Internal`, `Labels`, `IPAM`, ...).
    async fn create_network(&self, body: &serde_json::Value) -> Result<NetworkCreateResponse>;
    async fn remove_network(&self, id: &str) -> Result<()>;
    async fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()>;
    // ---- volumes ----
    async fn list_volumes(&self, filters: &Filters) -> Result<Vec<Volume>>;
    async fn inspect_volume(&self, name: &str) -> Result<Volume>;
    async fn create_volume(&self, body: &serde_json::Value) -> Result<Volume>;
    async fn remove_volume(&self, name: &str, force: bool) -> Result<()>;
    // ---- images ----
    async fn inspect_image(&self, name: &str) -> Result<ImageInspect>;
    /// Pull an image, for `platform` (compose's `platform:`) when given.
    async fn pull_image(&self, name: &str, platform: Option<&str>) -> Result<()>;
    /// Push a local image to the registry its name says.
    async fn push_image(&self, name: &str) -> Result<()>;
    async fn remove_image(&self, name: &str, force: bool) -> Result<()>;
    /// Build an image; each output line goes to `progress`; the image ID.
    async fn build_image(
        &self,
        job: BuildJob,
        progress: &(dyn for<'l> Fn(&'l str) + Send + Sync),
    ) -> Result<String>;
}

/// A shared handle on an engine.
pub type Engine = std::sync::Arc<dyn ComposeEngine>;
