//! The container lifecycle steps after creation: start (then `post_start` hooks), wait for
//! health or completion (on the event hub), stop (after `pre_stop` hooks) and remove
//! (keeping the anonymous volumes a replacement container takes over).

use std::collections::HashMap;

use crate::api::models::MountPointTypeEnum;
use crate::compose::plan::WaitCondition;

use super::progress::{Kind, State};
use super::{hooks, Inner, StepError, WaitError, WaitFor};

impl Inner {
    pub(super) async fn start(&self, service: &str, name: &str) -> Result<(), StepError> {
        let id = self.id_of(name);
        self.report(Kind::Container, name, State::Working, "Starting");
        match self.engine.start_container(&id).await {
            Ok(()) => {
                self.report(Kind::Container, name, State::Done, "Started");
                let post_start = self.project.services.get(service).map(|s| &s.post_start);
                match post_start.filter(|h| !h.is_empty()) {
                    Some(h) => hooks::run_all(&*self.engine, &id, "post_start", h)
                        .await
                        .map_err(|e| {
                            self.fail(Kind::Container, name, format!("service {service:?}: {e}"))
                        }),
                    None => Ok(()),
                }
            }
            Err(e) => Err(self.fail(
                Kind::Container,
                name,
                format!("service {service:?}: cannot start container {name}: {e}"),
            )),
        }
    }

    pub(super) async fn wait(
        &self,
        service: &str,
        name: &str,
        cond: WaitCondition,
    ) -> Result<(), StepError> {
        let id = self.id_of(name);
        self.report(Kind::Container, name, State::Working, "Waiting");
        let hub = match self.hub().await {
            Ok(h) => h,
            Err(e) => return Err(self.fail(Kind::Container, name, e.to_string())),
        };
        let want = match cond {
            WaitCondition::Healthy => WaitFor::Healthy,
            WaitCondition::CompletedSuccessfully => WaitFor::CompletedSuccessfully,
        };
        match hub
            .wait(&*self.engine, &id, want, self.cancel_rx.clone())
            .await
        {
            Ok(_) => {
                self.report(
                    Kind::Container,
                    name,
                    State::Done,
                    match cond {
                        WaitCondition::Healthy => "Healthy",
                        WaitCondition::CompletedSuccessfully => "Exited",
                    },
                );
                Ok(())
            }
            Err(WaitError::Cancelled) => Err(StepError::Cancelled),
            Err(e) => Err(self.fail(
                Kind::Container,
                name,
                format!("dependency failed to start: container {name} (service {service:?}) {e}"),
            )),
        }
    }

    pub(super) async fn stop(&self, service: &str, name: &str, id: &str) -> Result<(), StepError> {
        let quiet = self.recreating.lock().unwrap().contains(name);
        if !quiet {
            self.report(Kind::Container, name, State::Working, "Stopping");
        }
        self.pre_stop(service, name, id).await?;
        let r = self.engine.stop_container(id, self.opts.stop_timeout).await;
        self.unless_gone(r, service, name, "stop")?;
        if !quiet {
            self.report(Kind::Container, name, State::Done, "Stopped");
        }
        Ok(())
    }

    /// The service's `pre_stop` hooks, when the container is running: a failure aborts the
    /// stop.
    async fn pre_stop(&self, service: &str, name: &str, id: &str) -> Result<(), StepError> {
        let Some(h) = self.project.services.get(service).map(|s| &s.pre_stop) else {
            return Ok(());
        };
        if h.is_empty() {
            return Ok(());
        }
        let running = match self.engine.inspect_container(id).await {
            Ok(i) => i.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        };
        if !running {
            return Ok(());
        }
        hooks::run_all(&*self.engine, id, "pre_stop", h)
            .await
            .map_err(|e| self.fail(Kind::Container, name, format!("service {service:?}: {e}")))
    }

    pub(super) async fn remove_container(
        &self,
        service: &str,
        name: &str,
        id: &str,
    ) -> Result<(), StepError> {
        let quiet = self.recreating.lock().unwrap().contains(name);
        let inherit = self.inherit_wanted.lock().unwrap().contains(id);
        if !quiet {
            self.report(Kind::Container, name, State::Working, "Removing");
        }
        if inherit {
            if let Ok(info) = self.engine.inspect_container(id).await {
                let named = self.named_volumes();
                let anon: HashMap<String, String> = info
                    .mounts
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| m.typ == Some(MountPointTypeEnum::VOLUME))
                    .filter_map(|m| Some((m.destination?, m.name?)))
                    .filter(|(_, n)| !named.contains(n))
                    .collect();
                self.state
                    .lock()
                    .unwrap()
                    .inherited
                    .insert(id.to_string(), anon);
            }
        }
        let v = !inherit && self.opts.remove_anonymous_volumes;
        let r = self.engine.remove_container(id, true, v).await;
        self.unless_gone(r, service, name, "remove")?;
        {
            let mut st = self.state.lock().unwrap();
            if st.ids.get(name).map(String::as_str) == Some(id) {
                st.ids.remove(name);
            }
        }
        if !quiet {
            self.report(Kind::Container, name, State::Done, "Removed");
        }
        Ok(())
    }
}
