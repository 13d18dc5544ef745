//! The pull step: an image that cannot be pulled but is present locally is used with a
//! warning, as docker compose does; one that is neither fails the services that need it.

use super::progress::{Event, Kind, State};
use super::{Inner, StepError};

impl Inner {
    pub(super) async fn pull(&self, image: &str) -> Result<(), StepError> {
        self.report(Kind::Image, image, State::Working, "Pulling");
        let platform = self.platform_of_image(image);
        match self.engine.pull_image(image, platform.as_deref()).await {
            Ok(()) => {
                self.report(Kind::Image, image, State::Done, "Pulled");
                Ok(())
            }
            Err(e) => {
                let services = self.services_using_image(image).join(", ");
                let present = match self.engine.inspect_image(image).await {
                    Ok(_) => true,
                    Err(e2) if e2.is_not_found() => false,
                    Err(_) => self.images.contains_key(image),
                };
                if present {
                    self.progress.event(
                        Event::new(Kind::Image, image, State::Warning, "Pull failed")
                            .with_detail(format!("{e}; using the local image")),
                    );
                    self.progress.warning(&format!(
                        "service {services}: cannot pull {image} ({e}); using the image present locally"
                    ));
                    Ok(())
                } else {
                    Err(self.fail(
                        Kind::Image,
                        image,
                        format!("service {services}: image {image} is not present and cannot be pulled: {e}"),
                    ))
                }
            }
        }
    }
}
