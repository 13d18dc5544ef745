//! How a service's image is made and its environment read: `build:` and `env_file:`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::yes;

/// `build:` (long syntax).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    pub context: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Host name → addresses, for the RUN steps' /etc/hosts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    /// /dev/shm of the RUN steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<super::ByteSize>,
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub no_cache: bool,
    /// Pull newer base images.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub pull: bool,
    /// Top-level secrets the RUN steps may mount (`--mount=type=secret,id=<target>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<super::ServiceFileRef>,
}

/// One `env_file` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    pub path: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}
