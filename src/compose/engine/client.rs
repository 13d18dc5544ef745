//! The wharf daemon (or any Docker engine) through its API client.

use bytes::Bytes;
use futures_util::StreamExt;

use super::{BuildJob, ComposeEngine, Events, Filters, LogStream, Result};
use crate::api::client::build::BuildMessage;
use crate::api::client::{next_chunk, Client, ClientError};
use crate::api::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    ExecConfig, ImageInspect, Network, NetworkCreateResponse, Volume,
};

#[async_trait::async_trait]
impl ComposeEngine for Client {
    async fn list_containers(&self, all: bool, filters: &Filters) -> Result<Vec<ContainerSummary>> {
        Client::list_containers(self, all, filters).await
    }
    async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse> {
        Client::inspect_container(self, id).await
    }
    async fn create_container(
        &self,
        name: Option<&str>,
        body: &ContainerCreateBody,
    ) -> Result<ContainerCreateResponse> {
        Client::create_container(self, name, None, body).await
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        Client::start_container(self, id).await
    }
    async fn stop_container(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        Client::stop_container(self, id, timeout, None).await
    }
    async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<()> {
        Client::kill_container(self, id, signal).await
    }
    async fn restart_container(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        Client::restart_container(self, id, timeout).await
    }
    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        Client::remove_container(self, id, force, volumes).await
    }
    async fn pause_container(&self, id: &str) -> Result<()> {
        Client::pause_container(self, id).await
    }
    async fn unpause_container(&self, id: &str) -> Result<()> {
        Client::unpause_container(self, id).await
    }
    async fn put_archive(&self, id: &str, path: &str, tar: Vec<u8>) -> Result<()> {
        Client::put_archive(self, id, path, tar).await
    }
    async fn exec(&self, id: &str, cfg: &ExecConfig) -> Result<(i64, Vec<u8>)> {
        Client::exec_output(self, id, cfg).await
    }
    async fn container_logs(&self, id: &str, params: &[(&str, String)]) -> Result<LogStream> {
        let (raw, body) = Client::container_logs(self, id, params).await?;
        let chunks = futures_util::stream::unfold(Some(body), |body| async move {
            let mut body = body?;
            match next_chunk(&mut body).await {
                Ok(Some(c)) => Some((Ok::<Bytes, _>(c), Some(body))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(LogStream {
            raw,
            chunks: chunks.boxed(),
        })
    }
    async fn top_container(&self, id: &str) -> Result<serde_json::Value> {
        Client::top_container(self, id).await
    }
    async fn events(&self, filters: &Filters) -> Result<Events> {
        let stream = Client::events(self, filters, None, None).await?;
        let events = futures_util::stream::unfold(Some(stream), |stream| async move {
            let mut stream = stream?;
            match stream.next().await {
                Ok(Some(v)) => Some((Ok(v), Some(stream))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(events.boxed())
    }
    async fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>> {
        Client::list_networks(self, filters).await
    }
    async fn inspect_network(&self, id: &str) -> Result<Network> {
        Client::inspect_network(self, id).await
    }
    async fn create_network(&self, body: &serde_json::Value) -> Result<NetworkCreateResponse> {
        Client::create_network(self, body).await
    }
    async fn remove_network(&self, id: &str) -> Result<()> {
        Client::remove_network(self, id).await
    }
    async fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        Client::disconnect_network(self, network, container, force).await
    }
    async fn list_volumes(&self, filters: &Filters) -> Result<Vec<Volume>> {
        Client::list_volumes(self, filters).await
    }
    async fn inspect_volume(&self, name: &str) -> Result<Volume> {
        Client::inspect_volume(self, name).await
    }
    async fn create_volume(&self, body: &serde_json::Value) -> Result<Volume> {
        Client::create_volume_with(self, body).await
    }
    async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        Client::remove_volume(self, name, force).await
    }
    async fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        Client::inspect_image(self, name).await
    }
    async fn pull_image(&self, name: &str, platform: Option<&str>) -> Result<()> {
        Client::pull_image(self, name, platform).await
    }
    async fn push_image(&self, name: &str) -> Result<()> {
        Client::push_image(self, name).await
    }
    async fn remove_image(&self, name: &str, force: bool) -> Result<()> {
        Client::remove_image(self, name, force).await
    }
    async fn build_image(
        &self,
        job: BuildJob,
        progress: &(dyn for<'l> Fn(&'l str) + Send + Sync),
    ) -> Result<String> {
        let (mut stream, packer) = Client::build_from(self, job.context, &job.request).await?;
        let mut image = None;
        let mut failed = None;
        while let Some(m) = stream.next().await? {
            match m {
                BuildMessage::Stream(s) => progress(&s),
                BuildMessage::Image(id) => image = Some(id),
                BuildMessage::Error(e) => failed = Some(e),
            }
        }
        if let Some(job) = packer {
            job.await
                .map_err(|e| ClientError::Decode(e.to_string()))?
                .map_err(|e| ClientError::Decode(format!("sending the build context: {e}")))?;
        }
        if let Some(e) = failed {
            return Err(ClientError::Api {
                status: 400,
                message: e,
            });
        }
        image.ok_or_else(|| ClientError::Decode("the build ended without an image".into()))
    }
}
