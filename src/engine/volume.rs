//! Named volumes (the `local` driver): a directory per volume under the root.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::{Error, IoContext, Result};
use super::paths::Paths;
use super::store::{Store, Table};
use crate::util::fsutil::remove_dir_all_quiet;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    pub mountpoint: PathBuf,
    pub created: String,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
}

/// Label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

pub struct Volumes {
    paths: Paths,
    db: Arc<Store>,
}

impl Volumes {
    pub fn new(paths: Paths, db: Arc<Store>) -> Self {
        Volumes { paths, db }
    }

    /// Create a volume, or return the existing one of that name (as Docker does).
    pub fn create(
        &self,
        name: Option<&str>,
        driver: Option<&str>,
        labels: HashMap<String, String>,
        options: HashMap<String, String>,
    ) -> Result<VolumeRecord> {
        let driver = driver.filter(|d| !d.is_empty()).unwrap_or("local");
        if driver != "local" {
            return Err(Error::not_found(format!(
                "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        let anonymous = name.is_none_or(|n| n.is_empty());
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                if !super::container::mounts::valid_volume_name(n) {
                    return Err(Error::invalid(format!(
                        "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
                    )));
                }
                n.to_string()
            }
            None => crate::util::ids::random_id(),
        };
        if let Some(existing) = self.db.get::<VolumeRecord>(Table::Volumes, &name)? {
            return Ok(existing);
        }
        for key in options.keys() {
            if !["type", "device", "o"].contains(&key.as_str()) {
                return Err(Error::invalid(format!("invalid option key: {key:?}")));
            }
        }
        let data = self.paths.volume_data(&name);
        std::fs::create_dir_all(&data)
            .ctx(|| format!("creating volume directory {}", data.display()))?;
        let mut labels = labels;
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let rec = VolumeRecord {
            name: name.clone(),
            driver: driver.to_string(),
            mountpoint: data,
            created: super::now_rfc3339(),
            labels,
            options,
            anonymous,
        };
        self.db.put(Table::Volumes, &name, &rec)?;
        Ok(rec)
    }

    pub fn get(&self, name: &str) -> Result<VolumeRecord> {
        self.db
            .get(Table::Volumes, name)?
            .ok_or_else(|| Error::not_found(format!("get {name}: no such volume")))
    }

    pub fn list(&self) -> Result<Vec<VolumeRecord>> {
        let mut v: Vec<VolumeRecord> = self.db.list(Table::Volumes)?;
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// The host directory a container mounts for this volume. A volume with the local
    /// driver's `type=none,o=bind,device=/path` options mounts that path instead.
    pub fn host_path(&self, rec: &VolumeRecord) -> PathBuf {
        match (rec.options.get("o"), rec.options.get("device")) {
            (Some(o), Some(dev)) if o.split(',').any(|x| x == "bind") => PathBuf::from(dev),
            _ => rec.mountpoint.clone(),
        }
    }

    /// Remove a volume; `users` are the containers using it (refused unless empty).
    pub fn remove(&self, name: &str, users: &[String]) -> Result<()> {
        self.get(name)?;
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        self.db.delete(Table::Volumes, name)?;
        remove_dir_all_quiet(&self.paths.volumes().join(name))
            .ctx(|| format!("removing volume {name}"))?;
        Ok(())
    }

    pub fn size(&self, rec: &VolumeRecord) -> u64 {
        crate::util::fsutil::dir_size(&self.host_path(rec))
    }
}
