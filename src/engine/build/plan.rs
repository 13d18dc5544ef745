//! The stage graph of one build: which stages the target needs (FROM a stage, COPY --from,
//! RUN --mount from=), refused cycles and unknown stage indexes, and the run itself — every
//! stage whose dependencies are built starts at once, so independent stages build in
//! parallel (BuildKit's model; the classic builder runs them in file order).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::context::{clean_relative, Context};
use super::dockerfile::words::process_word;
use super::dockerfile::{self, Dockerfile, Instr};
use super::scope::Scope;
use super::{at_line, BuildOptions, Progress};
use crate::engine::error::{Error, Result};
use crate::engine::image::ingest::Ingest;
use crate::engine::image::reference::Reference;
use crate::engine::Engine;

/// Everything stage builds share.
pub struct Build {
    pub engine: Arc<Engine>,
    pub context: Context,
    pub opts: BuildOptions,
    pub file: String,
    pub df: Dockerfile,
    pub global: Scope,
    pub progress: Progress,
    /// Stage index → its dependencies (stage indexes).
    pub deps: BTreeMap<usize, BTreeSet<usize>>,
    pub target: usize,
    /// Stage index → number of its FROM step in `Step n/total`.
    pub first_step: HashMap<usize, usize>,
    pub total_steps: usize,
    /// Built stages: index → image id.
    pub results: Mutex<HashMap<usize, String>>,
    /// The build's layers are safe from collection until their step images are registered.
    pub ingest: Ingest,
}

/// The stage an instruction refers to with `--from`/`from=`/FROM, if it is one.
fn stage_ref(df: &Dockerfile, name: &str) -> Option<usize> {
    df.stage_index(name)
}

fn mount_from(spec: &str) -> Option<String> {
    spec.split(',')
        .find_map(|kv| kv.trim().strip_prefix("from=").map(str::to_string))
}

/// The Dockerfile's name (for messages) and its parse.
fn read_dockerfile(context: &mut Context, opts: &BuildOptions) -> Result<(String, Dockerfile)> {
    let file = if opts.dockerfile.is_empty() {
        "Dockerfile".to_string()
    } else {
        opts.dockerfile.clone()
    };
    let rel = clean_relative(&file)
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| {
            Error::invalid(format!(
                "the Dockerfile ({file}) must be within the build context"
            ))
        })?;
    let text = std::fs::read_to_string(context.dockerfile_root().join(&rel))
        .map_err(|e| Error::invalid(format!("Cannot locate specified Dockerfile: {file} ({e})")))?;
    let df = dockerfile::parse(&text).map_err(|e| at_line(&file, e.line, e.message))?;
    context.drop_ignored_build_files(&rel)?;
    Ok((file, df))
}

/// Each stage's dependencies: a stage as FROM, COPY --from, RUN --mount from=.
fn stage_deps(
    df: &Dockerfile,
    global: &Scope,
    file: &str,
) -> Result<BTreeMap<usize, BTreeSet<usize>>> {
    let mut deps = BTreeMap::new();
    for stage in &df.stages {
        let mut d = BTreeSet::new();
        let Instr::From { image, .. } = &stage.from.instr else {
            continue;
        };
        let base = process_word(image, df.escape, &global.global)
            .map_err(|m| at_line(file, stage.from.line, m))?;
        let lower = base.to_ascii_lowercase();
        if let Some(i) = df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            d.insert(i);
        }
        for step in &stage.steps {
            let from = match &step.instr {
                Instr::Copy(c) => c.from.clone(),
                Instr::Run { mounts, .. } => mounts.iter().find_map(|m| mount_from(m)),
                _ => None,
            };
            let Some(f) = from else { continue };
            let f = process_word(&f, df.escape, &global.global)
                .map_err(|m| at_line(file, step.line, m))?;
            match stage_ref(df, &f) {
                Some(i) => {
                    d.insert(i);
                }
                None if f.parse::<usize>().is_ok() => {
                    return Err(at_line(
                        file,
                        step.line,
                        format!("--from={f}: there is no stage with that index"),
                    ))
                }
                None => {}
            }
        }
        deps.insert(stage.index, d);
    }
    Ok(deps)
}

/// Collect the stages `i` needs into `needed`, refusing cycles.
fn visit(
    i: usize,
    deps: &BTreeMap<usize, BTreeSet<usize>>,
    needed: &mut BTreeSet<usize>,
    visiting: &mut Vec<usize>,
    df: &Dockerfile,
) -> std::result::Result<(), String> {
    if visiting.contains(&i) {
        let names: Vec<String> = visiting
            .iter()
            .chain(std::iter::once(&i))
            .map(|s| df.stages[*s].name.clone().unwrap_or_else(|| s.to_string()))
            .collect();
        return Err(format!(
            "circular dependency between stages: {}",
            names.join(" -> ")
        ));
    }
    if !needed.insert(i) {
        return Ok(());
    }
    visiting.push(i);
    for d in deps.get(&i).into_iter().flatten() {
        visit(*d, deps, needed, visiting, df)?;
    }
    visiting.pop();
    Ok(())
}

