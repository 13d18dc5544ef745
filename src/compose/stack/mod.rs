//! `wharf stack`: a compose file handed to a Docker Swarm, with the semantics of `docker
//! stack deploy|ls|services|ps|rm`. wharf grows no cluster of its own: the swarm is an
//! existing engine (dockerd in swarm mode), reached through wharf's API client like any remote
//! engine; the conversion of the project is [`crate::compose::convert::swarm`].
//!
//! One module per verb: [`deploy`] (create or update everything, then optionally
//! [`wait`] until it converged), [`inventory`] (what `ls`, `services` and `ps` show) and
//! [`remove`]. Each takes the client and an output sink, and returns a typed result; the CLI
//! only maps flags and prints.

pub mod deploy;
pub mod inventory;
pub mod remove;
pub mod wait;

use crate::api::client::{Client, ClientError};
use crate::compose::convert::ConvertError;

pub use crate::compose::convert::swarm::{Namespace, LABEL_IMAGE, LABEL_NAMESPACE};

/// Why a stack command failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{0}")]
    Convert(#[from] ConvertError),
    #[error("{context}: {source}")]
    Api {
        context: String,
        source: ClientError,
    },
    /// The engine is no swarm manager (or is wharf's own single engine).
    #[error("{0}")]
    NotManager(String),
    /// Something the file refers to is missing or wrong on the swarm.
    #[error("{0}")]
    Invalid(String),
    /// Tasks failed while waiting for the stack to converge.
    #[error("{}", failed_tasks(.0))]
    TasksFailed(Vec<FailedTask>),
    /// Waiting ended before the stack converged.
    #[error("{0}")]
    Timeout(String),
}

/// A task that failed, with the swarm's own words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedTask {
    /// `shop_web.1`
    pub name: String,
    pub id: String,
    pub state: String,
    pub error: String,
}

fn failed_tasks(tasks: &[FailedTask]) -> String {
    let mut s = String::from("tasks failed:");
    for t in tasks {
        s.push_str(&format!(
            "\n  {} ({}): {}: {}",
            t.name,
            &t.id[..t.id.len().min(12)],
            t.state,
            t.error
        ));
    }
    s
}

/// `context` for an API error.
pub(crate) fn api(context: impl Into<String>) -> impl FnOnce(ClientError) -> StackError {
    let context = context.into();
    move |source| StackError::Api { context, source }
}

/// What a stack command reports as it goes (the CLI prints these as docker's lines).
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    CreatingNetwork(String),
    CreatingSecret(String),
    UpdatingSecret(String),
    CreatingConfig(String),
    UpdatingConfig(String),
    CreatingService(String),
    UpdatingService {
        name: String,
        id: String,
    },
    Removing {
        kind: &'static str,
        name: String,
    },
    /// A service's tasks: running out of desired (`Converged` once all are).
    Tasks {
        service: String,
        running: u64,
        desired: u64,
    },
    Converged(String),
    Warning(String),
}

/// The sink a command reports [`Progress`] to.
pub type Sink<'a> = &'a mut (dyn FnMut(Progress) + Send);

/// The client, speaking the swarm's API version, after checking it is a swarm manager.
pub async fn manager(client: &Client) -> Result<Client, StackError> {
    let client = client.negotiated().await.map_err(api("connecting"))?;
    let info = client
        .info()
        .await
        .map_err(api("reading the engine's info"))?;
    let active = info["Swarm"]["LocalNodeState"] == "active";
    if !active || info["Swarm"]["ControlAvailable"] != true {
        let wharf = info["OperatingSystem"]
            .as_str()
            .is_some_and(|v| v.starts_with("wharf"));
        let mut msg = String::from(
            "this node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again",
        );
        if wharf {
            msg = format!(
                "{} is wharf's own engine, which runs on one machine: point -H at a Docker Swarm manager",
                client.endpoint()
            );
        }
        return Err(StackError::NotManager(msg));
    }
    Ok(client)
}
