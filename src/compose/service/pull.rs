//! `pull`: the images of the selected services, each pulled once, all at once. A failed pull of
//! an image that is present locally is a warning.

use std::collections::BTreeMap;

use super::{failures, Compose, Result};
use crate::compose::exec::progress::{Event, Kind, State};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::Project;
use crate::compose::plan::service_image;

#[derive(Clone, Debug, Default)]
pub struct PullRequest {
    pub services: Vec<String>,
    pub include_deps: bool,
    pub ignore_pull_failures: bool,
}

impl Compose {
    pub async fn pull(&self, project: &Project, req: &PullRequest) -> Result<()> {
        let graph = ServiceGraph::build(project)?;
        let selection = graph.select(&req.services, !req.include_deps)?;
        let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut platforms: BTreeMap<String, String> = BTreeMap::new();
        for s in &selection {
            let svc = &project.services[s];
            if svc.image.is_none() && svc.build.is_some() {
                continue;
            }
            let image = service_image(project, s, svc);
            if let Some(p) = &svc.platform {
                platforms.entry(image.clone()).or_insert_with(|| p.clone());
            }
            images.entry(image).or_default().push(s.clone());
        }
        let platforms = &platforms;
        let jobs = images.iter().map(|(image, services)| async move {
            let event = |state, status| Event::new(Kind::Image, image, state, status);
            self.progress.event(event(State::Working, "Pulling"));
            let platform = platforms.get(image).map(String::as_str);
            match self.engine.pull_image(image, platform).await {
                Ok(()) => {
                    self.progress.event(event(State::Done, "Pulled"));
                    Ok(())
                }
                Err(e) => {
                    let present = self.engine.inspect_image(image).await.is_ok();
                    let state = if present {
                        State::Warning
                    } else {
                        State::Error
                    };
                    self.progress
                        .event(event(state, "Error").with_detail(e.to_string()));
                    let services = services.join(", ");
                    Err((
                        present,
                        format!("service {services}: cannot pull {image}: {e}"),
                    ))
                }
            }
        });
        let mut errors = Vec::new();
        for r in futures_util::future::join_all(jobs).await {
            match r {
                Err((true, e)) => self
                    .progress
                    .warning(&format!("{e} (the image present locally is used)")),
                Err((false, e)) if req.ignore_pull_failures => self.progress.warning(&e),
                Err((false, e)) => errors.push(e),
                Ok(()) => {}
            }
        }
        failures(errors)
    }
}
