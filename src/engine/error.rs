//! The engine's error type. Each variant maps onto one of Docker's API status codes.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such image, container, volume, exec instance...
    #[error("{0}")]
    NotFound(String),
    /// Name in use, image in use, container running...
    #[error("{0}")]
    Conflict(String),
    /// A request the engine cannot act on as given.
    #[error("{0}")]
    InvalidArgument(String),
    /// The object is already in the requested state (start of a running container).
    #[error("{0}")]
    NotModified(String),
    /// An operating-system call failed; `context` says what was being done.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A build step's command exited non-zero (the stream's `errorDetail.code`).
    #[error("{message}")]
    CommandFailed { code: i64, message: String },
    #[error("state store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(msg: impl Display) -> Self {
        Error::NotFound(msg.to_string())
    }
    pub fn conflict(msg: impl Display) -> Self {
        Error::Conflict(msg.to_string())
    }
    pub fn invalid(msg: impl Display) -> Self {
        Error::InvalidArgument(msg.to_string())
    }
    pub fn internal(msg: impl Display) -> Self {
        Error::Internal(msg.to_string())
    }

    /// The HTTP status Docker uses for this kind of error.
    pub fn status_code(&self) -> u16 {
        match self {
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::InvalidArgument(_) | Error::CommandFailed { .. } => 400,
            Error::NotModified(_) => 304,
            _ => 500,
        }
    }
}

/// Attach a description of what was being done to an I/O error.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}
