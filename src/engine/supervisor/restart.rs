//! Restart policies and Docker's restart backoff.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        /// 0: unlimited.
        max_retries: u32,
    },
}

impl RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let p = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure {
                max_retries: match count {
                    Some(c) => c
                        .parse()
                        .map_err(|_| format!("invalid restart policy: maximum retry count must be a number: {c}"))?,
                    None => 0,
                },
            },
            _ => return Err(format!("invalid restart policy '{s}' (expected no, always, unless-stopped or on-failure[:max-retries])")),
        };
        if count.is_some() && !matches!(p, RestartPolicy::OnFailure { .. }) {
            return Err(format!("invalid restart policy '{s}': maximum retry count can only be used with 'on-failure'"));
        }
        Ok(p)
    }

    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }

    pub fn max_retries(&self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max_retries } => *max_retries,
            _ => 0,
        }
    }

    /// Whether a container that exited with `exit_code` after `restarts` restarts runs again.
    pub fn should_restart(&self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                exit_code != 0 && (*max_retries == 0 || restarts < *max_retries)
            }
        }
    }
}

/// Docker's backoff: 100 ms doubling up to one minute, back to the start after a run of 10 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

const INITIAL: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(60);
const RESET_AFTER: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: INITIAL }
    }
}

impl Backoff {
    /// The delay before the next restart, given how long the last run lasted.
    pub fn delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= RESET_AFTER {
            self.next = INITIAL;
        }
        let d = self.next;
        self.next = (self.next * 2).min(MAX);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policies() {
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max_retries: 3 }
        );
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("always:2").is_err());
    }

    #[test]
    fn on_failure_counts() {
        let p = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(p.should_restart(1, 0, false));
        assert!(p.should_restart(1, 1, false));
        assert!(!p.should_restart(1, 2, false));
        assert!(!p.should_restart(0, 0, false));
        assert!(!RestartPolicy::Always.should_restart(0, 0, true));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(10);
        assert_eq!(b.delay(short), Duration::from_millis(100));
        assert_eq!(b.delay(short), Duration::from_millis(200));
        assert_eq!(b.delay(short), Duration::from_millis(400));
        assert_eq!(b.delay(Duration::from_secs(11)), Duration::from_millis(100));
    }
}
