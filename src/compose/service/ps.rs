//! The read-only commands: `ps`, `ls`, `images`, `port`, `top`. Each returns what it found;
//! the CLI shapes it into docker compose's tables and JSON.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{id_of, label_of, name_of, Compose, Error, Result};
use crate::api::models::ContainerSummary;
use crate::compose::model::Project;
use crate::compose::plan::labels;

#[derive(Clone, Debug, Default)]
pub struct PsRequest {
    pub services: Vec<String>,
    pub all: bool,
    /// Only containers in one of these states (`running`, `exited`, ...).
    pub status: Vec<String>,
}

/// A project as `ls` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectSummary {
    pub name: String,
    /// `running(2), exited(1)`
    pub status: String,
    pub config_files: String,
    pub running: bool,
}

/// One row of `images`: a container and its image.
#[derive(Clone, Debug)]
pub struct ContainerImage {
    pub container: String,
    pub repository: String,
    pub tag: String,
    pub id: String,
    pub size: i64,
}

impl Compose {
    pub async fn ps(&self, project: &Project, req: &PsRequest) -> Result<Vec<ContainerSummary>> {
        let all = req.all || !req.status.is_empty();
        let mut list = self
            .containers(&project.name, &req.services, all, false)
            .await?;
        if !req.status.is_empty() {
            list.retain(|c| {
                c.state
                    .is_some_and(|s| req.status.iter().any(|x| *x == s.to_string()))
            });
        }
        Ok(list)
    }

    /// Every project with containers in the engine (`all`: stopped ones too).
    pub async fn ls(&self, all: bool) -> Result<Vec<ProjectSummary>> {
        let mut f: HashMap<String, Vec<String>> = HashMap::new();
        f.insert("label".into(), vec![labels::PROJECT.to_string()]);
        let list = self.engine.list_containers(true, &f).await?;
        let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
        for c in &list {
            let e = projects.entry(label_of(c, labels::PROJECT)).or_default();
            let state = c.state.map(|s| s.to_string()).unwrap_or_default();
            *e.0.entry(state).or_default() += 1;
            if e.1.is_empty() {
                e.1 = label_of(c, labels::CONFIG_FILES);
            }
        }
        Ok(projects
            .into_iter()
            .map(|(name, (states, config_files))| ProjectSummary {
                name,
                running: states.contains_key("running"),
                status: states
                    .iter()
                    .map(|(s, n)| format!("{s}({n})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                config_files,
            })
            .filter(|p| all || p.running)
            .collect())
    }

    /// The images of the project's containers; the distinct image IDs come with them.
    pub async fn images(
        &self,
        project: &Project,
        services: &[String],
    ) -> Result<(Vec<ContainerImage>, BTreeSet<String>)> {
        let list = self
            .containers(&project.name, services, true, false)
            .await?;
        let mut rows = Vec::new();
        let mut ids = BTreeSet::new();
        for c in &list {
            let image = c.image.clone().unwrap_or_default();
            let info = self
                .engine
                .inspect_image(c.image_id.as_deref().unwrap_or(&image))
                .await
                .ok();
            let id = c.image_id.clone().unwrap_or_default();
            ids.insert(id.clone());
            let (repo, tag) = crate::api::client::split_tag(&image);
            rows.push(ContainerImage {
                container: name_of(c),
                repository: repo.to_string(),
                tag: tag.unwrap_or("latest").to_string(),
                id,
                size: info.and_then(|i| i.size).unwrap_or(0),
            });
        }
        Ok((rows, ids))
    }

    /// `port`: the host address a container port of a service is published on.
    pub async fn port(
        &self,
        project: &Project,
        service: &str,
        index: u32,
        private_port: u16,
        protocol: &str,
    ) -> Result<String> {
        let c = self
            .service_container(&project.name, service, index)
            .await?;
        let info = self.engine.inspect_container(id_of(&c)).await?;
        let key = format!("{private_port}/{protocol}");
        let bindings = info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get(&key).cloned().flatten())
            .or_else(|| {
                info.host_config
                    .and_then(|h| h.port_bindings)
                    .and_then(|p| p.get(&key).cloned().flatten())
            })
            .unwrap_or_default();
        let b = bindings.first().ok_or_else(|| {
            Error::Usage(format!(
                "no port {key} for container {}: not published",
                name_of(&c)
            ))
        })?;
        let ip = b
            .host_ip
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| "0.0.0.0".into());
        Ok(format!("{ip}:{}", b.host_port.clone().unwrap_or_default()))
    }

    /// `top`: (container name, titles, processes) of each running container.
    pub async fn top(&self, project: &Project, services: &[String]) -> Result<Vec<Top>> {
        let list = self
            .containers(&project.name, services, false, false)
            .await?;
        let mut out = Vec::new();
        for c in &list {
            let v = self.engine.top_container(id_of(c)).await?;
            out.push(Top {
                container: name_of(c),
                titles: serde_json::from_value(v["Titles"].clone()).unwrap_or_default(),
                processes: serde_json::from_value(v["Processes"].clone()).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// The processes of one container.
pub struct Top {
    pub container: String,
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}
