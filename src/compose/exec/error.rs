//! How execution fails: each step with a typed [`StepError`], the whole run with an
//! [`ExecError`] that lists the failures (one line each, naming the service or resource).

/// Why a step did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The step failed: what failed and why (already shown on the resource's progress line).
    Failed(String),
    /// The run was cancelled before or while the step ran: nothing more to report.
    Cancelled,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Failed(msg) => f.write_str(msg),
            StepError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for StepError {}

/// A failed execution: one line per failure, each naming the service (or resource) and cause.
#[derive(Debug, Clone)]
pub struct ExecError {
    pub failures: Vec<String>,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.failures.join("\n"))
    }
}

impl std::error::Error for ExecError {}
