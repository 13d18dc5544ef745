//! One stage, step by step: FROM (an image, `scratch` or another stage; ONBUILD triggers of
//! the base run first), then each instruction — looked up in the cache by its key, else
//! executed and committed as an intermediate image (one layer when the filesystem changed,
//! a history entry always).

use super::apply::apply;
use super::cache::Key;
use super::dockerfile::words::process_word;
use super::dockerfile::{self, Instr, Step};
use super::plan::Build;
use super::scope::{env_pairs, Scope};
use super::{at_line, step_failed};
use crate::docker::platform::Platform;
use crate::engine::error::{Error, Result};
use crate::engine::image::config::{History, ImageConfig, RunConfig};
use crate::engine::image::layer::LayerRecord;
use crate::util::ids::short_id;

/// Where a stage is: the image of its last step and what the next steps see.
pub struct State {
    /// None only for `FROM scratch` before any step.
    pub image: Option<String>,
    pub config: ImageConfig,
    pub scope: Scope,
    pub cmd_set: bool,
}

impl State {
    pub fn env(&self) -> Vec<(String, String)> {
        env_pairs(self.config.config.env.as_deref().unwrap_or_default())
    }
    pub fn vars(&self) -> Vec<(String, String)> {
        self.scope.vars(&self.env())
    }
    /// The step's cache key: parent, instruction, ARGs in scope.
    pub fn key(&self, text: &str) -> Key {
        let mut k = Key::new(self.image.as_deref().unwrap_or("scratch"), text);
        k.part(&self.scope.cache_part());
        k
    }
}

fn scratch_config() -> ImageConfig {
    let mut c = ImageConfig::new(Vec::new(), RunConfig::default());
    c.created = None;
    c
}

/// The image id a FROM names, pulling it when missing (or always with `--pull`).
async fn base_image(b: &Build, name: &str) -> Result<String> {
    let local = b.engine.images.resolve(name).ok();
    if local.is_some() && !b.opts.pull {
        return Ok(local.map(|i| i.id).unwrap_or_default());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    b.progress.say(format!("Pulling {name}\n")).await?;
    let pulled = b.engine.pull_image(name, None, None, tx).await;
    let _ = drain.await;
    match pulled {
        Ok(img) => Ok(img.id),
        Err(e) => Err(Error::not_found(format!(
            "pull access denied or repository does not exist for {name}: {e}"
        ))),
    }
}

async fn from(b: &Build, step: &Step) -> Result<State> {
    let Instr::From {
        image, platform, ..
    } = &step.instr
    else {
        return Err(Error::internal("a stage must start with FROM"));
    };
    if let Some(p) = platform {
        let p = process_word(p, b.df.escape, &b.global.global).map_err(Error::invalid)?;
        let host = Platform::host();
        let same = Platform::parse(&p).is_ok_and(|w| w.matches(&host.os, &host.architecture, ""));
        if !p.is_empty() && !same {
            return Err(Error::invalid(format!(
                "FROM --platform={p}: wharf builds for this host's platform ({host}) only"
            )));
        }
    }
    let base = process_word(image, b.df.escape, &b.global.global).map_err(Error::invalid)?;
    if base.is_empty() {
        return Err(Error::invalid(format!(
            "base name ({image}) should not be blank"
        )));
    }
    let scope = b.global.stage();
    if base.eq_ignore_ascii_case("scratch") {
        return Ok(State {
            image: None,
            config: scratch_config(),
            scope,
            cmd_set: false,
        });
    }
    let lower = base.to_ascii_lowercase();
    let stage =
        b.df.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()));
    let id = match stage {
        Some(i) => b
            .results
            .lock()
            .unwrap()
            .get(&i)
            .cloned()
            .ok_or_else(|| Error::internal(format!("stage {base} is not built yet")))?,
        None => base_image(b, &base).await?,
    };
    Ok(State {
        config: b.engine.images.config(&id)?,
        image: Some(id),
        scope,
        cmd_set: false,
    })
}

/// Use the cache for `key` if allowed and present; true when the step is done.
pub async fn from_cache(b: &Build, st: &mut State, key: &str) -> Result<bool> {
    if b.opts.no_cache {
        return Ok(false);
    }
    let Some(id) = b.engine.build_cache_get(key)? else {
        return Ok(false);
    };
    if !b.opts.cache_from.is_empty() && !in_cache_from(b, &id) {
        return Ok(false);
    }
    st.config = b.engine.images.config(&id)?;
    b.progress
        .say(format!(" ---> Using cache\n ---> {}\n", short_id(&id)))
        .await?;
    st.image = Some(id);
    Ok(true)
}

/// Whether the cached step `id` is one of the `--cache-from` images or in one's history
/// (the classic builder's rule: with `--cache-from`, only those images are cache sources).
fn in_cache_from(b: &Build, id: &str) -> bool {
    b.opts.cache_from.iter().any(|name| {
        let mut next = b.engine.images.resolve(name).ok().map(|r| r.id);
        // Parent chains are finite, but a corrupt store must not loop forever.
        for _ in 0..1000 {
            match next {
                Some(ref cur) if cur == id => return true,
                Some(cur) => next = b.engine.images.get(&cur).ok().and_then(|r| r.parent),
                None => return false,
            }
        }
        false
    })
}

