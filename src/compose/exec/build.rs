//! The `build image` step: a service's `build:` section as a build request, its context packed
//! as the docker CLI packs it (`.dockerignore` honoured, `dockerfile_inline` added), built by
//! the engine with its progress shown on the image's line.

use std::collections::BTreeMap;
use std::path::Path;

use super::progress::{Event, Kind, State};
use super::{Inner, StepError};
use crate::api::client::build::BuildRequest;
use crate::api::client::context;
use crate::compose::engine::BuildJob;
use crate::compose::exec::container::read_file_object;
use crate::compose::model::Build;

/// `compose build` / `up --build` options that shape every build of a run.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub no_cache: bool,
    /// Pull newer base images.
    pub pull: bool,
    /// `--build-arg`: these win over the services' `args:`.
    pub args: BTreeMap<String, String>,
}

impl Inner {
    /// The job for service `service`'s image `image`.
    fn build_job(&self, service: &str, image: &str, build: &Build) -> Result<BuildJob, String> {
        let fail = |m: String| format!("service {service:?}: {m}");
        let dir = Path::new(&build.context);
        if build.context.contains("://") || build.context.starts_with("git@") {
            return Err(fail(format!(
                "remote build contexts ({}) are not supported yet: clone it and point context: at the directory",
                build.context
            )));
        }
        let inline = build.dockerfile_inline.clone().map(String::into_bytes);
        let file = match (&inline, &build.dockerfile) {
            (None, Some(f)) => Some(dir.join(f).display().to_string()),
            _ => None,
        };
        let plan = context::plan(Some(dir), file.as_deref(), inline).map_err(fail)?;
        let mut build_args: BTreeMap<String, String> = build
            .args
            .iter()
            .filter_map(|(k, v)| {
                let v = v.clone().or_else(|| self.env_value(k))?;
                Some((k.clone(), v))
            })
            .collect();
        build_args.extend(self.opts.build.args.clone());
        let mut tags = vec![image.to_string()];
        tags.extend(build.tags.iter().filter(|t| t.as_str() != image).cloned());
        // `RUN --mount=type=secret,id=<target>` (the secret's name when no target is given).
        let mut secrets = BTreeMap::new();
        for r in &build.secrets {
            let def = self
                .project
                .secrets
                .get(&r.source)
                .ok_or_else(|| fail(format!("build: undefined secret {:?}", r.source)))?;
            let bytes = read_file_object(def, &r.source, "secret", self.environment.as_ref())
                .map_err(|e| fail(format!("build: {e}")))?;
            secrets.insert(r.target.clone().unwrap_or_else(|| r.source.clone()), bytes);
        }
        Ok(BuildJob {
            context: plan,
            request: BuildRequest {
                tags,
                build_args,
                target: build.target.clone(),
                no_cache: self.opts.build.no_cache || build.no_cache,
                pull: self.opts.build.pull || build.pull,
                labels: build.labels.clone(),
                network: build.network.clone(),
                extra_hosts: crate::compose::model::host_entries(&build.extra_hosts),
                shm_size: build.shm_size.map(|s| s.0 as i64),
                secrets,
                ..Default::default()
            },
        })
    }

    /// A variable of the project's environment (`.env`, the shell), for `args: [NAME]`.
    fn env_value(&self, name: &str) -> Option<String> {
        self.environment
            .as_ref()
            .and_then(|e| e.get(name))
            .or_else(|| std::env::var(name).ok())
    }

    pub(super) async fn build_image(&self, service: &str, image: &str) -> Result<(), StepError> {
        let Some(build) = self.project.services[service].build.clone() else {
            return Err(self.fail(
                Kind::Image,
                image,
                format!("service {service:?} has no build section"),
            ));
        };
        let job = self
            .build_job(service, image, &build)
            .map_err(|e| self.fail(Kind::Image, image, e))?;
        self.report(Kind::Image, image, State::Working, "Building");
        let progress = |line: &str| {
            if let Some(step) = line.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
                self.progress.event(
                    Event::new(Kind::Image, image, State::Working, "Building").with_detail(step),
                );
            }
        };
        match self.engine.build_image(job, &progress).await {
            Ok(_) => {
                self.report(Kind::Image, image, State::Done, "Built");
                Ok(())
            }
            Err(e) => Err(self.fail(
                Kind::Image,
                image,
                format!("service {service:?}: building {image}: {e}"),
            )),
        }
    }
}
