//! The plan's DAG run in parallel: a step starts as soon as the steps it comes after are
//! done, bounded by `--parallel` (waits take no permit: they only listen). A failure stops
//! new steps unless the run keeps going (`down`); cancellation does the same.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::compose::plan::{Action, Plan};

use super::{Inner, StepError};

type Steps = JoinSet<(usize, Result<(), StepError>)>;

/// Run every step of `plan` that its dependencies allow; the failures, once each.
pub(super) async fn run(inner: &Arc<Inner>, plan: &Plan) -> Vec<String> {
    let n = plan.steps.len();
    let mut remaining: Vec<usize> = plan.steps.iter().map(|s| s.after.len()).collect();
    let mut dependants: Vec<Vec<usize>> = vec![vec![]; n];
    for (i, s) in plan.steps.iter().enumerate() {
        for &a in &s.after {
            dependants[a].push(i);
        }
    }
    let permits = if inner.opts.parallel == 0 {
        Semaphore::MAX_PERMITS
    } else {
        inner.opts.parallel
    };
    let sem = Arc::new(Semaphore::new(permits));
    let mut set = Steps::new();
    let mut failures: Vec<String> = Vec::new();
    let mut stopping = false;
    let spawn = |set: &mut Steps, i: usize| {
        let inner = inner.clone();
        let action = plan.steps[i].action.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let is_wait = matches!(action, Action::WaitContainer { .. });
            let _permit = if is_wait {
                None
            } else {
                Some(sem.acquire_owned().await.expect("semaphore"))
            };
            if *inner.cancel_rx.borrow() && !inner.opts.keep_going {
                return (i, Err(StepError::Cancelled));
            }
            (i, inner.clone().run(action).await)
        });
    };
    for (i, r) in remaining.iter().enumerate() {
        if *r == 0 {
            spawn(&mut set, i);
        }
    }
    while let Some(joined) = set.join_next().await {
        let (i, r) = match joined {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("internal error: {e}"));
                stopping = true;
                continue;
            }
        };
        if let Err(e) = r {
            if let StepError::Failed(msg) = e {
                if !msg.is_empty() && !failures.contains(&msg) {
                    failures.push(msg);
                }
            }
            if !inner.opts.keep_going {
                stopping = true;
                let _ = inner.cancel_tx.send(true);
                continue;
            }
        }
        if *inner.cancel_rx.borrow() && !inner.opts.keep_going {
            stopping = true;
        }
        for &d in &dependants[i] {
            remaining[d] -= 1;
            if remaining[d] == 0 && !stopping {
                spawn(&mut set, d);
            }
        }
    }
    failures
}
