//! What a compose command returns: an [`ExitStatus`] when it ran (a container's exit code for
//! `up --exit-code-from`, 130 after Ctrl-C), or an [`Error`] saying why it could not.

use crate::api::client::ClientError;
use crate::compose::exec::{ExecError, WaitError};
use crate::compose::ComposeError;

/// The status the command ends with (0: success).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitStatus(pub i32);

impl ExitStatus {
    pub const SUCCESS: ExitStatus = ExitStatus(0);
    /// Interrupted by Ctrl-C (128 + SIGINT), as a shell reports it.
    pub const INTERRUPTED: ExitStatus = ExitStatus(130);
    /// Ended by SIGTERM (128 + SIGTERM).
    pub const TERMINATED: ExitStatus = ExitStatus(143);

    pub fn success(self) -> bool {
        self.0 == 0
    }
}

/// Why a compose command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Loading or planning the project (file, line and key inside).
    #[error(transparent)]
    Project(#[from] ComposeError),
    /// The engine refused a request.
    #[error("Error response from daemon: {0}")]
    Engine(#[from] ClientError),
    /// Steps of a plan failed: one line each, naming the service or resource.
    #[error("{}", .0.join("\n"))]
    Failed(Vec<String>),
    /// Options that cannot work together or a value that cannot be understood.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Stopped by the user (Ctrl-C or SIGTERM) before the command completed.
    #[error("interrupted")]
    Interrupted(ExitStatus),
}

impl From<ExecError> for Error {
    fn from(e: ExecError) -> Self {
        Error::Failed(e.failures)
    }
}

impl From<WaitError> for Error {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Api(e) => Error::Engine(e),
            e => Error::Failed(vec![e.to_string()]),
        }
    }
}

/// Fail with the collected messages, if any.
pub fn failures(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(errors))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
