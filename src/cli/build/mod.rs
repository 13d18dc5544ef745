//! `wharf build` and `wharf builder prune`: the context packed here and streamed to the
//! daemon's `/build`, progress shown as a compact live view on a terminal or the builder's
//! plain lines otherwise.

mod view;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use tokio::io::AsyncReadExt;

use super::{CliResult, Exit};
use crate::api::client::build::{BuildMessage, BuildRequest};
use crate::api::client::context;
use crate::api::client::{reader_body, Client, ReqBody};

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq)]
pub enum ProgressKind {
    #[default]
    Auto,
    Plain,
    Tty,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag (name:tag); repeatable
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile; `-` reads it from stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the base images
    #[arg(long)]
    pub pull: bool,
    /// Set type of progress output
    #[arg(long, value_enum, default_value_t = ProgressKind::Auto)]
    pub progress: ProgressKind,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long)]
    pub network: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Secret to expose to the build: id=ID,src=PATH (or env=VAR)
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Size of /dev/shm (bytes, or with a unit: 64m)
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Build context: a directory, or `-` (a Dockerfile or a tar on stdin)
    pub context: String,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCmd {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Args, Debug)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (until=24h)
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

fn key_values(list: &[String], what: &str, from_env: bool) -> CliResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in list {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if from_env && !kv.is_empty() => {
                if let Ok(v) = std::env::var(kv) {
                    out.insert(kv.clone(), v);
                }
            }
            _ => {
                return Err(Exit::msg(
                    125,
                    format!("invalid {what} {kv:?}: expected KEY=VALUE"),
                ))
            }
        }
    }
    Ok(out)
}

fn secrets(list: &[String]) -> CliResult<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for spec in list {
        let mut id = None;
        let mut data = None;
        for part in spec.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => {
                    data =
                        Some(std::fs::read(v).map_err(|e| {
                            Exit::msg(1, format!("--secret {spec}: reading {v}: {e}"))
                        })?)
                }
                Some(("env", v)) => {
                    data = Some(
                        std::env::var(v)
                            .map_err(|_| Exit::msg(1, format!("--secret {spec}: ${v} is not set")))?
                            .into_bytes(),
                    )
                }
                Some(("type", "file" | "env")) => {}
                _ => {
                    return Err(Exit::msg(
                        125,
                        format!(
                            "invalid --secret {spec:?}: expected id=ID,src=PATH or id=ID,env=VAR"
                        ),
                    ))
                }
            }
        }
        let id = id.ok_or_else(|| Exit::msg(125, format!("--secret {spec}: id= is required")))?;
        let data = match data {
            Some(d) => d,
            None => std::env::var(&id)
                .map(String::into_bytes)
                .map_err(|_| Exit::msg(1, format!("--secret {spec}: src= or env= is required")))?,
        };
        out.insert(id, data);
    }
    Ok(out)
}

fn looks_like_tar(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || (head.len() >= 262 && &head[257..262] == b"ustar")
}

/// Where the context comes from: a planned directory (or a Dockerfile alone), or a tar
/// that came on stdin as it is.
enum Source {
    Plan(context::Plan),
    Tar(ReqBody),
}

async fn context_source(a: &BuildArgs) -> CliResult<Source> {
    let stdin_df = a.file.as_deref() == Some("-");
    if a.context == "-" {
        if stdin_df {
            return Err(Exit::msg(
                125,
                "invalid argument: can't use stdin for both build context and dockerfile",
            ));
        }
        let mut stdin = tokio::io::stdin();
        let mut head = vec![0u8; 512];
        let mut n = 0;
        while n < head.len() {
            let r = stdin.read(&mut head[n..]).await?;
            if r == 0 {
                break;
            }
            n += r;
        }
        head.truncate(n);
        if looks_like_tar(&head) {
            let body = reader_body(AsyncReadExt::chain(std::io::Cursor::new(head), stdin));
            return Ok(Source::Tar(body));
        }
        let mut rest = Vec::new();
        stdin.read_to_end(&mut rest).await?;
        head.extend(rest);
        let plan = context::plan(None, None, Some(head)).map_err(|e| Exit::msg(1, e))?;
        return Ok(Source::Plan(plan));
    }
    let dockerfile = if stdin_df {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v)?;
        Some(v)
    } else {
        None
    };
    let file = if stdin_df { None } else { a.file.as_deref() };
    let plan = context::plan(Some(std::path::Path::new(&a.context)), file, dockerfile)
        .map_err(|e| Exit::msg(1, e))?;
    Ok(Source::Plan(plan))
}

pub async fn build(client: &Client, a: BuildArgs) -> CliResult {
    let shm_size = match &a.shm_size {
        Some(s) => Some(
            crate::util::bytesize::parse_bytes(s)
                .map_err(|e| Exit::msg(125, format!("invalid --shm-size: {e}")))?,
        ),
        None => None,
    };
    let source = context_source(&a).await?;
    let mut req = BuildRequest {
        tags: a.tags.clone(),
        dockerfile: None,
        build_args: key_values(&a.build_args, "--build-arg", true)?,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        quiet: a.quiet,
        labels: key_values(&a.labels, "--label", false)?,
        network: a.network.clone(),
        extra_hosts: a.add_hosts.clone(),
        shm_size,
        secrets: secrets(&a.secrets)?,
    };
    let (mut stream, packer) = match source {
        Source::Plan(plan) => client.build_from(plan, &req).await?,
        Source::Tar(body) => {
            req.dockerfile = a.file.clone();
            (client.build(body, &req).await?, None)
        }
    };
    if let Some(job) = packer {
        let sent = job
            .await
            .map_err(|e| Exit::msg(1, e.to_string()))?
            .map_err(|e| Exit::msg(1, format!("sending the build context: {e}")))?;
        if !a.quiet {
            eprintln!(
                "Sending build context to wharf daemon  {}",
                crate::util::bytesize::human_size(sent as i64)
            );
        }
    }
    let mut v = view::View::new(a.progress, a.quiet);
    let mut image = None;
    while let Some(m) = stream.next().await? {
        match m {
            BuildMessage::Stream(s) => v.text(&s),
            BuildMessage::Image(id) => image = Some(id),
            BuildMessage::Error(e) => {
                v.failed();
                return Err(Exit::msg(1, format!("ERROR: {e}")));
            }
        }
    }
    v.done();
    let id = image.ok_or_else(|| Exit::msg(1, "ERROR: the build ended without an image"))?;
    if a.quiet {
        println!("{id}");
    }
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &id)
            .map_err(|e| Exit::msg(1, format!("writing {}: {e}", f.display())))?;
    }
    Ok(())
}

pub async fn builder(client: &Client, cmd: BuilderCmd) -> CliResult {
    let BuilderCmd::Prune(a) = cmd;
    let mut until = None;
    for f in &a.filter {
        match f.split_once('=') {
            Some(("until", v)) => until = Some(v.to_string()),
            _ => {
                return Err(Exit::msg(
                    125,
                    format!("invalid filter {f:?}: builder prune takes until=DURATION"),
                ))
            }
        }
    }
    let (n, bytes) = client.prune_build_cache(a.all, until.as_deref()).await?;
    println!("Deleted build cache objects: {n}");
    println!(
        "Total reclaimed space: {}",
        crate::util::bytesize::human_size(bytes as i64)
    );
    Ok(())
}
