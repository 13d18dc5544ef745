//! Typed calls (bollard-like) for the operations the CLI and compose use.

use std::collections::HashMap;

use super::{with_query, Client, Result};
use crate::api::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    ContainerWaitResponse, ExecConfig, ImageInspect, ImageSummary, Volume,
};

/// `filters` as Docker encodes it: `{"key":["v1","v2"]}`.
pub fn encode_filters(filters: &HashMap<String, Vec<String>>) -> String {
    serde_json::to_string(filters).unwrap_or_else(|_| "{}".into())
}

impl Client {
    /// `POST /containers/create`; `platform` (`os/arch`) makes the daemon check the image's.
    pub async fn create_container(
        &self,
        name: Option<&str>,
        platform: Option<&str>,
        body: &ContainerCreateBody,
    ) -> Result<ContainerCreateResponse> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(n) = name {
            params.push(("name", n.to_string()));
        }
        if let Some(p) = platform {
            params.push(("platform", p.to_string()));
        }
        self.post_json(&with_query("/containers/create", &params), Some(body))
            .await
    }

    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.post(&format!("/containers/{id}/start"))
            .await
            .map(|_| ())
    }

    pub async fn stop_container(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let mut params = Vec::new();
        if let Some(t) = timeout {
            params.push(("t", t.to_string()));
        }
        if let Some(s) = signal {
            params.push(("signal", s.to_string()));
        }
        self.post(&with_query(&format!("/containers/{id}/stop"), &params))
            .await
            .map(|_| ())
    }

    pub async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<()> {
        let params: Vec<(&str, String)> = signal
            .map(|s| vec![("signal", s.to_string())])
            .unwrap_or_default();
        self.post(&with_query(&format!("/containers/{id}/kill"), &params))
            .await
            .map(|_| ())
    }

    pub async fn wait_container(&self, id: &str, condition: &str) -> Result<ContainerWaitResponse> {
        self.post_json::<_, ()>(
            &with_query(
                &format!("/containers/{id}/wait"),
                &[("condition", condition.to_string())],
            ),
            None,
        )
        .await
    }

    pub async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let params = [("force", force.to_string()), ("v", volumes.to_string())];
        self.delete(&with_query(&format!("/containers/{id}"), &params))
            .await
            .map(|_| ())
    }

    pub async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.get_json(&format!("/containers/{id}/json")).await
    }

    pub async fn list_containers(
        &self,
        all: bool,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerSummary>> {
        self.list_containers_sized(all, filters, false).await
    }

    /// [`Self::list_containers`], with each one's `SizeRw`/`SizeRootFs` when `size`.
    pub async fn list_containers_sized(
        &self,
        all: bool,
        filters: &HashMap<String, Vec<String>>,
        size: bool,
    ) -> Result<Vec<ContainerSummary>> {
        let mut params = vec![
            ("all", all.to_string()),
            ("filters", encode_filters(filters)),
        ];
        if size {
            params.push(("size", "1".into()));
        }
        self.get_json(&with_query("/containers/json", &params))
            .await
    }

    pub async fn create_exec(&self, container: &str, cfg: &ExecConfig) -> Result<String> {
        let v: serde_json::Value = self
            .post_json(&format!("/containers/{container}/exec"), Some(cfg))
            .await?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }

    pub async fn list_images(
        &self,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<ImageSummary>> {
        self.get_json(&with_query(
            "/images/json",
            &[("filters", encode_filters(filters))],
        ))
        .await
    }

    pub async fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        self.get_json(&format!("/images/{name}/json")).await
    }

    pub async fn create_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<Volume> {
        let body = serde_json::json!({"Name": name, "Labels": labels});
        self.post_json("/volumes/create", Some(&body)).await
    }

    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        self.delete(&with_query(
            &format!("/volumes/{name}"),
            &[("force", force.to_string())],
        ))
        .await
        .map(|_| ())
    }
}
