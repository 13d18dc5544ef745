//! `volumes`: the project's volumes as the engine has them (by compose's project label), or
//! only those the named services mount.

use std::collections::{BTreeSet, HashMap};

use super::{Compose, Result};
use crate::api::models::Volume;
use crate::compose::model::{MountType, Project};
use crate::compose::plan::labels;

impl Compose {
    pub async fn volumes(&self, project: &Project, services: &[String]) -> Result<Vec<Volume>> {
        let mut f: HashMap<String, Vec<String>> = HashMap::new();
        f.insert(
            "label".into(),
            vec![format!("{}={}", labels::PROJECT, project.name)],
        );
        let mut list = self.engine.list_volumes(&f).await?;
        if !services.is_empty() {
            let used: BTreeSet<&str> = project
                .services
                .iter()
                .filter(|(n, _)| services.contains(n))
                .flat_map(|(_, s)| s.volumes.iter())
                .filter(|m| m.kind == MountType::Volume)
                .filter_map(|m| m.source.as_deref())
                .filter_map(|key| project.volumes.get(key).map(|v| v.name.as_str()))
                .collect();
            list.retain(|v| used.contains(v.name.as_str()));
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }
}
