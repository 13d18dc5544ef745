//! From inotify (through `notify`) to batches of changed paths: every path an event names is
//! collected until the tree has been quiet for a moment, so that an editor's save-as-rename
//! or a `git checkout` of a thousand files becomes one batch and one action, while a single
//! save is acted on within milliseconds. What happened to a path (created, written, renamed,
//! removed) is not kept: the sync looks at the path itself when it acts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long the tree must be quiet before a batch is acted on.
pub const QUIET: Duration = Duration::from_millis(20);
/// A batch is acted on at the latest this long after its first change, even if changes keep
/// coming.
pub const LONGEST: Duration = Duration::from_secs(1);

/// Watches directories and files; changed paths arrive on the receiver.
pub struct Watch {
    _watcher: notify::RecommendedWatcher,
    pub changes: mpsc::UnboundedReceiver<PathBuf>,
}

impl Watch {
    /// Watch every root: a directory with everything under it, a file through its directory
    /// (an editor that saves by renaming replaces the file's inode, which a watch on the file
    /// itself would lose).
    pub fn start(roots: &[PathBuf]) -> Result<Watch, String> {
        let (tx, changes) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if !matches!(ev.kind, EventKind::Access(_)) {
                    for p in ev.paths {
                        let _ = tx.send(p);
                    }
                }
            }
        })
        .map_err(|e| format!("cannot watch files: {e}"))?;
        let mut watched: BTreeSet<PathBuf> = BTreeSet::new();
        for root in roots {
            let (dir, mode) = watch_point(root)?;
            if watched.insert(dir.clone()) {
                watcher
                    .watch(&dir, mode)
                    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
            }
        }
        Ok(Watch {
            _watcher: watcher,
            changes,
        })
    }
}

fn watch_point(root: &Path) -> Result<(PathBuf, RecursiveMode), String> {
    if root.is_dir() {
        return Ok((root.to_path_buf(), RecursiveMode::Recursive));
    }
    match root.parent() {
        Some(parent) if parent.is_dir() => Ok((parent.to_path_buf(), RecursiveMode::NonRecursive)),
        _ => Err(format!(
            "develop.watch path {} does not exist (nor its directory)",
            root.display()
        )),
    }
}

/// The next batch: the first change, and every change that follows it until the tree has been
/// quiet for `quiet` (or `longest` has passed); `None` when the watch ended.
pub async fn next_batch(
    changes: &mut mpsc::UnboundedReceiver<PathBuf>,
    quiet: Duration,
    longest: Duration,
) -> Option<BTreeSet<PathBuf>> {
    let first = changes.recv().await?;
    let last_call = Instant::now() + longest;
    let mut batch = BTreeSet::from([first]);
    loop {
        let until = (Instant::now() + quiet).min(last_call);
        match tokio::time::timeout_at(until, changes.recv()).await {
            Ok(Some(p)) => {
                batch.insert(p);
            }
            Ok(None) | Err(_) => return Some(batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_one_batch_and_a_pause_splits_batches() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..1000 {
            tx.send(PathBuf::from(format!("/w/f{i}"))).unwrap();
        }
        tx.send(PathBuf::from("/w/f1")).unwrap();
        let b = next_batch(&mut rx, QUIET, LONGEST).await.unwrap();
        assert_eq!(b.len(), 1000);
        let sender = tokio::spawn(async move {
            tx.send(PathBuf::from("/w/a")).unwrap();
            tokio::time::sleep(QUIET * 3).await;
            tx.send(PathBuf::from("/w/b")).unwrap();
        });
        assert_eq!(next_batch(&mut rx, QUIET, LONGEST).await.unwrap().len(), 1);
        assert_eq!(next_batch(&mut rx, QUIET, LONGEST).await.unwrap().len(), 1);
        sender.await.unwrap();
        assert!(next_batch(&mut rx, QUIET, LONGEST).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_is_cut_at_the_longest_wait() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sender = tokio::spawn(async move {
            for i in 0.. {
                if tx.send(PathBuf::from(format!("/w/{i}"))).is_err() {
                    break;
                }
                tokio::time::sleep(QUIET / 2).await;
            }
        });
        let b = next_batch(&mut rx, QUIET, LONGEST).await.unwrap();
        let expected = (LONGEST.as_millis() / (QUIET / 2).as_millis()) as usize;
        assert!(b.len().abs_diff(expected) <= 1, "{}", b.len());
        drop(rx);
        sender.abort();
    }
}
