//! The compose-first layer: loading compose files into a typed [`Project`], the service
//! dependency [`graph`], the convergence [`plan`]ner and `wharf config` rendering. Pure code: it
//! never talks to an engine; executing a [`Plan`] is done elsewhere through the API client.
//!
//! Entry points:
//! - [`load_project`] with [`LoadOptions`] → [`Loaded`] (project + warnings);
//! - [`render_config`] / [`config::service_names`] / [`config::volume_names`] /
//!   [`config::render_hashes`] for `wharf config`;
//! - [`ServiceGraph::build`] for start/stop order and selection;
//! - [`plan::plan_up`] / [`plan::plan_down`] with an [`ObservedState`] → [`Plan`].

pub mod config;
pub mod convert;
pub mod develop;
pub mod engine;
pub mod error;
pub mod exec;
pub mod graph;
pub mod load;
pub mod model;
pub mod plan;
pub mod service;
pub mod stack;
pub mod value;

pub use config::{render_config, render_config_uninterpolated, ConfigFormat};
pub use error::{ComposeError, Location};
pub use graph::ServiceGraph;
pub use load::{load_project, LoadOptions, Loaded};
pub use model::Project;
pub use plan::{ObservedState, Plan, PlanOptions};
