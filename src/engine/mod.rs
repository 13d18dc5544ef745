//! The built-in container engine: image store, containers and their supervision, volumes and
//! the event bus. The daemon owns one [`Engine`]; it is the only writer of engine state.

pub mod build;
pub mod config;
pub mod container;
pub mod error;
pub mod events;
pub mod exec;
pub mod filters;
pub mod image;
pub mod network;
pub mod paths;
pub mod registry;
pub mod runtime;
pub mod store;
pub mod supervisor;
pub mod volume;

use std::sync::Arc;

pub use error::{Error, Result};

use self::container::Containers;
use self::events::EventBus;
use self::exec::Execs;
use self::image::ImageStore;
use self::paths::Paths;
use self::store::Store;
use self::volume::Volumes;

/// RFC 3339 UTC timestamp with nanoseconds, as Docker writes them.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub struct Engine {
    pub paths: Paths,
    pub db: Arc<Store>,
    pub images: ImageStore,
    pub containers: Containers,
    pub volumes: Volumes,
    pub execs: Execs,
    pub events: EventBus,
    pub attach_waiters: container::lifecycle::AttachWaiters,
    /// Start locks and the restarts of containers whose supervisor died.
    pub supervision: container::orphan::Supervision,
    pub last_stats: container::stats::LastSamples,
    pub config: config::DaemonConfig,
    /// Registry settings (insecure registries, mirrors) and the limits on layers in flight.
    pub registry: registry::Settings,
    /// The networking layer, started inside the daemon's runtime (`init_networking`).
    pub net: std::sync::OnceLock<Arc<crate::net::NetworkManager>>,
    /// The wharf binary, re-executed as supervisor and nsexec helper.
    pub binary: std::path::PathBuf,
    /// A supervisor started ahead of the next container start.
    pub spare: container::spare::Spare,
    pub started: std::time::Instant,
    /// Mirrors of local build contexts (kept under the temporary directory).
    pub build_contexts: build::mirror::Mirrors,
}

impl Engine {
    /// Open (or create) the engine state under `paths`, repair what a crash left behind and
    /// find the supervisors of containers that kept running while no daemon was up.
    pub fn open(paths: Paths) -> Result<Arc<Self>> {
        paths
            .ensure()
            .map_err(|e| Error::internal(format!("creating {}: {e}", paths.root.display())))?;
        let config = config::DaemonConfig::load(&paths)?;
        let db = Arc::new(Store::open(&paths.db())?);
        let images = ImageStore::new(paths.clone(), db.clone());
        // Leftovers of interrupted imports and loads are never registered: remove them.
        let _ = crate::util::fsutil::remove_dir_all_quiet(&paths.tmp());
        let _ = std::fs::create_dir_all(paths.tmp());
        container::fs::clear_image_views(&paths.run_root);
        images.collect_garbage()?;
        let program = runtime::seccomp::compile_default(false).map_err(Error::internal)?;
        runtime::seccomp::write_program(&program, &paths.seccomp_profile())
            .map_err(|e| Error::internal(format!("writing the seccomp profile: {e}")))?;
        let binary = std::env::current_exe()
            .map_err(|e| Error::internal(format!("locating the wharf binary: {e}")))?;
        let engine = Arc::new(Engine {
            containers: Containers::load(&paths, db.clone())?,
            volumes: Volumes::new(paths.clone(), db.clone()),
            execs: Execs::default(),
            events: EventBus::default(),
            build_contexts: build::mirror::Mirrors::new(paths.tmp().join("contexts")),
            attach_waiters: Default::default(),
            supervision: Default::default(),
            last_stats: Default::default(),
            registry: registry::Settings::new(&config)?,
            config,
            net: std::sync::OnceLock::new(),
            paths,
            db,
            images,
            binary,
            spare: Default::default(),
            started: std::time::Instant::now(),
        });
        Ok(engine)
    }
}
