//! The create-container step: the service's create body (`container::build`) with what only
//! the run knows (the replaced container's anonymous volumes, `volumes_from` mounts, the
//! `network_mode: service:` container), created, then secrets and configs copied in.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use crate::api::models::{ContainerCreateBody, Mount, MountPointTypeEnum, MountTypeEnum};
use crate::compose::model::NetworkMode;
use crate::compose::plan::{container_name, service_image};

use super::container::{self, Built, FileCopy};
use super::progress::{Kind, State};
use super::{Inner, StepError};

impl Inner {
    pub(super) async fn create_container(
        &self,
        service: &str,
        number: u32,
        name: &str,
        hash: &str,
        inherit: Option<&str>,
    ) -> Result<(), StepError> {
        let recreate = self.recreating.lock().unwrap().contains(name);
        self.report(
            Kind::Container,
            name,
            State::Working,
            if recreate { "Recreate" } else { "Creating" },
        );
        let inherited = inherit
            .and_then(|old| self.state.lock().unwrap().inherited.get(old).cloned())
            .unwrap_or_default();
        let mut built = self
            .built(service, number, name, hash, &inherited)
            .await
            .map_err(|e| self.fail(Kind::Container, name, e))?;
        self.keep_image_volumes(service, &inherited, &mut built.body);
        for w in &built.warnings {
            self.progress.warning(w);
        }
        let created = match self.engine.create_container(Some(name), &built.body).await {
            Ok(c) => c,
            Err(e) => {
                return Err(self.fail(
                    Kind::Container,
                    name,
                    format!("service {service:?}: cannot create container {name}: {e}"),
                ))
            }
        };
        for w in &created.warnings {
            self.progress.warning(&format!("container {name}: {w}"));
        }
        self.state
            .lock()
            .unwrap()
            .ids
            .insert(name.to_string(), created.id.clone());
        if let Err(e) = self.copy_files(&created.id, &built.files).await {
            return Err(self.fail(
                Kind::Container,
                name,
                format!("service {service:?}: cannot copy secrets and configs into {name}: {e}"),
            ));
        }
        self.report(
            Kind::Container,
            name,
            State::Done,
            if recreate { "Recreated" } else { "Created" },
        );
        Ok(())
    }

    /// The create body, from the service and what this run resolved.
    async fn built(
        &self,
        service: &str,
        number: u32,
        name: &str,
        hash: &str,
        inherited: &HashMap<String, String>,
    ) -> Result<Built, String> {
        let volumes_from = self.volumes_from_mounts(service).await?;
        let svc = &self.project.services[service];
        let network_container = match &svc.network_mode {
            Some(NetworkMode::Service(x)) => Some(self.id_of(&container_name(&self.project, x, 1))),
            _ => None,
        };
        let networking = self.networking.load(Ordering::Relaxed);
        if !networking && !svc.networks.is_empty() && svc.network_mode.is_none() {
            self.warn_no_networking();
        }
        let image = service_image(&self.project, service, svc);
        let image_id = self.images.get(&image).cloned();
        let inputs = container::BuildInputs {
            service,
            number,
            name,
            config_hash: hash,
            oneoff: false,
            image_id: image_id.as_deref(),
            networking,
            inherited: inherited.clone(),
            volumes_from,
            network_container,
            environment: self.environment.as_ref(),
        };
        container::build(&self.project, &inputs)
    }

    /// Image volumes of the old container, not declared in the service: kept too.
    fn keep_image_volumes(
        &self,
        service: &str,
        inherited: &HashMap<String, String>,
        body: &mut ContainerCreateBody,
    ) {
        if inherited.is_empty() {
            return;
        }
        let svc = &self.project.services[service];
        let host = body.host_config.get_or_insert_with(Default::default);
        let mounts = host.mounts.get_or_insert_with(Vec::new);
        let named = self.named_volumes();
        for (dest, vol) in inherited {
            if !mounts
                .iter()
                .any(|m| m.target.as_deref() == Some(dest.as_str()))
                && !named.contains(vol)
                && !svc
                    .tmpfs
                    .iter()
                    .any(|t| t.split(':').next() == Some(dest.as_str()))
            {
                mounts.push(Mount {
                    typ: Some(MountTypeEnum::VOLUME),
                    source: Some(vol.clone()),
                    target: Some(dest.clone()),
                    ..Default::default()
                });
            }
        }
    }

    /// Secrets and configs, copied in as one archive before the container starts.
    async fn copy_files(&self, id: &str, files: &[FileCopy]) -> Result<(), String> {
        if files.is_empty() {
            return Ok(());
        }
        let tar = container::files_tar(files).map_err(|e| e.to_string())?;
        self.engine
            .put_archive(id, "/", tar)
            .await
            .map_err(|e| e.to_string())
    }

    /// The mounts of `volumes_from` entries, from the source containers.
    async fn volumes_from_mounts(&self, service: &str) -> Result<Vec<Mount>, String> {
        let svc = &self.project.services[service];
        let mut out = Vec::new();
        for v in &svc.volumes_from {
            let (source, mode) = if let Some(c) = v.strip_prefix("container:") {
                let (c, m) = c.split_once(':').unwrap_or((c, "rw"));
                (c.to_string(), m.to_string())
            } else {
                let s = v.strip_prefix("service:").unwrap_or(v);
                let (s, m) = s.split_once(':').unwrap_or((s, "rw"));
                (
                    self.id_of(&container_name(&self.project, s, 1)),
                    m.to_string(),
                )
            };
            let info = self
                .engine
                .inspect_container(&source)
                .await
                .map_err(|e| format!("service {service:?}: volumes_from {v:?}: {e}"))?;
            for m in info.mounts.unwrap_or_default() {
                let ro = mode == "ro" || m.rw == Some(false);
                let (typ, src) = match m.typ {
                    Some(MountPointTypeEnum::VOLUME) => (MountTypeEnum::VOLUME, m.name.clone()),
                    Some(MountPointTypeEnum::BIND) => (MountTypeEnum::BIND, m.source.clone()),
                    _ => continue,
                };
                out.push(Mount {
                    typ: Some(typ),
                    source: src,
                    target: m.destination.clone(),
                    read_only: ro.then_some(true),
                    ..Default::default()
                });
            }
        }
        Ok(out)
    }
}
