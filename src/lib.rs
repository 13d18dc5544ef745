//! wharf: a compose-first multi-container orchestrator with its own container engine.
//!
//! The crate is laid out like the architecture (see DESIGN.md):
//! - [`compose`]: loading compose files, the dependency graph and the convergence planner;
//! - [`api`]: the Docker Engine API subset, its wire types, the server and the client;
//! - [`engine`]: images, containers, the runtime, supervision, volumes and events;
//! - [`net`]: container networking;
//! - [`cli`]: the command tree and terminal output.

pub mod api;
pub mod cli;
pub mod compose;
pub mod daemon;
pub mod docker;
pub mod engine;
pub mod entry;
pub mod net;
pub mod util;
