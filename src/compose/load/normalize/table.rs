//! The service keys wharf honours, as a table: each key of `services.*` with the transform
//! that brings it to the long syntax (as compose-go's `transform` package keys its
//! transformers by path). A key not in the table is dropped with a warning; a transform that
//! only checks a value keeps it as written.

use crate::compose::error::Result;
use crate::compose::value::{KeyPath, Node, V};

use super::depends::depends_on;
use super::deploy::deploy;
use super::files::file_refs;
use super::health::healthcheck;
use super::networks::{extra_hosts, network_mode, service_networks};
use super::policy::{logging, pull_policy, restart};
use super::ports::ports;
use super::process::{build, command, env_file, environment, extends};
use super::resources::ulimits;
use super::scalar::{bytes, duration, string_list, string_map, to_bool, to_float, to_int, to_uint};
use super::volumes::{tmpfs_list, volumes};
use super::NormCtx;

/// What a transform leaves in the service.
pub(super) enum Step {
    /// The normalised value replaces the key's value.
    Set(Node),
    /// The value stays as written (checked only).
    Keep,
    /// The key is removed (a warning says why).
    Drop,
}

/// A key's transform: its value, its path, the normalisation context.
pub(super) type Transform = for<'a> fn(&Node, &KeyPath, &mut NormCtx<'a>) -> Result<Step>;

fn set(r: Result<Node>) -> Result<Step> {
    r.map(Step::Set)
}

fn list(n: &Node, p: &KeyPath, _: &mut NormCtx<'_>) -> Result<Step> {
    set(string_list(n, p))
}

fn map(n: &Node, p: &KeyPath, _: &mut NormCtx<'_>) -> Result<Step> {
    set(string_map(n, p))
}

fn boolean(n: &Node, p: &KeyPath, _: &mut NormCtx<'_>) -> Result<Step> {
    Ok(Step::Set(n.derive(V::Bool(to_bool(n, p)?))))
}

fn byte_size(n: &Node, p: &KeyPath, _: &mut NormCtx<'_>) -> Result<Step> {
    set(bytes(n, p))
}

/// A plain string key: numbers and booleans become their text.
fn text(n: &Node, _: &KeyPath, _: &mut NormCtx<'_>) -> Result<Step> {
    Ok(match n.v {
        V::Int(_) | V::Float(_) | V::Bool(_) => {
            Step::Set(n.derive(V::Str(n.scalar_string().unwrap_or_default())))
        }
        _ => Step::Keep,
    })
}

/// `services.*.<key>` → its transform.
pub(super) static SERVICE: &[(&str, Transform)] = &[
    ("profiles", list),
    ("image", text),
    ("build", |n, p, cx| set(build(n, p, cx))),
    ("command", |n, p, _| {
        Ok(command(n, p)?.map_or(Step::Keep, Step::Set))
    }),
    ("entrypoint", |n, p, _| {
        Ok(command(n, p)?.map_or(Step::Keep, Step::Set))
    }),
    ("environment", |n, p, cx| set(environment(n, p, cx.env))),
    ("env_file", |n, p, cx| set(env_file(n, p, cx))),
    ("ports", |n, p, _| set(ports(n, p))),
    ("expose", list),
    ("volumes", |n, p, cx| set(volumes(n, p, cx))),
    ("volumes_from", list),
    ("networks", |n, p, cx| set(service_networks(n, p, cx))),
    ("network_mode", |n, p, _| {
        network_mode(n, p).map(|()| Step::Keep)
    }),
    ("depends_on", |n, p, _| set(depends_on(n, p))),
    ("links", list),
    ("healthcheck", |n, p, _| set(healthcheck(n, p))),
    ("restart", |n, p, _| restart(n, p).map(|()| Step::Keep)),
    ("user", text),
    ("working_dir", text),
    ("hostname", text),
    ("domainname", text),
    ("extra_hosts", |n, p, _| set(extra_hosts(n, p))),
    ("dns", list),
    ("dns_search", list),
    ("dns_opt", list),
    ("labels", map),
    ("container_name", text),
    ("init", boolean),
    ("stop_signal", text),
    ("stop_grace_period", |n, p, _| set(duration(n, p))),
    ("tty", boolean),
    ("stdin_open", boolean),
    ("cap_add", list),
    ("cap_drop", list),
    ("privileged", boolean),
    ("read_only", boolean),
    ("security_opt", list),
    ("ulimits", |n, p, _| set(ulimits(n, p))),
    ("sysctls", map),
    ("mem_limit", byte_size),
    ("cpus", |n, p, _| {
        Ok(Step::Set(n.derive(V::Float(to_float(n, p)?))))
    }),
    ("pids_limit", |n, p, _| {
        Ok(Step::Set(n.derive(V::Int(to_int(n, p)?))))
    }),
    ("shm_size", byte_size),
    ("tmpfs", |n, p, _| set(tmpfs_list(n, p))),
    ("deploy", |n, p, cx| set(deploy(n, p, cx))),
    ("scale", |n, p, _| {
        Ok(Step::Set(n.derive(V::Int(to_uint(n, p)?))))
    }),
    ("pull_policy", |n, p, cx| set(pull_policy(n, p, cx))),
    ("secrets", |n, p, _| set(file_refs(n, p))),
    ("configs", |n, p, _| set(file_refs(n, p))),
    ("logging", |n, p, cx| {
        Ok(logging(n, p, cx)?.map_or(Step::Drop, Step::Set))
    }),
    ("platform", text),
    ("mac_address", text),
    ("extends", |n, p, cx| set(extends(n, p, cx))),
    ("develop", |n, p, cx| {
        set(super::super::develop::develop(n, p, cx))
    }),
    ("post_start", |n, p, cx| {
        set(super::super::develop::hooks(n, p, cx))
    }),
    ("pre_stop", |n, p, cx| {
        set(super::super::develop::hooks(n, p, cx))
    }),
];

/// The transform of a service key, or `None` for a key wharf does not honour.
pub(super) fn service_key(key: &str) -> Option<Transform> {
    SERVICE.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
}
