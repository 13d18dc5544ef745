//! Containers: records (what was asked for, resolved against the image), their lifecycle
//! through supervisors, and the views (`inspect`, `ps`) and filesystem operations on them.

pub mod changes;
mod create;
pub mod defaults;
pub mod fs;
pub mod lifecycle;
pub mod links;
pub mod logs;
pub mod mounts;
pub mod orphan;
mod runspec;
pub mod spare;
mod start;
pub mod stats;
pub mod update;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bollard_stubs::models::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};

pub use create::{parse_signal, CreateRequest};
pub use mounts::ResolvedMount;

use super::error::{Error, Result};
use super::paths::Paths;
use super::store::{self, Store, Table};
use super::supervisor::RunState;

/// One container: the request as Docker clients send it, merged with its image's defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    pub image_id: String,
    /// The merged configuration (image defaults + request), as `inspect` shows it.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// Executable and arguments after entrypoint/cmd resolution.
    pub path: String,
    pub args: Vec<String>,
    pub mounts: Vec<ResolvedMount>,
    /// Last known runtime state (the supervisor's `state.json` is newer while it runs).
    pub state: RunState,
    #[serde(default)]
    pub has_been_started: bool,
    /// Networks asked for (name → aliases, address), for bridge network modes.
    #[serde(default)]
    pub networks: BTreeMap<String, crate::engine::network::EndpointRequest>,
    /// Live attachments (kept while the container exists, ports off while it is stopped).
    #[serde(default)]
    pub endpoints: Vec<crate::net::Endpoint>,
    /// Published ports asked for.
    #[serde(default)]
    pub port_mappings: Vec<crate::net::PortMapping>,
}

impl ContainerRecord {
    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }
    pub fn labels(&self) -> HashMap<String, String> {
        self.config.labels.clone().unwrap_or_default()
    }
    pub fn image_name(&self) -> String {
        self.config.image.clone().unwrap_or_default()
    }
}

/// The container index: every record in memory (for fast `ps`), written through to the store.
/// Names have an index of their own and id prefixes are a range of the ordered map, so no
/// lookup scans every container (a start or removal among 1,000 costs what it does among 10).
pub struct Containers {
    db: Arc<Store>,
    paths: Paths,
    records: Mutex<Records>,
}

/// The records by id, and the id of each name.
#[derive(Default)]
struct Records {
    by_id: BTreeMap<String, ContainerRecord>,
    names: HashMap<String, String>,
}

impl Records {
    fn insert(&mut self, rec: ContainerRecord) {
        if let Some(old) = self.by_id.get(&rec.id) {
            self.names.remove(&old.name);
        }
        self.names.insert(rec.name.clone(), rec.id.clone());
        self.by_id.insert(rec.id.clone(), rec);
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.names.remove(&old.name);
        }
    }

    fn by_name(&self, name: &str) -> Option<&ContainerRecord> {
        self.names.get(name).and_then(|id| self.by_id.get(id))
    }

    /// The records whose id starts with `prefix` (at most `limit` of them).
    fn with_prefix(&self, prefix: &str, limit: usize) -> Vec<&ContainerRecord> {
        self.by_id
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(id, _)| id.starts_with(prefix))
            .take(limit)
            .map(|(_, r)| r)
            .collect()
    }
}

impl Containers {
    pub fn load(paths: &Paths, db: Arc<Store>) -> Result<Self> {
        let mut records = Records::default();
        for rec in db.list::<ContainerRecord>(Table::Containers)? {
            records.insert(rec);
        }
        // Directories of containers whose creation never committed are leftovers.
        if let Ok(rd) = std::fs::read_dir(paths.containers()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !records.by_id.contains_key(&name) {
                    let _ = crate::util::fsutil::remove_dir_all_quiet(&e.path());
                }
            }
        }
        Ok(Containers {
            db,
            paths: paths.clone(),
            records: Mutex::new(records),
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.paths.container_dir(id)
    }

    /// Find by full id, name (with or without `/`), or unique id prefix.
    pub fn resolve(&self, key: &str) -> Result<ContainerRecord> {
        let records = self.records.lock().unwrap();
        if let Some(r) = records.by_id.get(key) {
            return Ok(r.clone());
        }
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(r) = records.by_name(name) {
            return Ok(r.clone());
        }
        if !key.is_empty() {
            match records.with_prefix(key, 2).as_slice() {
                [one] => return Ok((*one).clone()),
                [] => {}
                _ => {
                    let n = records.with_prefix(key, usize::MAX).len();
                    return Err(Error::invalid(format!(
                        "multiple IDs found with provided prefix: {key} ({n} containers)"
                    )));
                }
            }
        }
        Err(Error::not_found(format!("No such container: {key}")))
    }

    pub fn get(&self, id: &str) -> Option<ContainerRecord> {
        self.records.lock().unwrap().by_id.get(id).cloned()
    }

    pub fn all(&self) -> Vec<ContainerRecord> {
        self.records
            .lock()
            .unwrap()
            .by_id
            .values()
            .cloned()
            .collect()
    }

    pub fn name_taken(&self, name: &str) -> Option<String> {
        self.records.lock().unwrap().names.get(name).cloned()
    }

    /// Insert a new record; fails if the name is taken (checked under the lock, atomically).
    pub fn insert(&self, rec: ContainerRecord) -> Result<()> {
        let mut records = self.records.lock().unwrap();
        if let Some(other) = records.by_name(&rec.name) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                rec.name, other.id
            )));
        }
        self.db
            .tx(|tx| store::put_named(tx, Table::Containers, &rec.id, &rec.name, &rec))?;
        records.insert(rec);
        Ok(())
    }

    /// Apply `f` to a record and persist it.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord> {
        let mut records = self.records.lock().unwrap();
        let rec = records
            .by_id
            .get_mut(id)
            .ok_or_else(|| Error::not_found(format!("No such container: {id}")))?;
        let mut updated = rec.clone();
        f(&mut updated);
        // The name index follows the record: no update may change a name (rename does).
        updated.name = rec.name.clone();
        self.db.tx(|tx| {
            store::put_named(tx, Table::Containers, &updated.id, &updated.name, &updated)
        })?;
        *rec = updated.clone();
        Ok(updated)
    }

    /// Update only the in-memory runtime state (frequent: health probes), persisting it when
    /// `persist` (lifecycle changes).
    pub fn set_state(&self, id: &str, state: RunState, persist: bool) -> Option<ContainerRecord> {
        if persist {
            return self.update(id, |r| r.state = state).ok();
        }
        let mut records = self.records.lock().unwrap();
        let rec = records.by_id.get_mut(id)?;
        rec.state = state;
        Some(rec.clone())
    }

    pub fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let mut records = self.records.lock().unwrap();
        if let Some(other) = records.by_name(new_name).filter(|r| r.id != id) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let mut updated = records
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such container: {id}")))?;
        updated.name = new_name.to_string();
        self.db
            .tx(|tx| store::put_named(tx, Table::Containers, id, new_name, &updated))?;
        records.insert(updated);
        Ok(())
    }

    pub fn remove_record(&self, id: &str) -> Result<()> {
        let mut records = self.records.lock().unwrap();
        self.db.delete(Table::Containers, id)?;
        records.remove(id);
        Ok(())
    }

    /// Image ids used by any container.
    pub fn images_in_use(&self) -> Vec<String> {
        self.records
            .lock()
            .unwrap()
            .by_id
            .values()
            .map(|r| r.image_id.clone())
            .collect()
    }
}
