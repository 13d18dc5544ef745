//! What exists on the engine, as the planner sees it: containers with their compose labels
//! and state, networks, volumes and the images present.

use std::collections::BTreeMap;

use super::labels;

/// The state of an existing container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ContainerState {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Exited(i64),
    Dead,
}

impl ContainerState {
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    }
}

/// An existing container, as the engine reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub image_id: String,
    pub state: ContainerState,
    /// The engine's network mode (`container:<id>` for `network_mode: service:x`).
    pub network_mode: Option<String>,
}

impl ObservedContainer {
    pub fn project(&self) -> Option<&str> {
        self.labels.get(labels::PROJECT).map(String::as_str)
    }
    pub fn service(&self) -> Option<&str> {
        self.labels.get(labels::SERVICE).map(String::as_str)
    }
    pub fn number(&self) -> u32 {
        self.labels
            .get(labels::NUMBER)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
    pub fn config_hash(&self) -> Option<&str> {
        self.labels.get(labels::CONFIG_HASH).map(String::as_str)
    }
    pub fn oneoff(&self) -> bool {
        self.labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// An existing network or volume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedResource {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// What exists on the engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedState {
    pub containers: Vec<ObservedContainer>,
    pub networks: Vec<ObservedResource>,
    pub volumes: Vec<ObservedResource>,
    /// Image reference (as written in the compose file) → image id, for images present.
    pub images: BTreeMap<String, String>,
}
