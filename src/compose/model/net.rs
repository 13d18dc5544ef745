//! Networking keys of a service: `ports:` (protocol, mode), `networks:` entries and
//! `network_mode:` (parsed from and printed as Docker's strings).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Port protocol.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// Port publishing mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    #[default]
    Ingress,
    Host,
}

/// A port (long syntax).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub mode: PortMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    pub target: u16,
    /// A host port or a range `8000-8010`; `None` lets the engine choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// A service's attachment to a network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// `network_mode`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum NetworkMode {
    Bridge,
    Host,
    None,
    Service(String),
    Container(String),
}

impl TryFrom<String> for NetworkMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Ok(match s.as_str() {
            "bridge" | "default" => NetworkMode::Bridge,
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            _ => {
                if let Some(x) = s.strip_prefix("service:").filter(|x| !x.is_empty()) {
                    NetworkMode::Service(x.to_string())
                } else if let Some(x) = s.strip_prefix("container:").filter(|x| !x.is_empty()) {
                    NetworkMode::Container(x.to_string())
                } else {
                    return Err(format!(
                        "invalid network_mode {s:?}: expected bridge, host, none, service:NAME or container:NAME"
                    ));
                }
            }
        })
    }
}

impl From<NetworkMode> for String {
    fn from(m: NetworkMode) -> String {
        match m {
            NetworkMode::Bridge => "bridge".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::None => "none".into(),
            NetworkMode::Service(s) => format!("service:{s}"),
            NetworkMode::Container(s) => format!("container:{s}"),
        }
    }
}
