//! What the executor reports while it works: one status per resource (`Network demo_default
//! Creating` → `Created`), rendered by the CLI as live lines, plain lines or JSON.

use std::fmt;

/// The kind of resource a status is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Network,
    Volume,
    Image,
    Container,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Network => "Network",
            Kind::Volume => "Volume",
            Kind::Image => "Image",
            Kind::Container => "Container",
        })
    }
}

/// Where a resource's work stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// In progress (`Creating`, `Waiting`...).
    Working,
    /// Finished (`Created`, `Healthy`...).
    Done,
    /// Finished with a warning.
    Warning,
    /// Failed.
    Error,
}

/// One status update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub name: String,
    pub state: State,
    /// Docker compose's words: `Creating`, `Created`, `Starting`, `Started`, `Waiting`,
    /// `Healthy`, `Exited`, `Stopping`, `Stopped`, `Removing`, `Removed`, `Recreate`,
    /// `Recreated`, `Running`, `Pulling`, `Pulled`, `Error`...
    pub status: String,
    /// Details (an error's cause, a warning).
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: Kind, name: impl Into<String>, state: State, status: &str) -> Event {
        Event {
            kind,
            name: name.into(),
            state,
            status: status.to_string(),
            detail: None,
        }
    }
    pub fn with_detail(mut self, d: impl Into<String>) -> Event {
        self.detail = Some(d.into());
        self
    }
}

/// A sink for status updates (the CLI's renderer) and for free-form warnings.
pub trait Progress: Send + Sync {
    fn event(&self, e: Event);
    fn warning(&self, message: &str);
    /// A line about the command itself ("Gracefully stopping...").
    fn notice(&self, message: &str) {
        eprintln!("{message}");
    }
}

/// A sink that drops everything (`--progress quiet`, tests).
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _e: Event) {}
    fn warning(&self, _message: &str) {}
    fn notice(&self, _message: &str) {}
}
