//! The convergence planner (pure): desired [`Project`](crate::compose::Project) +
//! [`ObservedState`] + [`PlanOptions`] → a [`Plan`], a DAG of actions (create network/volume,
//! pull/build image, create, start, wait, stop, remove) with the dependencies between them.
//! Executing it is the engine side's job: each step can run as soon as the steps it comes after
//! are done. A plan renders as stable text ([`Plan::render`]) and is tested as text.
//!
//! [`names`] (engine-side names and labels), [`observed`] (what exists), [`actions`] (the plan),
//! [`reconcile`] (planning `up`), [`down`] (planning `down`), [`hash`] (config hashes).

pub mod actions;
pub mod down;
pub mod hash;
pub mod names;
pub mod observed;
pub mod reconcile;

pub use actions::{Action, Plan, PlanOptions, Step, WaitCondition};
pub use down::{plan_down, DownOptions};
pub use names::*;
pub use observed::{ContainerState, ObservedContainer, ObservedResource, ObservedState};
pub use reconcile::{plan_up, plan_up_with_hashes, project_hashes};

/// The compose labels.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    pub const IMAGE: &str = "com.docker.compose.image";
    pub const VERSION: &str = "com.docker.compose.version";
    pub const NETWORK: &str = "com.docker.compose.network";
    pub const VOLUME: &str = "com.docker.compose.volume";
}

/// The compose version wharf writes in its labels.
pub const COMPOSE_VERSION: &str = "2.29.0";
