//! RUN: a real container of the engine (its runtime, supervisor and networking — the default
//! bridge with NAT unless `--network`), with `--mount=type=cache|bind|secret|tmpfs`; its
//! changes become the step's layer through the engine's commit code. The container, its
//! anonymous volumes and mounts are removed whether the command succeeds or not.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard_stubs::models::{ContainerCreateBody, HealthConfig, HostConfig};

use super::apply::argv;
use super::context::clean_relative;
use super::dockerfile::words::process_word;
use super::dockerfile::{Command, Instr, Step};
use super::plan::Build;
use super::stage::{commit, ensure_image, from_cache, State};
use crate::engine::container::fs::ImageView;
use crate::engine::container::logs::LogOptions;
use crate::engine::container::CreateRequest;
use crate::engine::error::{Error, IoContext, Result};

/// A parsed `--mount=…`.
#[derive(Debug, Clone, PartialEq)]
pub enum RunMount {
    Cache {
        target: String,
        id: String,
        readonly: bool,
    },
    Bind {
        target: String,
        source: String,
        from: Option<String>,
    },
    Secret {
        id: String,
        target: String,
        required: bool,
    },
    Tmpfs {
        target: String,
        size: Option<String>,
    },
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, None | Some("true" | "1"))
}

/// Parse a `--mount` value (CSV of `key=value`; `type=bind` when no type is given).
pub fn parse_mount(spec: &str) -> std::result::Result<RunMount, String> {
    let mut kv: HashMap<String, Option<String>> = HashMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (part.to_ascii_lowercase(), None),
        };
        let k = match k.as_str() {
            "dst" | "destination" => "target".to_string(),
            "src" => "source".to_string(),
            "ro" => "readonly".to_string(),
            _ => k,
        };
        kv.insert(k, v);
    }
    let get = |k: &str| kv.get(k).cloned().flatten();
    let kind = get("type").unwrap_or_else(|| "bind".into());
    let target = get("target");
    let need_target = || {
        target
            .clone()
            .filter(|t| t.starts_with('/'))
            .ok_or_else(|| format!("--mount={spec}: target= must be an absolute path"))
    };
    let known: &[&str] = match kind.as_str() {
        "cache" => &[
            "type", "target", "id", "sharing", "readonly", "mode", "uid", "gid", "from", "source",
        ],
        "bind" => &[
            "type",
            "target",
            "source",
            "from",
            "readonly",
            "rw",
            "readwrite",
        ],
        "secret" => &["type", "id", "target", "required", "mode", "uid", "gid"],
        "tmpfs" => &["type", "target", "size"],
        other => {
            return Err(format!(
            "--mount={spec}: unknown mount type {other:?} (expected cache, bind, secret or tmpfs)"
        ))
        }
    };
    if let Some(bad) = kv.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "--mount={spec}: unknown option {bad:?} for type={kind}"
        ));
    }
    Ok(match kind.as_str() {
        "cache" => {
            let target = need_target()?;
            RunMount::Cache {
                id: get("id").unwrap_or_else(|| target.clone()),
                target,
                readonly: kv.contains_key("readonly") && truthy(get("readonly").as_deref()),
            }
        }
        "bind" => RunMount::Bind {
            target: need_target()?,
            source: get("source").unwrap_or_default(),
            from: get("from"),
        },
        "secret" => {
            let id = get("id")
                .or_else(|| {
                    target
                        .as_ref()
                        .and_then(|t| t.rsplit('/').next().map(String::from))
                })
                .ok_or_else(|| format!("--mount={spec}: a secret needs id="))?;
            RunMount::Secret {
                target: target
                    .clone()
                    .unwrap_or_else(|| format!("/run/secrets/{id}")),
                id,
                required: kv.contains_key("required") && truthy(get("required").as_deref()),
            }
        }
        _ => RunMount::Tmpfs {
            target: need_target()?,
            size: get("size"),
        },
    })
}

/// What a RUN's mounts need on the host while it runs; dropped afterwards.
#[derive(Default)]
struct Prepared {
    binds: Vec<String>,
    tmpfs: HashMap<String, String>,
    /// Mount targets, relative: mount points in the upper dir are not changes.
    targets: Vec<String>,
    _views: Vec<ImageView>,
    secret_dir: Option<PathBuf>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if let Some(d) = &self.secret_dir {
            let _ = crate::util::fsutil::remove_dir_all_quiet(d);
        }
    }
}

