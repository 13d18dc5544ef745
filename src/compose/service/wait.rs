//! `wait`: block until the services' containers exit, listening to events.

use super::{id_of, Compose, Error, Result};
use crate::compose::exec::{EventHub, WaitFor};
use crate::compose::model::Project;

impl Compose {
    /// The exit codes of the containers of `services` once they all exited, or (with
    /// `first_only`) the code of the first one to exit.
    pub async fn wait(
        &self,
        project: &Project,
        services: &[String],
        first_only: bool,
    ) -> Result<Vec<i64>> {
        let hub = EventHub::subscribe(&*self.engine, Some(&project.name)).await?;
        let list = self
            .containers(&project.name, services, true, false)
            .await?;
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let waits = list.iter().map(|c| {
            let (hub, cancel) = (&hub, cancel.clone());
            async move {
                hub.wait(&*self.engine, id_of(c), WaitFor::Exit, cancel)
                    .await
            }
        });
        if first_only {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            let (r, _, _) = futures_util::future::select_all(waits.map(Box::pin)).await;
            return Ok(vec![r.map_err(Error::from)?]);
        }
        futures_util::future::join_all(waits)
            .await
            .into_iter()
            .map(|r| r.map_err(Error::from))
            .collect()
    }
}
