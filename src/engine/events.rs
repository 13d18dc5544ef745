//! The event bus: every state change is published once; `/events`, `wait` and compose's
//! dependency conditions subscribe instead of polling.

use std::collections::HashMap;

use bollard_stubs::models::{EventActor, EventMessage, EventMessageTypeEnum};
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<EventMessage>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(4096).0,
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<EventMessage> {
        self.tx.subscribe()
    }

    pub fn publish(
        &self,
        kind: EventMessageTypeEnum,
        action: &str,
        id: &str,
        attributes: HashMap<String, String>,
    ) {
        let now = chrono::Utc::now();
        let msg = EventMessage {
            typ: Some(kind),
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some(id.to_string()),
                attributes: Some(attributes),
            }),
            scope: Some(bollard_stubs::models::EventMessageScopeEnum::LOCAL),
            time: Some(now.timestamp()),
            time_nano: Some(now.timestamp_nanos_opt().unwrap_or(0)),
        };
        // No subscribers is fine.
        let _ = self.tx.send(msg);
    }
}
