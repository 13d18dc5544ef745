//! Deleting detached host veths in batches, on a thread of its own.
//!
//! The kernel deletes a link inside the sender's netlink call and waits there for RCU grace
//! periods (~15 ms here, more under load). Sent on the daemon's shared netlink socket, each
//! deletion stalls that socket (and the tokio worker driving it), and one call per veth turns a
//! `down` of 50 containers into a second of back-to-back grace periods. The reaper owns its own
//! socket on its own thread, and deletes everything that queued up while it was busy at once:
//! it marks those links with [`REAP_GROUP`] and deletes the group with one `RTM_DELLINK`, so
//! the kernel pays the grace periods once per batch.
//!
//! Marking is what makes a link the reaper's: a link in that group is garbage whichever daemon
//! marked it, so daemons sharing a host may sweep each other's batches (harmlessly).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::{NetError, Netlink};

/// The device group of links queued for deletion ("whar").
pub const REAP_GROUP: u32 = 0x7768_6172;

/// Handle on the reaper thread (started on first use).
pub struct Reaper {
    queue: Mutex<Option<mpsc::UnboundedSender<String>>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Link names queued or being deleted, with how many times each was queued.
    pending: Mutex<HashMap<String, usize>>,
    /// Failures not yet reported by [`Reaper::settle`].
    errors: Mutex<Vec<String>>,
    /// Bumped after each batch; waiters re-check `pending`.
    progress: watch::Sender<u64>,
}

impl Default for Reaper {
    fn default() -> Self {
        Self::new()
    }
}

impl Reaper {
    pub fn new() -> Self {
        Reaper {
            queue: Mutex::new(None),
            shared: Arc::new(Shared::default()),
        }
    }

    /// Queue a host link for deletion (a missing link is not an error).
    pub fn delete(&self, name: &str) {
        *self
            .shared
            .pending
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default() += 1;
        let mut queue = self.queue.lock().unwrap();
        let tx = queue.get_or_insert_with(|| spawn(self.shared.clone()));
        if tx.send(name.to_string()).is_err() {
            drop(queue);
            let err = format!("deleting {name}: the veth reaper is not running");
            self.shared.finish(&[name.to_string()], vec![err]);
        }
    }

    /// Wait until every queued deletion is done; report (once) the ones that failed.
    pub async fn settle(&self) -> Result<(), NetError> {
        self.wait_until(|p| p.is_empty()).await;
        let errs = std::mem::take(&mut *self.shared.errors.lock().unwrap());
        if errs.is_empty() {
            Ok(())
        } else {
            Err(NetError::System(errs.join("; ")))
        }
    }

    /// Wait until `name` is not queued (before creating a link of that name again).
    pub async fn settle_link(&self, name: &str) {
        self.wait_until(|p| !p.contains_key(name)).await;
    }

    async fn wait_until(&self, done: impl Fn(&HashMap<String, usize>) -> bool) {
        let mut progress = self.shared.progress.subscribe();
        loop {
            if done(&self.shared.pending.lock().unwrap()) {
                return;
            }
            if progress.changed().await.is_err() {
                return;
            }
        }
    }
}

impl Shared {
    fn finish(&self, names: &[String], errors: Vec<String>) {
        {
            let mut pending = self.pending.lock().unwrap();
            for n in names {
                if let Some(c) = pending.get_mut(n) {
                    *c -= 1;
                    if *c == 0 {
                        pending.remove(n);
                    }
                }
            }
        }
        self.errors.lock().unwrap().extend(errors);
        self.progress.send_modify(|v| *v += 1);
    }
}

fn spawn(shared: Arc<Shared>) -> mpsc::UnboundedSender<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let started = std::thread::Builder::new()
        .name("veth-reaper".into())
        .spawn(move || run(rx, shared));
    if let Err(e) = started {
        tracing::error!("starting the veth reaper: {e}");
    }
    tx
}

fn run(mut rx: mpsc::UnboundedReceiver<String>, shared: Arc<Shared>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| NetError::System(format!("veth reaper runtime: {e}")));
    // Its own socket: a deletion blocks it for the kernel's grace periods.
    let started = rt.and_then(|rt| rt.block_on(async { Netlink::connect() }).map(|nl| (rt, nl)));
    let (rt, nl) = match started {
        Ok(s) => s,
        Err(e) => {
            // Nothing can be deleted: fail what was queued and everything queued later.
            tracing::error!("{e}");
            rx.close();
            while let Ok(name) = rx.try_recv() {
                shared.finish(
                    std::slice::from_ref(&name),
                    vec![format!("deleting {name}: {e}")],
                );
            }
            return;
        }
    };
    rt.block_on(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let errors = delete_batch(&nl, &batch).await;
            shared.finish(&batch, errors);
        }
    });
}

/// Delete the links named in `batch`: one by index if alone, else as one marked group.
/// Returns the failures (a link already gone is not one).
async fn delete_batch(nl: &Netlink, batch: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut indexes = Vec::new();
    for name in batch {
        match nl.link(name).await {
            Ok(Some(l)) if !indexes.contains(&l.index) => indexes.push(l.index),
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let [one] = indexes[..] {
        if let Err(e) = nl.delete_index(one).await {
            errors.push(e.to_string());
        }
        return errors;
    }
    let mut marked = 0;
    for &i in &indexes {
        match nl.set_group(i, REAP_GROUP).await {
            Ok(true) => marked += 1,
            Ok(false) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    // Ok(false): swept meanwhile by another daemon's reaper.
    if marked > 0 && nl.delete_group(REAP_GROUP).await.is_err() {
        // One bad link fails the group: fall back to one at a time.
        for &i in &indexes {
            if let Err(e) = nl.delete_index(i).await {
                errors.push(e.to_string());
            }
        }
    }
    errors
}