/// `--build-arg`s no ARG declares (proxy ARGs are predefined).
fn unused_args(
    opts: &BuildOptions,
    df: &Dockerfile,
    global_decls: &[(String, Option<String>)],
) -> Vec<String> {
    opts.build_args
        .keys()
        .filter(|k| {
            !super::scope::PROXY_ARGS.contains(&k.as_str())
                && !global_decls.iter().any(|(n, _)| n == *k)
                && !df.stages.iter().any(|s| {
                    s.steps.iter().any(
                        |st| matches!(&st.instr, Instr::Arg(a) if a.iter().any(|(n, _)| n == *k)),
                    )
                })
        })
        .cloned()
        .collect()
}

impl Build {
    pub fn prepare(
        engine: Arc<Engine>,
        mut context: Context,
        opts: BuildOptions,
        progress: Progress,
    ) -> Result<Arc<Build>> {
        let (file, df) = read_dockerfile(&mut context, &opts)?;
        let global_decls: Vec<(String, Option<String>)> = df
            .global_args
            .iter()
            .flat_map(|s| match &s.instr {
                Instr::Arg(a) => a.clone(),
                _ => Vec::new(),
            })
            .collect();
        let global =
            Scope::global(opts.build_args.clone(), &global_decls, df.escape).map_err(|m| {
                at_line(
                    &file,
                    df.global_args.first().map(|s| s.line).unwrap_or(1),
                    m,
                )
            })?;
        for t in &opts.tags {
            Reference::parse(t).map_err(|e| Error::invalid(format!("invalid tag {t:?}: {e}")))?;
        }
        let target = match &opts.target {
            Some(t) if !t.is_empty() => df.stage_index(t).ok_or_else(|| {
                Error::invalid(format!("target stage \"{t}\" could not be found in {file}"))
            })?,
            _ => df.stages.len() - 1,
        };
        let mut deps = stage_deps(&df, &global, &file)?;
        let mut needed = BTreeSet::new();
        visit(target, &deps, &mut needed, &mut Vec::new(), &df)
            .map_err(|m| at_line(&file, df.stages[target].from.line, m))?;
        deps.retain(|i, _| needed.contains(i));
        let mut first_step = HashMap::new();
        let mut n = 1;
        for i in &needed {
            first_step.insert(*i, n);
            n += 1 + df.stages[*i].steps.len();
        }
        let unused = unused_args(&opts, &df, &global_decls);
        let build = Arc::new(Build {
            ingest: engine.images.ingest(),
            engine,
            context,
            opts,
            file,
            df,
            global,
            progress,
            deps,
            target,
            first_step,
            total_steps: n - 1,
            results: Mutex::new(HashMap::new()),
        });
        if !unused.is_empty() {
            // Reported like Docker, once the stream is read.
            let p = build.progress.clone();
            tokio::spawn(async move {
                let _ = p
                    .say(format!(
                        "[Warning] One or more build-args [{}] were not consumed\n",
                        unused.join(" ")
                    ))
                    .await;
            });
        }
        Ok(build)
    }

    /// Build the needed stages, each as soon as its dependencies are done; then label,
    /// register and tag the target's image.
    pub async fn run(self: Arc<Self>) -> Result<String> {
        let mut pending: BTreeSet<usize> = self.deps.keys().copied().collect();
        let mut running = tokio::task::JoinSet::new();
        let mut done: BTreeSet<usize> = BTreeSet::new();
        loop {
            let ready: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|i| self.deps[i].iter().all(|d| done.contains(d)))
                .collect();
            for i in ready {
                pending.remove(&i);
                let b = self.clone();
                running.spawn(async move { (i, super::stage::build_stage(&b, i).await) });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (i, result) = joined.map_err(|e| Error::internal(format!("build task: {e}")))?;
            match result {
                Ok(id) => {
                    self.results.lock().unwrap().insert(i, id);
                    done.insert(i);
                }
                Err(e) => {
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    return Err(e);
                }
            }
        }
        let id = self
            .results
            .lock()
            .unwrap()
            .get(&self.target)
            .cloned()
            .ok_or_else(|| Error::internal("the target stage was not built"))?;
        self.finish(id).await
    }

    async fn finish(&self, mut id: String) -> Result<String> {
        if !self.opts.labels.is_empty() {
            id = super::stage::label_image(self, &id).await?;
        }
        self.engine.images.promote(&id)?;
        let mut refs = Vec::new();
        for t in &self.opts.tags {
            refs.push(
                Reference::parse(t)
                    .map_err(|e| Error::invalid(format!("invalid tag {t:?}: {e}")))?,
            );
        }
        self.progress.aux(&id).await?;
        let short = crate::util::ids::short_id(&id).to_string();
        self.progress
            .say(format!("Successfully built {short}\n"))
            .await?;
        for r in refs {
            self.engine.images.tag(&id, &r)?;
            self.progress
                .say(format!("Successfully tagged {}\n", r.familiar()))
                .await?;
        }
        self.engine.events.publish(
            bollard_stubs::models::EventMessageTypeEnum::IMAGE,
            "build",
            &id,
            Default::default(),
        );
        Ok(id)
    }
}
