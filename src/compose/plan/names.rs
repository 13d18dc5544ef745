//! Names and labels of the engine objects a project owns, as Docker Compose writes them
//! (`<project>-<service>-<n>`, `<project>_<key>`, the `com.docker.compose.*` labels).

use std::collections::BTreeMap;

use super::{labels, COMPOSE_VERSION};
use crate::compose::model::{DependsCondition, Project, Service};

/// `<project>-<service>-<n>`, or the service's `container_name`.
pub fn container_name(project: &Project, service: &str, number: u32) -> String {
    match project
        .services
        .get(service)
        .and_then(|s| s.container_name.clone())
    {
        Some(n) => n,
        None => format!("{}-{}-{}", project.name, service, number),
    }
}

/// The engine-side name of a project network (`<project>_<key>` unless set).
pub fn network_name(project: &Project, key: &str) -> String {
    project
        .networks
        .get(key)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// The engine-side name of a project volume (`<project>_<key>` unless set).
pub fn volume_name(project: &Project, key: &str) -> String {
    project
        .volumes
        .get(key)
        .map(|v| v.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// The image a service runs (`image`, or `<project>-<service>` for a build-only service).
pub fn service_image(project: &Project, service: &str, svc: &Service) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("{}-{}", project.name, service))
}

/// The labels of a service container (the service's own labels plus compose's).
pub fn container_labels(
    project: &Project,
    service: &str,
    number: u32,
    config_hash: &str,
    oneoff: bool,
    image_id: Option<&str>,
) -> BTreeMap<String, String> {
    let svc = project.services.get(service);
    let mut l: BTreeMap<String, String> = svc.map(|s| s.labels.clone()).unwrap_or_default();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::SERVICE.into(), service.into());
    l.insert(labels::NUMBER.into(), number.to_string());
    l.insert(labels::CONFIG_HASH.into(), config_hash.into());
    l.insert(
        labels::ONEOFF.into(),
        if oneoff { "True" } else { "False" }.into(),
    );
    l.insert(
        labels::WORKING_DIR.into(),
        project.working_dir.display().to_string(),
    );
    l.insert(
        labels::CONFIG_FILES.into(),
        project
            .config_files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(s) = svc {
        let deps: Vec<String> = s
            .depends_on
            .iter()
            .map(|(k, d)| {
                let cond = match d.condition {
                    DependsCondition::ServiceStarted => "service_started",
                    DependsCondition::ServiceHealthy => "service_healthy",
                    DependsCondition::ServiceCompletedSuccessfully => {
                        "service_completed_successfully"
                    }
                };
                format!("{k}:{cond}:{}", d.restart)
            })
            .collect();
        l.insert(labels::DEPENDS_ON.into(), deps.join(","));
        l.insert(
            labels::IMAGE.into(),
            image_id
                .map(str::to_string)
                .unwrap_or_else(|| service_image(project, service, s)),
        );
    }
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    l
}

/// The labels of a project network.
pub fn network_labels(project: &Project, key: &str) -> BTreeMap<String, String> {
    let mut l = project
        .networks
        .get(key)
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::NETWORK.into(), key.into());
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    l
}

/// The labels of a project volume.
pub fn volume_labels(project: &Project, key: &str) -> BTreeMap<String, String> {
    let mut l = project
        .volumes
        .get(key)
        .map(|v| v.labels.clone())
        .unwrap_or_default();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::VOLUME.into(), key.into());
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    l
}
