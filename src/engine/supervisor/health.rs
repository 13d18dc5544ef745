//! Healthchecks: the probe definition, the state machine (starting → healthy / unhealthy) and
//! the schedule. The first probe runs as soon as the container has started.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A probe command, already normalised (`CMD-SHELL x` → `/bin/sh -c x`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HealthSpec {
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: u32 = 3;
/// Docker keeps this many probe results and this much output of each.
pub const KEEP_RESULTS: usize = 5;
pub const MAX_OUTPUT: usize = 4096;

impl HealthSpec {
    /// From Docker's `Test` array and nanosecond durations (0 = default). `None` for `NONE`/empty.
    pub fn from_docker(
        test: &[String],
        interval_ns: i64,
        timeout_ns: i64,
        start_period_ns: i64,
        start_interval_ns: i64,
        retries: i64,
    ) -> Result<Option<Self>, String> {
        let command = match test.first().map(String::as_str) {
            None | Some("NONE") => return Ok(None),
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => {
                vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")]
            }
            Some(other) => {
                return Err(format!(
                    "unknown healthcheck type {other:?} (expected CMD, CMD-SHELL or NONE)"
                ))
            }
        };
        if command.is_empty() {
            return Err("healthcheck has no command".into());
        }
        let d = |ns: i64, default: Duration| {
            if ns > 0 {
                Duration::from_nanos(ns as u64)
            } else {
                default
            }
        };
        Ok(Some(HealthSpec {
            command,
            interval: d(interval_ns, DEFAULT_INTERVAL),
            timeout: d(timeout_ns, DEFAULT_TIMEOUT),
            start_period: d(start_period_ns, Duration::ZERO),
            start_interval: d(start_interval_ns, DEFAULT_START_INTERVAL),
            retries: if retries > 0 {
                retries as u32
            } else {
                DEFAULT_RETRIES
            },
        }))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe's outcome, as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HealthState {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<ProbeResult>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

impl HealthState {
    /// Record a probe result; returns the new status if it changed.
    pub fn record(
        &mut self,
        spec: &HealthSpec,
        result: ProbeResult,
        in_start_period: bool,
    ) -> Option<HealthStatus> {
        let before = self.status;
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !in_start_period || self.status != HealthStatus::Starting {
            // Failures during the start period do not count while still starting.
            self.failing_streak += 1;
            if self.failing_streak >= spec.retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > KEEP_RESULTS {
            self.log.remove(0);
        }
        (self.status != before).then_some(self.status)
    }

    /// Time until the next probe after one finished.
    pub fn next_delay(&self, spec: &HealthSpec, in_start_period: bool) -> Duration {
        if in_start_period && self.status == HealthStatus::Starting {
            spec.start_interval
        } else {
            spec.interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HealthSpec {
        HealthSpec::from_docker(&["CMD-SHELL".into(), "true".into()], 0, 0, 0, 0, 2)
            .unwrap()
            .unwrap()
    }

    fn result(code: i32) -> ProbeResult {
        ProbeResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn transitions() {
        let s = spec();
        assert_eq!(s.command, vec!["/bin/sh", "-c", "true"]);
        let mut h = HealthState::default();
        assert_eq!(h.record(&s, result(0), false), Some(HealthStatus::Healthy));
        assert_eq!(h.record(&s, result(1), false), None);
        assert_eq!(
            h.record(&s, result(1), false),
            Some(HealthStatus::Unhealthy)
        );
        assert_eq!(h.record(&s, result(0), false), Some(HealthStatus::Healthy));
        for _ in 0..10 {
            h.record(&s, result(0), false);
        }
        assert_eq!(h.log.len(), KEEP_RESULTS);
    }

    #[test]
    fn start_period_failures_do_not_count() {
        let s = spec();
        let mut h = HealthState::default();
        for _ in 0..5 {
            assert_eq!(h.record(&s, result(1), true), None);
        }
        assert_eq!(h.status, HealthStatus::Starting);
        assert!(HealthSpec::from_docker(&["NONE".into()], 0, 0, 0, 0, 0)
            .unwrap()
            .is_none());
    }
}
