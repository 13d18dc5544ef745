//! The plan itself: actions, steps with what they come after, and the stable text rendering
//! that the golden tests compare.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::compose::model::PullPolicy;

/// The options of `up` (and `create`) that shape a plan.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Selected services (empty: all enabled services).
    pub services: Vec<String>,
    pub no_deps: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub always_recreate_deps: bool,
    /// `-V`: new anonymous volumes instead of the previous containers'.
    pub renew_anon_volumes: bool,
    pub remove_orphans: bool,
    /// `--scale svc=N`.
    pub scale: BTreeMap<String, u32>,
    pub no_start: bool,
    /// `--pull`: overrides every service's pull_policy.
    pub pull: Option<PullPolicy>,
    /// `--build`: build images of services with a build section even when present.
    pub build: bool,
    /// `--no-build`.
    pub no_build: bool,
}

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WaitCondition {
    Healthy,
    CompletedSuccessfully,
}

/// One action of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateNetwork {
        key: String,
        name: String,
    },
    CreateVolume {
        key: String,
        name: String,
    },
    PullImage {
        image: String,
    },
    BuildImage {
        service: String,
        image: String,
    },
    CreateContainer {
        service: String,
        number: u32,
        name: String,
        config_hash: String,
        /// Recreating: take the anonymous volumes of this (old) container.
        inherit_volumes_from: Option<String>,
    },
    StartContainer {
        service: String,
        name: String,
    },
    WaitContainer {
        service: String,
        name: String,
        condition: WaitCondition,
    },
    StopContainer {
        service: String,
        name: String,
        id: String,
        reason: String,
    },
    RemoveContainer {
        service: String,
        name: String,
        id: String,
    },
    RemoveNetwork {
        name: String,
    },
    RemoveVolume {
        name: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateNetwork { name, .. } => write!(f, "create network {name}"),
            Action::CreateVolume { name, .. } => write!(f, "create volume {name}"),
            Action::PullImage { image } => write!(f, "pull image {image}"),
            Action::BuildImage { service, image } => {
                write!(f, "build image {image} (service {service})")
            }
            Action::CreateContainer {
                name,
                inherit_volumes_from,
                ..
            } => {
                write!(f, "create container {name}")?;
                if inherit_volumes_from.is_some() {
                    write!(f, " (keeping anonymous volumes)")?;
                }
                Ok(())
            }
            Action::StartContainer { name, .. } => write!(f, "start container {name}"),
            Action::WaitContainer {
                name, condition, ..
            } => match condition {
                WaitCondition::Healthy => write!(f, "wait for container {name} to be healthy"),
                WaitCondition::CompletedSuccessfully => {
                    write!(f, "wait for container {name} to complete successfully")
                }
            },
            Action::StopContainer { name, reason, .. } => {
                write!(f, "stop container {name} ({reason})")
            }
            Action::RemoveContainer { name, .. } => write!(f, "remove container {name}"),
            Action::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Action::RemoveVolume { name } => write!(f, "remove volume {name}"),
        }
    }
}

/// A step: an action and the steps it must come after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub after: Vec<usize>,
}

/// A plan: steps (indices are step ids) and warnings (orphans left behind...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub(super) fn add(&mut self, action: Action, mut after: Vec<usize>) -> usize {
        after.sort_unstable();
        after.dedup();
        if let Some(i) = self.steps.iter().position(|s| s.action == action) {
            let s = &mut self.steps[i];
            s.after.extend(after);
            s.after.sort_unstable();
            s.after.dedup();
            return i;
        }
        self.steps.push(Step { action, after });
        self.steps.len() - 1
    }

    /// Step ids in a stable topological order (ready steps by their rendered text).
    pub fn order(&self) -> Vec<usize> {
        let n = self.steps.len();
        let mut indeg: Vec<usize> = self.steps.iter().map(|s| s.after.len()).collect();
        let mut dependants: Vec<Vec<usize>> = vec![vec![]; n];
        for (i, s) in self.steps.iter().enumerate() {
            for &a in &s.after {
                dependants[a].push(i);
            }
        }
        let mut ready: BTreeSet<(String, usize)> = (0..n)
            .filter(|&i| indeg[i] == 0)
            .map(|i| (self.steps[i].action.to_string(), i))
            .collect();
        let mut out = Vec::with_capacity(n);
        while let Some((_, i)) = ready.pop_first() {
            out.push(i);
            for &d in &dependants[i] {
                indeg[d] -= 1;
                if indeg[d] == 0 {
                    ready.insert((self.steps[d].action.to_string(), d));
                }
            }
        }
        out
    }

    /// The plan as text: one line per step in a stable topological order, with what it comes
    /// after (`<- ...`), then the warnings. An empty plan is `nothing to do`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("nothing to do\n");
        }
        for i in self.order() {
            let s = &self.steps[i];
            out.push_str(&s.action.to_string());
            if !s.after.is_empty() {
                let mut deps: Vec<String> = s
                    .after
                    .iter()
                    .map(|&a| self.steps[a].action.to_string())
                    .collect();
                deps.sort();
                out.push_str("  <- ");
                out.push_str(&deps.join("; "));
            }
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str("warning: ");
            out.push_str(w);
            out.push('\n');
        }
        out
    }
}
