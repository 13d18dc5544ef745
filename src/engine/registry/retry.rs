//! When and how long to wait before asking a registry again: after a connection error, a
//! `429 Too Many Requests` or a 5xx, up to [`ATTEMPTS`] tries in all, waiting twice as long
//! each time (from [`FIRST_DELAY`], at most [`MAX_DELAY`]), or what the registry's
//! `Retry-After` asks for (seconds or an HTTP date), bounded by [`MAX_RETRY_AFTER`] so that a
//! registry cannot hold a pull for ever.

use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::StatusCode;

/// Tries of one request in all (the first and three more).
pub const ATTEMPTS: u32 = 4;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether an answer with `status` is worth asking again for.
pub fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// The wait before try `attempt + 2` (`attempt` counts the retries made so far), given the
/// answer's `Retry-After` if it had one.
pub fn delay(attempt: u32, retry_after: Option<&HeaderValue>) -> Duration {
    if let Some(wait) = retry_after.and_then(parse_retry_after) {
        return wait.min(MAX_RETRY_AFTER);
    }
    FIRST_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY)
}

/// `Retry-After: 3` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` (a date in the past is
/// no wait).
fn parse_retry_after(v: &HeaderValue) -> Option<Duration> {
    let v = v.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let left = when.signed_duration_since(chrono::Utc::now());
    Some(left.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_retry_after_is_bounded() {
        assert_eq!(delay(0, None), Duration::from_millis(250));
        assert_eq!(delay(2, None), Duration::from_secs(1));
        assert_eq!(delay(30, None), MAX_DELAY);
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(delay(0, Some(&h("2"))), Duration::from_secs(2));
        assert_eq!(delay(0, Some(&h("0"))), Duration::ZERO);
        assert_eq!(delay(0, Some(&h("86400"))), MAX_RETRY_AFTER);
        assert_eq!(
            delay(0, Some(&h("Wed, 21 Oct 2015 07:28:00 GMT"))),
            Duration::ZERO
        );
        // Not a number or a date: the backoff.
        assert_eq!(delay(1, Some(&h("soon"))), Duration::from_millis(500));
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::BAD_GATEWAY));
        assert!(!retryable(StatusCode::NOT_IMPLEMENTED));
        assert!(!retryable(StatusCode::NOT_FOUND));
    }
}
