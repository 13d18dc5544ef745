//! `down`: stop and remove the project's containers, networks and (with `-v`) volumes, and
//! with `--rmi` its images. A project known only by name (no compose file) loses everything
//! labelled with it.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{failures, Compose, Result};
use crate::compose::exec::progress::{Event, Kind, State};
use crate::compose::exec::{ExecOptions, Observed};
use crate::compose::load::env::Environment;
use crate::compose::model::{Network, Project, Volume};
use crate::compose::plan::{self, labels, service_image, DownOptions, Plan};

/// Which images `down --rmi` removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveImages {
    /// Images built for services without an `image:` name.
    Local,
    /// Every image the services use.
    All,
}

#[derive(Clone, Debug, Default)]
pub struct DownRequest {
    /// `-v`: named volumes declared by the project and anonymous ones.
    pub volumes: bool,
    pub remove_orphans: bool,
    pub rmi: Option<RemoveImages>,
    /// `-t`: seconds to wait for a stop before killing.
    pub timeout: Option<i64>,
    /// The project was loaded from a compose file (else it is known only by name).
    pub from_file: bool,
}

/// What `down` will do: the plan and the images to remove after it.
pub struct DownPlan {
    pub project: Arc<Project>,
    pub observed: Observed,
    pub plan: Plan,
    pub images: BTreeSet<String>,
}

impl DownPlan {
    /// The plan as text (`--dry-run`).
    pub fn render(&self) -> String {
        let mut s = self.plan.render();
        for i in &self.images {
            s.push_str(&format!("remove image {i}\n"));
        }
        s
    }
}

/// Without a compose file, the networks and volumes labelled with the project are its own.
fn adopt_observed(project: &mut Project, observed: &Observed) {
    for n in &observed.state.networks {
        let key = n.labels.get(labels::NETWORK).unwrap_or(&n.name).clone();
        let name = n.name.clone();
        project.networks.insert(
            key,
            Network {
                name,
                ..Default::default()
            },
        );
    }
    for v in &observed.state.volumes {
        let key = v.labels.get(labels::VOLUME).unwrap_or(&v.name).clone();
        let name = v.name.clone();
        project.volumes.insert(
            key,
            Volume {
                name,
                ..Default::default()
            },
        );
    }
}

fn images_to_remove(project: &Project, observed: &Observed, rmi: RemoveImages) -> BTreeSet<String> {
    let all = rmi == RemoveImages::All;
    let mut images: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(_, s)| all || s.image.is_none())
        .map(|(n, s)| service_image(project, n, s))
        .collect();
    if all {
        images.extend(
            observed
                .state
                .containers
                .iter()
                .filter_map(|c| c.labels.get(labels::IMAGE))
                .filter(|i| !i.starts_with("sha256:"))
                .cloned(),
        );
    }
    images
}

impl Compose {
    pub async fn plan_down(&self, project: &Project, req: &DownRequest) -> Result<DownPlan> {
        let observed = self.observe(project).await?;
        let mut project = project.clone();
        if !req.from_file {
            adopt_observed(&mut project, &observed);
        }
        let plan = plan::plan_down(
            &project,
            &observed.state,
            &DownOptions {
                volumes: req.volumes,
                remove_orphans: req.remove_orphans || !req.from_file,
            },
        )?;
        let images = req
            .rmi
            .map(|r| images_to_remove(&project, &observed, r))
            .unwrap_or_default();
        Ok(DownPlan {
            project: Arc::new(project),
            observed,
            plan,
            images,
        })
    }

    /// Execute a [`DownPlan`]: every step runs even when some fail; all failures are reported.
    pub async fn down(
        &self,
        down: DownPlan,
        environment: Option<Environment>,
        req: &DownRequest,
    ) -> Result<()> {
        let ex = self.executor(
            &down.project,
            environment,
            &down.observed,
            ExecOptions {
                keep_going: true,
                stop_timeout: req.timeout,
                remove_anonymous_volumes: req.volumes,
                ..Default::default()
            },
        );
        let mut errors = Vec::new();
        if let Err(e) = ex.execute(&down.plan).await {
            errors.extend(e.failures);
        }
        for i in &down.images {
            self.progress
                .event(Event::new(Kind::Image, i, State::Working, "Removing"));
            match self.engine.remove_image(i, false).await {
                Ok(()) => self
                    .progress
                    .event(Event::new(Kind::Image, i, State::Done, "Removed")),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    self.progress.event(
                        Event::new(Kind::Image, i, State::Error, "Error")
                            .with_detail(e.to_string()),
                    );
                    errors.push(format!("image {i}: {e}"));
                }
            }
        }
        failures(errors)
    }
}
