//! The swarm endpoints (`/swarm*`, `/nodes`, `/services`, `/tasks`, `/secrets`, `/configs`):
//! wharf is never a swarm node, so each answers as a dockerd outside a swarm does: 503
//! `This node is not part of a swarm`. Clients rely on that status (docker-py's
//! `leave_swarm(force=True)` treats it as "nothing to leave").

use axum::http::StatusCode;
use axum::response::Response;

use super::json;
use crate::api::ErrorBody;

pub const NOT_A_SWARM: &str =
    "This node is not part of a swarm. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

pub async fn not_a_swarm() -> Response {
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &ErrorBody {
            message: NOT_A_SWARM.into(),
        },
    )
}

/// The `Swarm` object of `/info` outside a swarm.
pub fn info() -> serde_json::Value {
    serde_json::json!({
        "NodeID": "",
        "NodeAddr": "",
        "LocalNodeState": "inactive",
        "ControlAvailable": false,
        "Error": "",
        "RemoteManagers": null,
    })
}
