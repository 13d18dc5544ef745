//! The typed `develop:` section (Compose's watch rules) and the exec hook shape it shares with
//! the lifecycle hooks. Kept apart from [`crate::compose::model`] because watch is a dev-loop
//! concern that only `watch` and `up --watch` read; the loader fills it, serde prints it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// `develop:`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Develop {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
}

/// What a watch rule does with a change under its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatchAction {
    /// Copy the changed files into the running container.
    #[serde(rename = "sync")]
    Sync,
    /// Build the service's image again and recreate its container.
    #[serde(rename = "rebuild")]
    Rebuild,
    /// Restart the service's containers.
    #[serde(rename = "restart")]
    Restart,
    #[serde(rename = "sync+restart")]
    SyncRestart,
    #[serde(rename = "sync+exec")]
    SyncExec,
}

impl WatchAction {
    pub const ALL: &'static str = "sync, rebuild, restart, sync+restart or sync+exec";

    pub fn parse(s: &str) -> Option<WatchAction> {
        Some(match s {
            "sync" => WatchAction::Sync,
            "rebuild" => WatchAction::Rebuild,
            "restart" => WatchAction::Restart,
            "sync+restart" => WatchAction::SyncRestart,
            "sync+exec" => WatchAction::SyncExec,
            _ => return None,
        })
    }

    /// Whether the action copies files (and so needs a `target`).
    pub fn syncs(self) -> bool {
        matches!(
            self,
            WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec
        )
    }
}

impl fmt::Display for WatchAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WatchAction::Sync => "sync",
            WatchAction::Rebuild => "rebuild",
            WatchAction::Restart => "restart",
            WatchAction::SyncRestart => "sync+restart",
            WatchAction::SyncExec => "sync+exec",
        })
    }
}

/// One `develop.watch` entry, paths resolved (the host `path` absolute, `target` absolute in
/// the container).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchRule {
    pub path: String,
    pub action: WatchAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `.dockerignore`-style patterns, relative to `path`, left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// When not empty, only what these patterns (relative to `path`) match is watched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// `sync+exec`: the command run in the container after each sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ServiceHook>,
    /// Sync the whole path once when watching starts.
    #[serde(default, skip_serializing_if = "is_false")]
    pub initial_sync: bool,
}

/// A command run in a service's container (`develop.watch[].exec`, `post_start`, `pre_stop`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceHook {
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, Option<String>>,
}