/// Register the step's result and remember it under `key`.
pub async fn commit(
    b: &Build,
    st: &mut State,
    mut config: ImageConfig,
    layer: Option<LayerRecord>,
    created_by: String,
    key: String,
) -> Result<()> {
    config.created = Some(crate::engine::now_rfc3339());
    config.history.push(History {
        created: config.created.clone(),
        created_by: Some(created_by),
        comment: Some("wharf build".into()),
        empty_layer: layer.is_none(),
        ..Default::default()
    });
    let layers: Vec<LayerRecord> = layer.into_iter().collect();
    for l in &layers {
        config.rootfs.diff_ids.push(l.diff_id.clone());
    }
    let bytes = serde_json::to_vec(&config)?;
    let rec = b
        .engine
        .images
        .register_intermediate(&bytes, &layers, st.image.clone())?;
    b.engine.build_cache_put(&key, &rec.id)?;
    b.progress
        .say(format!(" ---> {}\n", short_id(&rec.id)))
        .await?;
    st.image = Some(rec.id);
    st.config = config;
    Ok(())
}

/// The stage's current state as a registered image (a scratch stage's empty one on demand).
pub fn ensure_image(b: &Build, st: &mut State) -> Result<String> {
    if let Some(id) = &st.image {
        return Ok(id.clone());
    }
    let bytes = serde_json::to_vec(&st.config)?;
    let rec = b.engine.images.register_intermediate(&bytes, &[], None)?;
    st.image = Some(rec.id.clone());
    Ok(rec.id)
}

async fn execute(b: &Build, st: &mut State, step: &Step) -> Result<()> {
    match &step.instr {
        Instr::Run { .. } => super::run::run_step(b, st, step).await,
        Instr::Copy(spec) => super::copy::copy_step(b, st, spec, false).await,
        Instr::Add(spec) => super::copy::copy_step(b, st, spec, true).await,
        Instr::From { .. } => Err(Error::internal("FROM inside a stage")),
        Instr::Arg(decls) => {
            let env = st.env();
            let mut parts = Vec::new();
            for (name, default) in decls {
                st.scope
                    .declare(name, default.as_deref(), &env, b.df.escape)
                    .map_err(Error::invalid)?;
                let v = st.scope.declared.iter().find(|(k, _)| k == name);
                parts.push(match v {
                    Some((k, v)) => format!("{k}={v}"),
                    None => name.clone(),
                });
            }
            let text = format!("ARG {}", parts.join(" "));
            let key = st.key(&text).finish();
            if from_cache(b, st, &key).await? {
                return Ok(());
            }
            let config = st.config.clone();
            commit(b, st, config, None, text, key).await
        }
        other => {
            let mut config = st.config.clone();
            let mut cmd_set = st.cmd_set;
            let text = apply(other, &mut config, &st.vars(), b.df.escape, &mut cmd_set)
                .map_err(Error::invalid)?;
            st.cmd_set = cmd_set;
            let key = st.key(&text).finish();
            if from_cache(b, st, &key).await? {
                return Ok(());
            }
            commit(b, st, config, None, text, key).await
        }
    }
}

/// The ONBUILD triggers of the base, as steps (at the FROM's line).
fn triggers(st: &mut State, line: usize) -> std::result::Result<Vec<Step>, String> {
    let list = st.config.config.on_build.take().unwrap_or_default();
    let mut steps = Vec::new();
    for t in list {
        let d = dockerfile::parse(&format!("FROM scratch\n{t}"))
            .map_err(|e| format!("ONBUILD trigger {t:?}: {}", e.message))?;
        for mut s in d.stages.into_iter().flat_map(|s| s.steps) {
            s.line = line;
            steps.push(s);
        }
    }
    Ok(steps)
}

/// Build stage `idx`; returns its image id.
pub async fn build_stage(b: &Build, idx: usize) -> Result<String> {
    let stage = &b.df.stages[idx];
    let total = b.total_steps;
    let mut n = b.first_step.get(&idx).copied().unwrap_or(1);
    let file = &b.file;
    b.progress
        .say(format!("Step {n}/{total} : {}\n", stage.from.text))
        .await?;
    let mut st = from(b, &stage.from)
        .await
        .map_err(|e| at_line(file, stage.from.line, e))?;
    if let Some(id) = &st.image {
        b.progress.say(format!(" ---> {}\n", short_id(id))).await?;
    }
    let onbuild =
        triggers(&mut st, stage.from.line).map_err(|m| at_line(file, stage.from.line, m))?;
    for step in &onbuild {
        b.progress
            .say(format!("# Executing ONBUILD trigger: {}\n", step.text))
            .await?;
        execute(b, &mut st, step)
            .await
            .map_err(|e| step_failed(file, step.line, e))?;
    }
    for step in &stage.steps {
        n += 1;
        b.progress
            .say(format!("Step {n}/{total} : {}\n", step.text))
            .await?;
        execute(b, &mut st, step)
            .await
            .map_err(|e| step_failed(file, step.line, e))?;
    }
    ensure_image(b, &mut st)
}

/// The build's `labels` on the final image (an extra, cached step like Docker's).
pub async fn label_image(b: &Build, id: &str) -> Result<String> {
    let mut st = State {
        image: Some(id.to_string()),
        config: b.engine.images.config(id)?,
        scope: b.global.stage(),
        cmd_set: true,
    };
    let mut config = st.config.clone();
    let labels = config.config.labels.get_or_insert_with(Default::default);
    let mut parts = Vec::new();
    for (k, v) in &b.opts.labels {
        labels.insert(k.clone(), v.clone());
        parts.push(format!("{k}={v}"));
    }
    let text = format!("LABEL {}", parts.join(" "));
    let key = st.key(&text).finish();
    if !from_cache(b, &mut st, &key).await? {
        commit(b, &mut st, config, None, text, key).await?;
    }
    st.image
        .ok_or_else(|| Error::internal("labelling produced no image"))
}
