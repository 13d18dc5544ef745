//! Typed calls to a Swarm manager's endpoints: the swarm itself, services, tasks, nodes,
//! secrets, configs and the registry lookup (`/distribution`) that pins an image to a digest.
//! wharf's own engine is a single machine and serves none of these; they exist for
//! `wharf stack`, which hands a compose file to a Docker Swarm.

use std::collections::HashMap;

use hyper::Method;

use super::{decode, empty, full, with_query, Client, ClientError, Result};
use crate::api::models::{
    Config, ConfigSpec, DistributionInspect, Node, Secret, SecretSpec, Service,
    ServiceCreateResponse, ServiceSpec, ServiceUpdateResponse, Swarm, Task,
};

/// Filters as `?filters=` carries them: `{"label":["k=v"]}`.
pub type Filters = HashMap<String, Vec<String>>;

fn filters_query(path: &str, filters: &Filters) -> String {
    with_query(path, &[("filters", super::typed::encode_filters(filters))])
}

/// dockerd writes a ContainerSpec's healthcheck as `Healthcheck` (its Go field) while the API
/// schema, and so the typed model, spells it `HealthCheck`; Go reads either, serde only the
/// one it was told. Renamed before decoding, or every healthcheck read back would be lost.
fn healthcheck_key(container_spec: &mut serde_json::Value) {
    if let Some(spec) = container_spec.as_object_mut() {
        if let Some(h) = spec.remove("Healthcheck") {
            spec.entry("HealthCheck").or_insert(h);
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: impl Into<serde_json::Value>) -> Result<T> {
    serde_json::from_value(v.into()).map_err(|e| ClientError::Decode(e.to_string()))
}

/// The id a create answered with (`{"ID": "…"}`).
#[derive(serde::Deserialize)]
struct IdResponse {
    #[serde(rename = "ID", alias = "Id")]
    id: String,
}

impl Client {
    /// `/info`, untyped: engines of other versions differ in its fields' types.
    pub async fn info(&self) -> Result<serde_json::Value> {
        self.get_json("/info").await
    }

    pub async fn inspect_swarm(&self) -> Result<Swarm> {
        self.get_json("/swarm").await
    }

    pub async fn list_services(&self, filters: &Filters) -> Result<Vec<Service>> {
        let mut v: Vec<serde_json::Value> =
            self.get_json(&filters_query("/services", filters)).await?;
        for s in &mut v {
            healthcheck_key(&mut s["Spec"]["TaskTemplate"]["ContainerSpec"]);
        }
        typed(v)
    }

    pub async fn inspect_service(&self, id: &str) -> Result<Service> {
        let mut v: serde_json::Value = self.get_json(&format!("/services/{id}")).await?;
        healthcheck_key(&mut v["Spec"]["TaskTemplate"]["ContainerSpec"]);
        typed(v)
    }

    /// `registry_auth`: an `X-Registry-Auth` value the nodes pull with.
    pub async fn create_service(
        &self,
        spec: &ServiceSpec,
        registry_auth: Option<&str>,
    ) -> Result<ServiceCreateResponse> {
        let body = json_body(spec)?;
        let resp = self
            .send_with_auth(
                Method::POST,
                "/services/create",
                body,
                Some("application/json"),
                registry_auth,
            )
            .await?;
        decode(resp).await
    }

    /// Replace the spec of the service at `version` (the swarm refuses a stale one).
    pub async fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
        registry_auth: Option<&str>,
    ) -> Result<ServiceUpdateResponse> {
        let params = [("version", version.to_string())];
        let resp = self
            .send_with_auth(
                Method::POST,
                &with_query(&format!("/services/{id}/update"), &params),
                json_body(spec)?,
                Some("application/json"),
                registry_auth,
            )
            .await?;
        decode(resp).await
    }

    pub async fn remove_service(&self, id: &str) -> Result<()> {
        self.delete(&format!("/services/{id}")).await.map(|_| ())
    }

    pub async fn list_tasks(&self, filters: &Filters) -> Result<Vec<Task>> {
        let mut v: Vec<serde_json::Value> =
            self.get_json(&filters_query("/tasks", filters)).await?;
        for t in &mut v {
            healthcheck_key(&mut t["Spec"]["ContainerSpec"]);
        }
        typed(v)
    }

    pub async fn list_nodes(&self, filters: &Filters) -> Result<Vec<Node>> {
        self.get_json(&filters_query("/nodes", filters)).await
    }

    pub async fn list_secrets(&self, filters: &Filters) -> Result<Vec<Secret>> {
        self.get_json(&filters_query("/secrets", filters)).await
    }

    pub async fn create_secret(&self, spec: &SecretSpec) -> Result<String> {
        let r: IdResponse = self.post_json("/secrets/create", Some(spec)).await?;
        Ok(r.id)
    }

    pub async fn update_secret(&self, id: &str, version: u64, spec: &SecretSpec) -> Result<()> {
        self.post_unit(&format!("/secrets/{id}/update?version={version}"), spec)
            .await
    }

    pub async fn remove_secret(&self, id: &str) -> Result<()> {
        self.delete(&format!("/secrets/{id}")).await.map(|_| ())
    }

    pub async fn list_configs(&self, filters: &Filters) -> Result<Vec<Config>> {
        self.get_json(&filters_query("/configs", filters)).await
    }

    pub async fn create_config(&self, spec: &ConfigSpec) -> Result<String> {
        let r: IdResponse = self.post_json("/configs/create", Some(spec)).await?;
        Ok(r.id)
    }

    pub async fn update_config(&self, id: &str, version: u64, spec: &ConfigSpec) -> Result<()> {
        self.post_unit(&format!("/configs/{id}/update?version={version}"), spec)
            .await
    }

    pub async fn remove_config(&self, id: &str) -> Result<()> {
        self.delete(&format!("/configs/{id}")).await.map(|_| ())
    }

    /// The manifest digest and platforms of `image` as the daemon's registry client sees it.
    pub async fn distribution_inspect(
        &self,
        image: &str,
        registry_auth: Option<&str>,
    ) -> Result<DistributionInspect> {
        let resp = self
            .send_with_auth(
                Method::GET,
                &format!("/distribution/{image}/json"),
                empty(),
                None,
                registry_auth,
            )
            .await?;
        decode(resp).await
    }

    /// A POST of a JSON body whose answer has nothing to read.
    async fn post_unit<B: serde::Serialize>(&self, path: &str, body: &B) -> Result<()> {
        use http_body_util::BodyExt;
        let resp = self
            .send(
                Method::POST,
                path,
                json_body(body)?,
                Some("application/json"),
            )
            .await?;
        let _ = resp.into_body().collect().await?;
        Ok(())
    }
}

fn json_body<B: serde::Serialize>(body: &B) -> Result<super::ReqBody> {
    serde_json::to_vec(body)
        .map(full)
        .map_err(|e| ClientError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthcheck_written_as_dockerd_writes_it_is_read() {
        let mut task = serde_json::json!({
            "ID": "t1",
            "Spec": {"ContainerSpec": {"Image": "box", "Healthcheck": {"Test": ["CMD", "true"]}}}
        });
        healthcheck_key(&mut task["Spec"]["ContainerSpec"]);
        let task: Task = typed(task).unwrap();
        let test = task
            .spec
            .unwrap()
            .container_spec
            .unwrap()
            .health_check
            .unwrap()
            .test;
        assert_eq!(test.unwrap(), ["CMD", "true"]);
    }
}
