//! Errors of the compose layer. Every loading error carries where it happened (file, line and
//! column when known), the key path (`services.web.ports[1]`) and what was expected.

use std::fmt;
use std::path::PathBuf;

use super::value::{KeyPath, Pos};

/// Where in the input an error was found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Location {
        Location {
            file: Some(file.into()),
            line: None,
            col: None,
        }
    }
}

impl From<Option<Pos>> for Location {
    fn from(p: Option<Pos>) -> Location {
        match p {
            Some(p) => Location {
                file: Some(p.file.to_string()),
                line: Some(p.line as u32),
                col: Some(p.col as u32),
            },
            None => Location::default(),
        }
    }
}

impl From<Pos> for Location {
    fn from(p: Pos) -> Location {
        Location::from(Some(p))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, self.col) {
            (Some(file), Some(l), Some(c)) => write!(f, "{file}:{l}:{c}"),
            (Some(file), Some(l), None) => write!(f, "{file}:{l}"),
            (Some(file), None, _) => write!(f, "{file}"),
            (None, Some(l), Some(c)) => write!(f, "line {l}, column {c}"),
            _ => write!(f, "compose project"),
        }
    }
}

/// An error of the compose layer.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The YAML text itself is invalid.
    #[error("{at}: invalid YAML: {message}")]
    Yaml { at: Location, message: String },

    /// A file could not be read.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// No compose file was found.
    #[error("no configuration file provided: none of {candidates} found in {} or its parents", dir.display())]
    NoConfigFile { dir: PathBuf, candidates: String },

    /// `${VAR:?msg}` or `${VAR?msg}` with VAR unset (or empty).
    #[error("{at}: {key}: required variable {variable} is missing a value: {message}")]
    RequiredVariable {
        at: Location,
        key: KeyPath,
        variable: String,
        message: String,
    },

    /// A `$` that does not start a valid interpolation.
    #[error("{at}: {key}: invalid interpolation format in {template:?}: {reason}; to write a literal $, use $$")]
    InvalidTemplate {
        at: Location,
        key: KeyPath,
        template: String,
        reason: String,
    },

    /// The document does not match the compose specification (schema).
    #[error("{at}: {key}: {message}")]
    Schema {
        at: Location,
        key: KeyPath,
        message: String,
    },

    /// A value has the right type but cannot be understood (a port spec, a duration...).
    #[error("{at}: {key}: invalid value {value:?}: expected {expected}")]
    InvalidValue {
        at: Location,
        key: KeyPath,
        value: String,
        expected: String,
    },

    /// A semantic error in the project (reference to something undefined, conflict...).
    #[error("{at}: {key}: {message}")]
    Invalid {
        at: Location,
        key: KeyPath,
        message: String,
    },

    /// A service depends on a service that is not defined.
    #[error("{at}: service {service:?} depends on undefined service {dependency:?} (via {via})")]
    UndefinedDependency {
        at: Location,
        service: String,
        dependency: String,
        via: String,
    },

    /// A service depends on a service disabled by the active profiles.
    #[error("{at}: service {service:?} depends on service {dependency:?} which is disabled by the active profiles (enable one of the profiles {profiles:?})")]
    DisabledDependency {
        at: Location,
        service: String,
        dependency: String,
        profiles: Vec<String>,
    },

    /// The dependency graph has a cycle.
    #[error("dependency cycle detected: {cycle}")]
    Cycle { cycle: String },

    /// A service selected on the command line does not exist.
    #[error("no such service: {service:?}")]
    NoSuchService { service: String },

    /// The project name is not valid.
    #[error("invalid project name {name:?} (from {source_of_name}): it must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit")]
    ProjectName {
        name: String,
        source_of_name: String,
    },

    /// Planning failed (container_name with scale > 1, a missing external resource...).
    #[error("{0}")]
    Plan(String),

    /// Several errors at once (schema validation reports them all).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Multiple(Vec<ComposeError>),
}

impl ComposeError {
    pub fn invalid(at: impl Into<Location>, key: &KeyPath, message: impl Into<String>) -> Self {
        ComposeError::Invalid {
            at: at.into(),
            key: key.clone(),
            message: message.into(),
        }
    }
    pub fn value(
        at: impl Into<Location>,
        key: &KeyPath,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ComposeError::InvalidValue {
            at: at.into(),
            key: key.clone(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

pub type Result<T, E = ComposeError> = std::result::Result<T, E>;
