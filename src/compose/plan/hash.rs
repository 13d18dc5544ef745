//! The config hash of a service (the `com.docker.compose.config-hash` label): sha256 of its
//! normalised configuration (without the keys that do not change a container: build,
//! pull_policy, scale, deploy.replicas, depends_on, profiles) plus the CONTENT of its env_files
//! and of the files of its secrets and configs.

use std::path::Path;

use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::compose::error::{ComposeError, Result};
use crate::compose::load::finalize::service_input_files;
use crate::compose::model::Project;

/// The config hash of `service`, reading its files from disk.
pub fn service_hash(project: &Project, service: &str) -> Result<String> {
    service_hash_with(project, service, &|p| {
        std::fs::read(p).map(Some).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(e)
            }
        })
    })
}

/// The config hash of `service`, reading files with `read` (`Ok(None)`: the file is absent).
pub fn service_hash_with(
    project: &Project,
    service: &str,
    read: &dyn Fn(&Path) -> std::io::Result<Option<Vec<u8>>>,
) -> Result<String> {
    let svc = project
        .services
        .get(service)
        .ok_or_else(|| ComposeError::NoSuchService {
            service: service.to_string(),
        })?;
    let mut v = serde_json::to_value(svc).expect("service serialises");
    if let J::Object(m) = &mut v {
        // what does not change the container: how it is built, pulled, scaled, ordered,
        // watched, and the commands run in it around its start and stop
        let not_container = [
            "build",
            "pull_policy",
            "scale",
            "depends_on",
            "profiles",
            "develop",
            "post_start",
            "pre_stop",
        ];
        for k in not_container {
            m.remove(k);
        }
        if let Some(J::Object(d)) = m.get_mut("deploy") {
            d.remove("replicas");
            if d.is_empty() {
                m.remove("deploy");
            }
        }
    }
    let mut h = Sha256::new();
    h.update(canonical_json(&v).as_bytes());
    for f in service_input_files(project, svc) {
        let content = read(&f).map_err(|source| ComposeError::Io {
            path: f.clone(),
            what: "cannot read file for the config hash",
            source,
        })?;
        h.update(b"\0file\0");
        h.update(f.to_string_lossy().as_bytes());
        h.update(b"\0");
        match content {
            Some(c) => {
                h.update(Sha256::digest(&c));
            }
            None => h.update(b"absent"),
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// JSON with object keys sorted at every level (independent of serde_json's features).
pub fn canonical_json(v: &J) -> String {
    match v {
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap(),
                        canonical_json(&m[k])
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        J::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}