fn prepare(b: &Build, st: &State, mounts: &[RunMount]) -> Result<Prepared> {
    let mut p = Prepared::default();
    for m in mounts {
        match m {
            RunMount::Cache {
                target,
                id,
                readonly,
            } => {
                let dir =
                    b.engine.paths.root.join("build-mounts").join(
                        crate::util::ids::sha256_digest(id.as_bytes()).replace("sha256:", ""),
                    );
                std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
                let ro = if *readonly { ":ro" } else { "" };
                p.binds.push(format!("{}:{target}{ro}", dir.display()));
                p.targets.push(target.trim_start_matches('/').to_string());
            }
            RunMount::Bind {
                target,
                source,
                from,
            } => {
                let src_rel = clean_relative(source).ok_or_else(|| {
                    Error::invalid(format!(
                        "--mount source {source} is outside the build context"
                    ))
                })?;
                let root = match from {
                    None => b.context.dir.clone(),
                    Some(f) => {
                        let id = super::copy::from_image(b, st, f)?;
                        let view = b.engine.image_view(&id)?;
                        let path = view.path.clone();
                        p._views.push(view);
                        path
                    }
                };
                let host = root.join(src_rel);
                if !host.exists() {
                    return Err(Error::invalid(format!(
                        "--mount type=bind: source {source} does not exist"
                    )));
                }
                p.binds.push(format!("{}:{target}:ro", host.display()));
                p.targets.push(target.trim_start_matches('/').to_string());
            }
            RunMount::Secret {
                id,
                target,
                required,
            } => {
                let Some(data) = b.opts.secrets.get(id) else {
                    if *required {
                        return Err(Error::invalid(format!(
                            "secret {id} is required but was not given (--secret id={id},src=…)"
                        )));
                    }
                    continue;
                };
                let dir = match &p.secret_dir {
                    Some(d) => d.clone(),
                    None => {
                        let d = b.engine.paths.tmp().join(format!(
                            "build-secrets-{}",
                            &crate::util::ids::random_id()[..12]
                        ));
                        std::fs::create_dir_all(&d).ctx(|| "creating the secrets dir".into())?;
                        p.secret_dir = Some(d.clone());
                        d
                    }
                };
                let file =
                    dir.join(crate::util::ids::sha256_digest(id.as_bytes()).replace("sha256:", ""));
                std::fs::write(&file, data).ctx(|| "writing a secret".into())?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400));
                p.binds.push(format!("{}:{target}:ro", file.display()));
                p.targets.push(target.trim_start_matches('/').to_string());
            }
            RunMount::Tmpfs { target, size } => {
                let opts = size
                    .as_ref()
                    .map(|s| format!("size={s}"))
                    .unwrap_or_default();
                p.tmpfs.insert(target.clone(), opts);
                p.targets.push(target.trim_start_matches('/').to_string());
            }
        }
    }
    Ok(p)
}

/// The argv of a RUN: exec form as is; shell form through SHELL, with here-documents.
fn run_argv(command: &Command, heredocs: &[super::dockerfile::Heredoc], st: &State) -> Vec<String> {
    match command {
        Command::Shell(text) if !heredocs.is_empty() => {
            let only_doc = text.trim().trim_start_matches("<<").trim_start_matches('-');
            let only_doc = only_doc.trim_matches(['\'', '"']);
            if heredocs.len() == 1 && only_doc == heredocs[0].name {
                // `RUN <<EOF … EOF`: the document is the script.
                return argv(&Command::Shell(heredocs[0].body.clone()), &st.config);
            }
            let mut script = text.clone();
            script.push('\n');
            for h in heredocs {
                script.push_str(&h.body);
                script.push_str(&h.name);
                script.push('\n');
            }
            argv(&Command::Shell(script), &st.config)
        }
        other => argv(other, &st.config),
    }
}

fn network_of(b: &Build, step_network: Option<&str>) -> Result<String> {
    let mode = match step_network {
        Some("default") | None => b.opts.network_mode.clone().unwrap_or_default(),
        Some(n @ ("none" | "host")) => n.to_string(),
        Some(other) => {
            return Err(Error::invalid(format!(
                "RUN --network={other}: expected default, none or host"
            )))
        }
    };
    Ok(match mode.as_str() {
        "" | "default" => "bridge".into(),
        m => m.to_string(),
    })
}

