//! The event bus: every state change is published once; `/events`, `wait` and compose's
//! dependency conditions subscribe instead of polling.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bollard_stubs::models::{EventActor, EventMessage, EventMessageTypeEnum};
use tokio::sync::broadcast;

/// How many past events `since` can replay (dockerd keeps 256; a bounded log either way).
const HISTORY: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<EventMessage>,
    /// The latest events, oldest first; the lock also orders publishing against
    /// [`EventBus::subscribe_since`], so a replay and the live stream neither overlap nor gap.
    history: Arc<Mutex<VecDeque<EventMessage>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(4096).0,
            history: Arc::new(Mutex::new(VecDeque::with_capacity(HISTORY))),
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<EventMessage> {
        self.tx.subscribe()
    }

    /// The kept events from `since_nanos` on (Unix time in nanoseconds), and a subscription
    /// to every event after them.
    pub fn subscribe_since(
        &self,
        since_nanos: i64,
    ) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let past = history
            .iter()
            .filter(|e| e.time_nano.unwrap_or(0) >= since_nanos)
            .cloned()
            .collect();
        (past, self.tx.subscribe())
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
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(msg.clone());
        // No subscribers is fine.
        let _ = self.tx.send(msg);
    }
}
