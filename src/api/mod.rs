//! The Docker Engine API subset wharf serves: wire types shared by server and client, the
//! multiplexed-stream framing, the server (in the daemon) and the client (in the CLI and the
//! compose layer).

pub mod client;
pub mod io;
pub mod server;
pub mod stream;

/// Generated Docker Engine API models (bollard-stubs), shared by server and client.
pub use bollard_stubs::models;

/// The API version we speak (Docker 28.x).
pub const API_VERSION: &str = "1.49";
/// The oldest version clients may negotiate.
pub const MIN_API_VERSION: &str = "1.24";

/// `1.24` → (1, 24), for ordering API versions.
pub fn version_key(v: &str) -> (u32, u32) {
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
}

/// Docker's error body.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    pub message: String,
}