pub async fn run_step(b: &Build, st: &mut State, step: &Step) -> Result<()> {
    let Instr::Run {
        mounts,
        network,
        command,
        heredocs,
    } = &step.instr
    else {
        return Err(Error::internal("not a RUN step"));
    };
    let vars = st.vars();
    let mut parsed = Vec::new();
    for m in mounts {
        let m = process_word(m, b.df.escape, &vars).map_err(Error::invalid)?;
        parsed.push(parse_mount(&m).map_err(Error::invalid)?);
    }
    let network = match network {
        Some(n) => Some(process_word(n, b.df.escape, &vars).map_err(Error::invalid)?),
        None => None,
    };
    let network = network_of(b, network.as_deref())?;
    let argv = run_argv(command, heredocs, st);
    let mut key = st.key(&step.text);
    for h in heredocs {
        key.part(&h.body);
    }
    key.part(&network);
    let key = key.finish();
    if from_cache(b, st, &key).await? {
        return Ok(());
    }
    let image = ensure_image(b, st)?;
    let prepared = prepare(b, st, &parsed)?;
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(argv.clone()),
        entrypoint: Some(Vec::new()),
        env: Some(st.scope.run_env(&st.env())),
        user: st.config.config.user.clone(),
        working_dir: st.config.config.working_dir.clone(),
        labels: Some(super::build_container_labels()),
        healthcheck: Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            binds: Some(prepared.binds.clone()),
            tmpfs: (!prepared.tmpfs.is_empty()).then(|| prepared.tmpfs.clone()),
            network_mode: Some(network),
            extra_hosts: (!b.opts.extra_hosts.is_empty()).then(|| b.opts.extra_hosts.clone()),
            shm_size: b.opts.shm_size.filter(|s| *s > 0),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (id, _) = b.engine.create_container(CreateRequest {
        name: None,
        body,
        platform: None,
    })?;
    let outcome = run_container(b, &id, &argv).await;
    let layer = match outcome {
        Ok(()) => {
            let (engine, ingest) = (b.engine.clone(), b.ingest.clone());
            let (cid, skip) = (id.clone(), prepared.targets.clone());
            tokio::task::spawn_blocking(move || {
                let rec = engine.containers.resolve(&cid)?;
                engine.layer_from_upper(&rec, &skip, &ingest)
            })
            .await
            .map_err(|e| Error::internal(e.to_string()))
        }
        Err(e) => Err(e),
    };
    let removed = b.engine.remove_container(&id, true, true).await;
    drop(prepared);
    let layer = layer??;
    removed?;
    let created_by = format!("RUN {}", argv.join(" "));
    let config = st.config.clone();
    commit(b, st, config, Some(layer), created_by, key).await
}

/// Start the container, stream its output as progress, and fail with its exit code and
/// last lines if the command fails.
async fn run_container(b: &Build, id: &str, argv: &[String]) -> Result<()> {
    b.progress
        .say(format!(
            " ---> Running in {}\n",
            crate::util::ids::short_id(id)
        ))
        .await?;
    let bus = b.engine.events.subscribe();
    b.engine.start_container(id).await?;
    let (_, mut rx) = b.engine.container_logs(
        id,
        LogOptions {
            stdout: true,
            stderr: true,
            follow: true,
            ..Default::default()
        },
    )?;
    let mut decoder = crate::api::stream::Decoder::default();
    let mut tail: Vec<u8> = Vec::new();
    let cancelled = || async {
        let _ = b.engine.kill_container(id, None).await;
        Err(Error::conflict(
            "the build was cancelled: the client went away",
        ))
    };
    loop {
        let chunk = tokio::select! {
            c = rx.recv() => c,
            // A silent command must not outlive a client that went away (Ctrl-C).
            _ = b.progress.cancelled() => return cancelled().await,
        };
        let Some(chunk) = chunk else { break };
        decoder.push(&chunk);
        while let Some((stream, data)) = decoder.next_frame() {
            tail.extend_from_slice(&data);
            if tail.len() > 8192 {
                tail.drain(..tail.len() - 8192);
            }
            let text = String::from_utf8_lossy(&data);
            // The classic builder shows a RUN's stderr in red.
            let text = if stream == 2 {
                format!("\x1b[91m{text}\x1b[0m")
            } else {
                text.to_string()
            };
            if b.progress.say(text).await.is_err() {
                return cancelled().await;
            }
        }
    }
    let (code, err) = b
        .engine
        .wait_container_from(
            id,
            crate::engine::container::lifecycle::WaitCondition::NotRunning,
            bus,
        )
        .await?;
    if code == 0 {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&tail);
    let last: Vec<&str> = text.lines().rev().take(10).collect();
    let last: Vec<&str> = last.into_iter().rev().collect();
    let mut msg = format!(
        "The command '{}' returned a non-zero code: {code}",
        argv.join(" ")
    );
    if let Some(e) = err {
        msg.push_str(&format!(" ({e})"));
    }
    if !last.is_empty() {
        msg.push_str("\nlast output:\n");
        for l in last {
            msg.push_str(&format!("  {l}\n"));
        }
    }
    Err(Error::CommandFailed {
        code,
        message: msg.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_specs() {
        assert_eq!(
            parse_mount("type=cache,target=/root/.cache").unwrap(),
            RunMount::Cache {
                target: "/root/.cache".into(),
                id: "/root/.cache".into(),
                readonly: false
            }
        );
        assert_eq!(
            parse_mount("target=/src,source=app,from=build").unwrap(),
            RunMount::Bind {
                target: "/src".into(),
                source: "app".into(),
                from: Some("build".into())
            }
        );
        assert_eq!(
            parse_mount("type=secret,id=tok").unwrap(),
            RunMount::Secret {
                id: "tok".into(),
                target: "/run/secrets/tok".into(),
                required: false
            }
        );
        assert_eq!(
            parse_mount("type=tmpfs,dst=/t,size=1m").unwrap(),
            RunMount::Tmpfs {
                target: "/t".into(),
                size: Some("1m".into())
            }
        );
        assert!(parse_mount("type=cache").is_err());
        assert!(parse_mount("type=volume,target=/x").is_err());
        assert!(parse_mount("type=tmpfs,target=/x,bogus=1").is_err());
    }
}
