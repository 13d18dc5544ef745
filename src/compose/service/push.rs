//! `push`: the images the selected services build, each pushed once (with its extra
//! `build.tags`), all at once. As docker compose does, a service without a `build:` section is
//! skipped: its image comes from a registry already.

use std::collections::BTreeMap;

use super::{failures, Compose, Result};
use crate::compose::exec::progress::{Event, Kind, State};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::Project;
use crate::compose::plan::service_image;

#[derive(Clone, Debug, Default)]
pub struct PushRequest {
    pub services: Vec<String>,
    pub include_deps: bool,
    pub ignore_push_failures: bool,
}

/// Image name → the services that build it, for the selected services with a `build:`.
pub fn built_images(project: &Project, selection: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in selection {
        let svc = &project.services[s];
        let Some(build) = &svc.build else { continue };
        let names = std::iter::once(service_image(project, s, svc)).chain(build.tags.clone());
        for image in names {
            images.entry(image).or_default().push(s.clone());
        }
    }
    images
}

impl Compose {
    pub async fn push(&self, project: &Project, req: &PushRequest) -> Result<()> {
        let graph = ServiceGraph::build(project)?;
        let selection: Vec<String> = graph
            .select(&req.services, !req.include_deps)?
            .into_iter()
            .collect();
        let images = built_images(project, &selection);
        let jobs = images.iter().map(|(image, services)| async move {
            let event = |state, status| Event::new(Kind::Image, image, state, status);
            self.progress.event(event(State::Working, "Pushing"));
            match self.engine.push_image(image).await {
                Ok(()) => {
                    self.progress.event(event(State::Done, "Pushed"));
                    Ok(())
                }
                Err(e) => {
                    self.progress
                        .event(event(State::Error, "Error").with_detail(e.to_string()));
                    Err(format!(
                        "service {}: cannot push {image}: {e}",
                        services.join(", ")
                    ))
                }
            }
        });
        let mut errors = Vec::new();
        for r in futures_util::future::join_all(jobs).await {
            match r {
                Err(e) if req.ignore_push_failures => self.progress.warning(&e),
                Err(e) => errors.push(e),
                Ok(()) => {}
            }
        }
        failures(errors)
    }
}
