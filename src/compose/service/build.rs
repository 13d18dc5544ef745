//! `build`: the images of the selected services that have a `build:` section, all at once
//! (each image once, whatever number of services share it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Compose, Error, Result};
use crate::compose::exec::build::BuildOptions;
use crate::compose::exec::{ExecOptions, Observed};
use crate::compose::load::env::Environment;
use crate::compose::model::Project;
use crate::compose::plan::{service_image, Action, Plan};

#[derive(Clone, Debug, Default)]
pub struct BuildRequest {
    /// Services to build (empty: every service with a build section).
    pub services: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
    /// `--build-arg`, over the services' own `args:`.
    pub args: BTreeMap<String, String>,
}

impl Compose {
    /// One build step per image of the selected services with a `build:` section.
    pub fn plan_build(&self, project: &Project, req: &BuildRequest) -> Result<Plan> {
        if let Some(s) = req
            .services
            .iter()
            .find(|s| !project.services.contains_key(*s))
        {
            return Err(Error::Usage(format!("no such service: {s}")));
        }
        let mut plan = Plan::default();
        let mut images = BTreeSet::new();
        for (name, svc) in &project.services {
            let selected = req.services.is_empty() || req.services.contains(name);
            if !selected || svc.build.is_none() {
                continue;
            }
            let image = service_image(project, name, svc);
            if images.insert(image.clone()) {
                plan.steps.push(crate::compose::plan::Step {
                    action: Action::BuildImage {
                        service: name.clone(),
                        image,
                    },
                    after: vec![],
                });
            }
        }
        Ok(plan)
    }

    /// Build the images of [`Compose::plan_build`], in parallel.
    pub async fn build(
        &self,
        project: &Arc<Project>,
        environment: Environment,
        req: &BuildRequest,
    ) -> Result<()> {
        let plan = self.plan_build(project, req)?;
        let opts = ExecOptions {
            build: BuildOptions {
                no_cache: req.no_cache,
                pull: req.pull,
                args: req.args.clone(),
            },
            ..Default::default()
        };
        let observed = Observed::default();
        let ex = self.executor(project, Some(environment), &observed, opts);
        Ok(ex.execute(&plan).await?)
    }
}
