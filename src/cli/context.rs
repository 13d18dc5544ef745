//! Docker contexts: named endpoints the docker CLI keeps beside its config file
//! (`<config dir>/contexts/meta/<sha256 of the name>/meta.json`, TLS files under
//! `contexts/tls/<same>/docker/`), read so that a context made with `docker context create`
//! drives wharf too, and `wharf context ls|show|inspect|use` to list and choose them.
//!
//! Which context applies is docker/cli's rule: `--context`, else none when `-H` or
//! `DOCKER_HOST` names a host, else `DOCKER_CONTEXT`, else the config file's
//! `currentContext`; `default` is wharf's own socket (or `-H`/`DOCKER_HOST`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::args::GlobalOpts;
use super::output::{print_table, Row, Table};
use super::{CliResult, Exit};
use crate::api::client::credentials::{config_path, ConfigFile};

/// The context that is the engine the CLI is configured for.
pub const DEFAULT: &str = "default";

/// One stored context's docker endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub name: String,
    pub description: String,
    /// `unix://…`, `tcp://…` or `ssh://…`.
    pub host: String,
    pub skip_tls_verify: bool,
    /// `contexts/tls/<id>/docker`, when the context has TLS material.
    pub tls_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Metadata", default)]
    metadata: serde_json::Value,
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::HashMap<String, Endpoint>,
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(rename = "Host", default)]
    host: String,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

fn store_dir() -> PathBuf {
    config_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
        .join("contexts")
}

/// The store's directory name for a context: the hex SHA-256 of its name.
fn id(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
}

fn read_meta(path: &Path) -> Result<Context, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let meta: Meta =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    let docker = meta.endpoints.get("docker");
    let tls_dir = store_dir().join("tls").join(id(&meta.name)).join("docker");
    Ok(Context {
        description: meta.metadata["Description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        host: docker.map(|d| d.host.clone()).unwrap_or_default(),
        skip_tls_verify: docker.is_some_and(|d| d.skip_tls_verify),
        tls_dir: tls_dir.is_dir().then_some(tls_dir),
        name: meta.name,
    })
}

/// A stored context by name.
pub fn load(name: &str) -> Result<Context, String> {
    let path = store_dir().join("meta").join(id(name)).join("meta.json");
    if !path.exists() {
        return Err(format!("context {name:?} does not exist"));
    }
    read_meta(&path)
}

/// Every stored context, by name.
pub fn list() -> Result<Vec<Context>, String> {
    let dir = store_dir().join("meta");
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let meta = entry.path().join("meta.json");
        if meta.is_file() {
            out.push(read_meta(&meta)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn current_in_config() -> Option<String> {
    let file = ConfigFile::load().ok()?;
    file.value()["currentContext"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The name of the context in force (docker/cli's `resolveContextName`).
pub fn current_name(flag: Option<&str>, host_given: bool) -> String {
    if let Some(name) = flag {
        return name.to_string();
    }
    if host_given {
        return DEFAULT.into();
    }
    if let Some(name) = std::env::var("DOCKER_CONTEXT")
        .ok()
        .filter(|s| !s.is_empty())
    {
        return name;
    }
    current_in_config().unwrap_or_else(|| DEFAULT.into())
}

#[derive(Args, Debug)]
pub struct ContextCli {
    #[command(subcommand)]
    pub cmd: ContextCmd,
}

#[derive(Subcommand, Debug)]
pub enum ContextCmd {
    /// List contexts
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Print the name of the current context
    Show,
    /// Display detailed information on one or more contexts
    Inspect(NamesArgs),
    /// Set the current docker context
    Use(UseArgs),
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Format output ("table", "json" or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Only show context names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UseArgs {
    pub name: String,
}

pub fn main(global: &GlobalOpts, cli: ContextCli) -> CliResult {
    let fail = |e: String| Exit::msg(1, e);
    let current = global.context_name();
    match cli.cmd {
        ContextCmd::Show => {
            println!("{current}");
            Ok(())
        }
        ContextCmd::Ls(a) => {
            let default = Context {
                name: DEFAULT.into(),
                description: "Current DOCKER_HOST based configuration".into(),
                host: global
                    .plain_host_url()
                    .unwrap_or_else(|| format!("unix://{}", global.socket().display())),
                skip_tls_verify: false,
                tls_dir: None,
            };
            let all: Vec<Context> = std::iter::once(default)
                .chain(list().map_err(fail)?)
                .collect();
            if a.quiet {
                for c in &all {
                    println!("{}", c.name);
                }
                return Ok(());
            }
            let rows = all
                .into_iter()
                .map(|c| {
                    let is_current = c.name == current;
                    Row::from([
                        (
                            "Name".to_string(),
                            if is_current && a.format.is_none() {
                                format!("{} *", c.name)
                            } else {
                                c.name
                            },
                        ),
                        ("Current".to_string(), is_current.to_string()),
                        ("Description".to_string(), c.description),
                        ("DockerEndpoint".to_string(), c.host),
                    ])
                })
                .collect();
            let format = match a.format.as_deref() {
                Some("json") => Some("{{json .}}"),
                other => other,
            };
            print_table(
                &Table {
                    columns: &[
                        ("NAME", "Name"),
                        ("DESCRIPTION", "Description"),
                        ("DOCKER ENDPOINT", "DockerEndpoint"),
                    ],
                    rows,
                },
                format,
            )
            .map_err(|e| Exit::msg(1, e.to_string()))
        }
        ContextCmd::Inspect(a) => {
            let names = if a.names.is_empty() {
                vec![current]
            } else {
                a.names
            };
            let mut out = Vec::new();
            for name in names {
                let c = load(&name).map_err(fail)?;
                out.push(serde_json::json!({
                    "Name": c.name,
                    "Metadata": {"Description": c.description},
                    "Endpoints": {"docker": {"Host": c.host, "SkipTLSVerify": c.skip_tls_verify}},
                    "Storage": {
                        "MetadataPath": store_dir().join("meta").join(id(&c.name)),
                        "TLSPath": store_dir().join("tls").join(id(&c.name)),
                    },
                }));
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| fail(e.to_string()))?
            );
            Ok(())
        }
        ContextCmd::Use(a) => {
            if a.name != DEFAULT {
                load(&a.name).map_err(fail)?;
            }
            set_current(&a.name).map_err(fail)?;
            println!("{}", a.name);
            eprintln!("Current context is now {:?}", a.name);
            Ok(())
        }
    }
}

/// Write `currentContext` into the config file (`default` removes it), keeping the rest.
fn set_current(name: &str) -> Result<(), String> {
    let mut file = ConfigFile::load().map_err(|e| e.to_string())?;
    let obj = file.object_mut();
    if name == DEFAULT {
        obj.remove("currentContext");
    } else {
        obj.insert("currentContext".into(), name.into());
    }
    file.save().map_err(|e| e.to_string())
}
