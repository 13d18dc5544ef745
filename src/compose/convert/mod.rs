//! Conversions of a loaded project into other orchestrators' objects: Kubernetes manifests
//! ([`kubernetes`]) and Swarm service specs ([`swarm`]). Pure code, like the planner: it never
//! talks to an engine. Each conversion reports, once per key and with the file and line it was
//! written at, every key that has no equivalent on the target.

pub mod kubernetes;
pub mod swarm;

use std::collections::BTreeSet;
use std::fmt;

use crate::compose::load::env::Environment;
use crate::compose::load::KeyLocations;
use crate::compose::model::FileObject;
use crate::compose::Location;

/// A key the target cannot carry over (or carries over only in part), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub at: Location,
    /// The dotted key path (`services.web.build`).
    pub key: String,
    pub why: String,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.at, self.key, self.why)
    }
}

/// The keys a conversion dropped, each reported once.
#[derive(Debug, Default)]
pub struct Report<'a> {
    locations: Option<&'a KeyLocations>,
    seen: BTreeSet<String>,
    pub dropped: Vec<Dropped>,
}

impl<'a> Report<'a> {
    pub fn new(locations: &'a KeyLocations) -> Report<'a> {
        Report {
            locations: Some(locations),
            ..Default::default()
        }
    }

    /// Where `key` was written (or its nearest parent that was).
    pub fn location(&self, key: &str) -> Location {
        self.locations.map(|l| l.of(key)).unwrap_or_default()
    }

    /// Report `key` (once) with `why`.
    pub fn drop_key(&mut self, key: impl Into<String>, why: impl Into<String>) {
        let key = key.into();
        if !self.seen.insert(key.clone()) {
            return;
        }
        let at = self.location(&key);
        self.dropped.push(Dropped {
            at,
            key,
            why: why.into(),
        });
    }
}

/// Why a conversion failed: a file a secret or config names cannot be read, two objects get
/// one name.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{at}: {key}: cannot read {path}: {source}")]
    Read {
        at: Location,
        key: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{at}: {key}: {message}")]
    Invalid {
        at: Location,
        key: String,
        message: String,
    },
}

/// The bytes of a top-level secret or config: its file, its environment variable or its inline
/// content. `None` for an external one (it exists on the target already).
pub fn file_object_bytes(
    key: &str,
    obj: &FileObject,
    env: &Environment,
    locations: &KeyLocations,
) -> Result<Option<Vec<u8>>, ConvertError> {
    if obj.external {
        return Ok(None);
    }
    if let Some(content) = &obj.content {
        return Ok(Some(content.clone().into_bytes()));
    }
    if let Some(var) = &obj.environment {
        return match env.get(var) {
            Some(v) => Ok(Some(v.into_bytes())),
            None => Err(ConvertError::Invalid {
                at: locations.of(key),
                key: key.to_string(),
                message: format!("the environment variable {var} is not set"),
            }),
        };
    }
    if let Some(path) = &obj.file {
        return std::fs::read(path)
            .map(Some)
            .map_err(|source| ConvertError::Read {
                at: locations.of(key),
                key: key.to_string(),
                path: path.clone(),
                source,
            });
    }
    Err(ConvertError::Invalid {
        at: locations.of(key),
        key: key.to_string(),
        message: "needs one of file, environment or content".into(),
    })
}
