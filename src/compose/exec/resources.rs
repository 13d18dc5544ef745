//! The network and volume steps: create (a 409 is "Exists"; an engine without networks is
//! noted once and networks are skipped from then on) and remove (stray endpoints of a
//! network are disconnected first, as docker compose does).

use std::sync::atomic::Ordering;

use crate::api::client::ClientError;
use crate::compose::plan::{network_labels, volume_labels};

use super::progress::{Kind, State};
use super::{is_not_found, Inner, StepError};

impl Inner {
    pub(super) async fn create_network(&self, key: &str, name: &str) -> Result<(), StepError> {
        if !self.networking.load(Ordering::Relaxed) {
            self.warn_no_networking();
            return Ok(());
        }
        let net = self.project.networks.get(key).cloned().unwrap_or_default();
        self.report(Kind::Network, name, State::Working, "Creating");
        let ipam = net.ipam.as_ref().map(|i| {
            serde_json::json!({
                "Driver": i.driver.clone().unwrap_or_else(|| "default".into()),
                "Options": i.options,
                "Config": i.config.iter().map(|c| serde_json::json!({
                    "Subnet": c.subnet, "IPRange": c.ip_range, "Gateway": c.gateway,
                    "AuxiliaryAddresses": c.aux_addresses,
                })).collect::<Vec<_>>(),
            })
        });
        let body = serde_json::json!({
            "Name": name,
            "CheckDuplicate": true,
            "Driver": net.driver.clone().unwrap_or_else(|| "bridge".into()),
            "Internal": net.internal,
            "Attachable": net.attachable,
            "EnableIPv6": net.enable_ipv6,
            "Options": net.driver_opts,
            "Labels": network_labels(&self.project, key),
            "IPAM": ipam,
        });
        match self.engine.create_network(&body).await {
            Ok(r) => {
                if !r.warning.is_empty() {
                    self.progress
                        .warning(&format!("network {name}: {}", r.warning));
                }
                self.report(Kind::Network, name, State::Done, "Created");
                Ok(())
            }
            Err(ClientError::Api {
                status: 404,
                message,
            }) if message.contains("page not found") => {
                self.networking.store(false, Ordering::Relaxed);
                self.warn_no_networking();
                self.report(Kind::Network, name, State::Warning, "Skipped");
                Ok(())
            }
            Err(e) if e.status() == Some(409) => {
                self.report(Kind::Network, name, State::Done, "Exists");
                Ok(())
            }
            Err(e) => Err(self.fail(Kind::Network, name, format!("network {name}: {e}"))),
        }
    }

    pub(super) async fn remove_network(&self, name: &str) -> Result<(), StepError> {
        if !self.networking.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.report(Kind::Network, name, State::Working, "Removing");
        let mut result = self.engine.remove_network(name).await;
        if let Err(e) = &result {
            if e.status() == Some(404) && e.to_string().contains("page not found") {
                self.networking.store(false, Ordering::Relaxed);
                return Ok(());
            }
            if !is_not_found(e) {
                // stray endpoints: disconnect whatever is still attached, then again
                if let Ok(net) = self.engine.inspect_network(name).await {
                    for cid in net.containers.unwrap_or_default().keys() {
                        let _ = self.engine.disconnect_network(name, cid, true).await;
                    }
                }
                result = self.engine.remove_network(name).await;
            }
        }
        match result {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.fail(Kind::Network, name, format!("network {name}: {e}"))),
        }
        self.report(Kind::Network, name, State::Done, "Removed");
        Ok(())
    }

    pub(super) async fn create_volume(&self, key: &str, name: &str) -> Result<(), StepError> {
        let vol = self.project.volumes.get(key).cloned().unwrap_or_default();
        self.report(Kind::Volume, name, State::Working, "Creating");
        let body = serde_json::json!({
            "Name": name,
            "Driver": vol.driver.clone().unwrap_or_else(|| "local".into()),
            "DriverOpts": vol.driver_opts,
            "Labels": volume_labels(&self.project, key),
        });
        match self.engine.create_volume(&body).await {
            Ok(_) => {
                self.report(Kind::Volume, name, State::Done, "Created");
                Ok(())
            }
            Err(e) => Err(self.fail(Kind::Volume, name, format!("volume {name}: {e}"))),
        }
    }

    pub(super) async fn remove_volume(&self, name: &str) -> Result<(), StepError> {
        self.report(Kind::Volume, name, State::Working, "Removing");
        match self.engine.remove_volume(name, false).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.fail(Kind::Volume, name, format!("volume {name}: {e}"))),
        }
        self.report(Kind::Volume, name, State::Done, "Removed");
        Ok(())
    }
}
