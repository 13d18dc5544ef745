//! `GET /distribution/{name}/json` (`docker manifest inspect`'s and swarm's lookup): what the
//! registry holds for a reference, without pulling it: the manifest's descriptor (media type,
//! digest, size) and the platforms it serves (an index's entries, or an image's config).

use serde_json::{json, Value};

use super::auth::Credentials;
use super::session::{session, verify};
use super::ACCEPT;
use crate::engine::error::{Error, Result};
use crate::engine::image::reference::Reference;
use crate::engine::Engine;

impl Engine {
    /// The descriptor and platforms of `reference` at its registry, as dockerd answers them.
    pub async fn distribution_inspect(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
    ) -> Result<Value> {
        let r = Reference::parse(reference).map_err(Error::invalid)?;
        let endpoint = self.registry_endpoint(&r).await?;
        let mut s = session(endpoint, &r.repository, credentials);
        let tag = r
            .digest
            .clone()
            .or(r.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let what = format!("manifest for {}", r.familiar());
        let path = format!("/v2/{}/manifests/{tag}", r.repository);
        let (body, header_digest) = s.fetch_bytes(&path, Some(ACCEPT), &what).await?;
        if tag.starts_with("sha256:") {
            verify(&tag, &body).map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        }
        let manifest: Value =
            serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        let digest = header_digest.unwrap_or_else(|| crate::util::ids::sha256_digest(&body));
        let media_type = manifest["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.docker.distribution.manifest.v2+json")
            .to_string();
        let platforms: Vec<Value> = match manifest["manifests"].as_array() {
            Some(entries) => entries
                .iter()
                .filter_map(|e| e.get("platform").cloned())
                .filter(|p| p["os"] != "unknown")
                .collect(),
            None => {
                // An image: its platform is in its config.
                let config = manifest["config"]["digest"].as_str().ok_or_else(|| {
                    Error::invalid(format!("{what}: no config (schema 1 is not supported)"))
                })?;
                let path = format!("/v2/{}/blobs/{config}", r.repository);
                let (blob, _) = s.fetch_bytes(&path, None, "image config").await?;
                verify(config, &blob)?;
                let c: Value = serde_json::from_slice(&blob)
                    .map_err(|e| Error::invalid(format!("image config: {e}")))?;
                let mut p = json!({"architecture": c["architecture"], "os": c["os"]});
                if let Some(v) = c["variant"].as_str() {
                    p["variant"] = v.into();
                }
                vec![p]
            }
        };
        Ok(json!({
            "Descriptor": {"mediaType": media_type, "digest": digest, "size": body.len()},
            "Platforms": platforms,
        }))
    }
}
