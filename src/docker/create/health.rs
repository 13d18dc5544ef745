//! The healthcheck section: durations in nanoseconds, `["NONE"]` for a disabled check.

use std::time::Duration;

use bollard_stubs::models::HealthConfig;

/// A healthcheck as both `run --health-*` and compose's `healthcheck:` describe it.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// `disable: true` / `--no-healthcheck`: the image's check is turned off.
    pub disable: bool,
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]`; empty keeps the image's test.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<i64>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
}

fn ns(d: Duration) -> i64 {
    d.as_nanos() as i64
}

impl Health {
    /// The API's health config.
    pub fn config(self) -> HealthConfig {
        if self.disable {
            return HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            };
        }
        HealthConfig {
            test: (!self.test.is_empty()).then_some(self.test),
            interval: self.interval.map(ns),
            timeout: self.timeout.map(ns),
            retries: self.retries,
            start_period: self.start_period.map(ns),
            start_interval: self.start_interval.map(ns),
        }
    }
}
