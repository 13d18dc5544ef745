//! The Engine API's container create body, section by section. `wharf run` (from flags) and
//! compose (from a service) both fill these plain section structs and apply them to one body,
//! so the wire shape of each section — which fields it sets, that an empty list is sent as no
//! field at all, how durations and ulimits are spelled — is written once for both sides. What
//! each side reads its values from (and what it warns about or refuses) stays with that side.
//!
//! Depends only on the API's generated models, like the rest of `docker`.

mod health;
mod host;
mod ports;
mod process;

pub use health::Health;
pub use host::{
    endpoint, parse_ulimit, tmpfs_map, ulimit, Dns, Networking, Resources, Security, Storage,
};
pub use ports::Ports;
pub use process::{Process, Stdio};

use bollard_stubs::models::{ContainerCreateBody, HostConfig};

/// `Some(list)` unless it is empty: Docker's clients leave empty lists out of the body.
pub fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// The body's host config, made on first use.
fn host(body: &mut ContainerCreateBody) -> &mut HostConfig {
    body.host_config.get_or_insert_with(HostConfig::default)
}
