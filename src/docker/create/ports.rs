//! Exposed and published ports, keyed `port/proto` as the API keys them.

use std::collections::HashMap;

use bollard_stubs::models::{ContainerCreateBody, PortBinding};

use super::host;
use crate::docker::port::PortSpecError;

/// The container's exposed ports and their host bindings.
#[derive(Clone, Debug, Default)]
pub struct Ports {
    exposed: HashMap<String, HashMap<(), ()>>,
    bindings: HashMap<String, Option<Vec<PortBinding>>>,
}

impl Ports {
    /// Expose `key` (`80/tcp`) without publishing it.
    pub fn expose(&mut self, key: String) {
        self.exposed.insert(key, HashMap::new());
    }

    /// Expose `key` and bind it on the host (`host_ip` and `host_port` empty for any).
    pub fn publish(&mut self, key: String, host_ip: String, host_port: String) {
        self.expose(key.clone());
        self.bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(host_ip),
                host_port: Some(host_port),
            });
    }

    /// Publish a `-p [ip:][host:]container[/proto]` spec (ranges too).
    pub fn publish_spec(&mut self, spec: &str) -> Result<(), PortSpecError> {
        let keys = crate::docker::port::add_bindings(spec, &mut self.bindings)?;
        for key in keys {
            self.expose(key);
        }
        Ok(())
    }

    pub fn apply(self, body: &mut ContainerCreateBody) {
        body.exposed_ports = (!self.exposed.is_empty()).then_some(self.exposed);
        host(body).port_bindings = (!self.bindings.is_empty()).then_some(self.bindings);
    }
}
