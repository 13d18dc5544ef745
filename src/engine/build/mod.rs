//! Building images from Dockerfiles: the front end (`dockerfile`), the context (`context`),
//! ARG/ENV scoping (`scope`), configuration steps (`apply`), RUN (`run`) and COPY/ADD
//! (`copy`) on top of the engine's own containers, layers and commit, the step cache
//! (`cache`), and the stage graph (`plan`): only the stages the target needs are built,
//! independent ones at the same time.

pub mod apply;
pub mod cache;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod fetch;
pub mod mirror;
pub mod pattern;
pub mod plan;
pub mod run;
pub mod scope;
pub mod stage;
pub mod walk;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::error::{Error, Result};
use crate::engine::Engine;

pub use cache::CacheRecord;
pub use context::Context;

/// What a build is asked to do (the `/build` query, `wharf build` flags).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub tags: Vec<String>,
    /// The Dockerfile's path inside the context (`Dockerfile` by default).
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--cache-from`: when set, only steps in these images' histories are cache hits.
    pub cache_from: Vec<String>,
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    /// RUN's network: `default`/`bridge`, `none`, `host` or a network name.
    pub network_mode: Option<String>,
    pub extra_hosts: Vec<String>,
    pub shm_size: Option<i64>,
    /// `RUN --mount=type=secret,id=…` sources, by id.
    pub secrets: BTreeMap<String, Vec<u8>>,
}

/// Progress of a build, in the words of Docker's classic builder.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// Text for the `{"stream": …}` lines (step headers, RUN output, ` ---> id`).
    Stream(String),
    /// The image built (`{"aux": {"ID": …}}`).
    Aux(String),
}

/// Sends progress; a receiver that went away means the client cancelled the build.
#[derive(Clone)]
pub struct Progress(mpsc::Sender<BuildEvent>);

impl Progress {
    pub fn new(tx: mpsc::Sender<BuildEvent>) -> Self {
        Progress(tx)
    }
    pub async fn say(&self, text: impl Into<String>) -> Result<()> {
        self.0
            .send(BuildEvent::Stream(text.into()))
            .await
            .map_err(|_| Error::conflict("the build was cancelled: the client went away"))
    }
    /// Resolves when the client went away (the build should stop).
    pub async fn cancelled(&self) {
        self.0.closed().await
    }
    pub async fn aux(&self, id: &str) -> Result<()> {
        let _ = self.0.send(BuildEvent::Aux(id.to_string())).await;
        Ok(())
    }
}

/// An error at a Dockerfile line, as the builder reports it.
pub fn at_line(file: &str, line: usize, message: impl std::fmt::Display) -> Error {
    Error::invalid(format!("{file}:{line}: {message}"))
}

/// A step's error at its line; a failed command keeps its exit code.
pub fn step_failed(file: &str, line: usize, e: Error) -> Error {
    match e {
        Error::CommandFailed { code, message } => Error::CommandFailed {
            code,
            message: format!("{file}:{line}: {message}"),
        },
        other => at_line(file, line, other),
    }
}

/// The label that marks a RUN step's container: it belongs to a build, never to a user.
pub const BUILD_CONTAINER_LABEL: &str = "com.wharf.build.step";

pub fn build_container_labels() -> std::collections::HashMap<String, String> {
    [(BUILD_CONTAINER_LABEL.to_string(), "1".to_string())].into()
}

impl Engine {
    /// Remove the containers of builds a killed daemon left running or stopped (the next
    /// build redoes their step; the steps that completed are in the cache). Called once the
    /// daemon has adopted the supervisors that outlived it.
    pub async fn remove_build_leftovers(self: &Arc<Self>) {
        let leftovers = self.containers.all().into_iter().filter(|c| {
            c.config
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(BUILD_CONTAINER_LABEL))
        });
        for c in leftovers {
            if let Err(e) = self.remove_container(&c.id, true, true).await {
                tracing::warn!(container = %c.id, error = %e, "removing a build's leftover container");
            }
        }
    }

    /// Build the Dockerfile in `context` as `opts` asks; returns the image id.
    pub async fn build_image(
        self: &Arc<Self>,
        context: Context,
        opts: BuildOptions,
        progress: Progress,
    ) -> Result<String> {
        let build = plan::Build::prepare(self.clone(), context, opts, progress)?;
        build.run().await
    }
}
