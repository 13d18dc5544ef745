//! `POST /containers/{id}/update` (`wharf update`): new resource limits and restart policy.
//! Kept in the record for later starts and, for a running container, written to its cgroup
//! and sent to its supervisor at once.

use bollard_stubs::models::{ContainerUpdateBody, EventMessageTypeEnum, HostConfig};

use super::create::{restart_policy, validate_host_config};
use super::lifecycle::request;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::runtime::cgroups::Cgroup;
use crate::engine::supervisor::protocol::Request;
use crate::engine::Engine;

/// `host` with every field the update sets (same names as HostConfig's) replaced.
fn merged(host: &HostConfig, update: &ContainerUpdateBody) -> Result<HostConfig> {
    let mut base = serde_json::to_value(host)?;
    if let (Some(b), serde_json::Value::Object(u)) =
        (base.as_object_mut(), serde_json::to_value(update)?)
    {
        for (k, v) in u {
            if !v.is_null() {
                b.insert(k, v);
            }
        }
    }
    Ok(serde_json::from_value(base)?)
}

impl Engine {
    pub async fn update_container(
        &self,
        key: &str,
        update: ContainerUpdateBody,
    ) -> Result<Vec<String>> {
        let rec = self.containers.resolve(key)?;
        let host = merged(&rec.host_config, &update)?;
        validate_host_config(&host, &rec.config)?;
        let rec = self
            .containers
            .update(&rec.id, |r| r.host_config = host.clone())?;
        if rec.state.is_running() {
            let spec = super::runspec::cgroup_spec(&rec);
            if let Some(cg) = Cgroup::detect(&spec.path) {
                cg.create(&spec)
                    .ctx(|| "writing the container's new limits".into())?;
                // On a hybrid host a limit may need v1 groups the processes are not in yet.
                // The container keeps forking and exiting meanwhile: a process gone before its
                // move needs none, and one forked from a parent not moved yet shows up in the
                // next pass (children of moved parents are born in the new groups).
                let mut seen = Vec::new();
                for _ in 0..3 {
                    let pids = cg.pids();
                    if pids == seen {
                        break;
                    }
                    for &pid in &pids {
                        match cg.add(pid, true) {
                            // Exited in between (the cgroup writer's error carries the
                            // path, not the errno, so ask /proc).
                            Err(_) if exited(pid) => {}
                            r => r.ctx(|| "moving the container into its limits".into())?,
                        }
                    }
                    seen = pids;
                }
            }
            if update.restart_policy.is_some() {
                request(
                    &self.socket_of(&rec.id),
                    &Request::SetRestartPolicy {
                        restart: restart_policy(&host)?,
                    },
                )
                .await
                .map_err(|e| Error::internal(format!("updating the restart policy: {e}")))?;
            }
        }
        self.events.publish(
            EventMessageTypeEnum::CONTAINER,
            "update",
            &rec.id,
            [("name".to_string(), rec.name.clone())].into(),
        );
        Ok(Vec::new())
    }
}

/// Whether `pid` is gone or a zombie: a cgroup cannot take it any more.
fn exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}
