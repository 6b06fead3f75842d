//! The delivery port, its report, and the batching and retry rules the sinks share.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;

use super::{Finding, FindingsError};

/// Somewhere findings go.
#[async_trait]
pub trait FindingSink: Send + Sync {
    /// A short fixed name for reports and logs (`eventbridge`, `securityhub`, `log`, `emf`).
    fn name(&self) -> &'static str;

    /// Delivers `findings`. Per-finding failures are in the report; `Err` means the sink could
    /// not attempt delivery at all.
    async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError>;
}

/// What one sink did with one `emit` call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmitReport {
    /// Findings handed to the sink.
    pub attempted: usize,
    /// Findings the destination accepted.
    pub delivered: usize,
    /// Findings it did not accept, with the last error for each.
    pub failed: Vec<DeliveryFailure>,
    /// API calls (or documents written) it took, retries included.
    pub calls: usize,
}

impl EmitReport {
    pub(crate) fn new(attempted: usize) -> Self {
        Self {
            attempted,
            ..Self::default()
        }
    }

    /// Every finding was delivered.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.delivered == self.attempted
    }

    pub(crate) fn fail(
        &mut self,
        finding_id: &str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.failed.push(DeliveryFailure {
            finding_id: finding_id.to_string(),
            code: code.into(),
            message: message.into(),
        });
    }
}

/// One finding a destination did not accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryFailure {
    pub finding_id: String,
    /// The destination's error code (`ThrottlingException`, `InvalidInput`, …) or one of ours:
    /// `RequestFailed` (the whole call failed), `EntryTooLarge`, `MissingResult`.
    pub code: String,
    pub message: String,
}

/// Bounded retries of the entries a destination rejected, with exponential back-off.
/// Whole-call failures are not retried here: the SDK's retry strategy already has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per entry, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each later one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No waiting between attempts (tests).
    pub fn immediate(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// The delay after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    pub(crate) fn may_retry(&self, attempt: u32, code: &str) -> bool {
        attempt < self.max_attempts.max(1) && is_retryable(code)
    }
}

/// Sends `entries` (finding id, entry) to a destination that accepts some entries of a call and
/// rejects others, in one call and then again with only the rejected ones that are worth
/// another attempt, until each is delivered, rejected for good or out of attempts. `send`
/// returns, for each entry it was given in order, `None` (accepted) or `Some((code, message))`;
/// a whole-call failure fails every entry of that call (the SDK has already retried it).
pub(crate) async fn deliver<T, E, F, Fut>(
    report: &mut EmitReport,
    retry: &RetryPolicy,
    destination: &'static str,
    entries: Vec<(String, T)>,
    mut send: F,
) where
    T: Clone,
    E: std::fmt::Display,
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Option<(String, String)>>, E>>,
{
    let mut pending = entries;
    let mut attempt = 1;
    while !pending.is_empty() {
        report.calls += 1;
        let results = match send(pending.iter().map(|(_, e)| e.clone()).collect()).await {
            Ok(results) => results,
            Err(e) => {
                for (id, _) in &pending {
                    report.fail(id, "RequestFailed", e.to_string());
                }
                return;
            }
        };
        let mut again = Vec::new();
        for (i, item) in pending.into_iter().enumerate() {
            match results.get(i) {
                Some(None) => report.delivered += 1,
                Some(Some((code, _))) if retry.may_retry(attempt, code) => again.push(item),
                Some(Some((code, message))) => report.fail(&item.0, code, message),
                None => report.fail(
                    &item.0,
                    "MissingResult",
                    format!("{destination} returned no result for this entry"),
                ),
            }
        }
        if !again.is_empty() {
            tracing::debug!(
                target: "findings",
                entries = again.len(),
                attempt,
                destination,
                "retrying the entries the destination did not accept"
            );
            tokio::time::sleep(retry.backoff(attempt)).await;
            attempt += 1;
        }
        pending = again;
    }
}

/// Error codes worth another attempt: throttling and the destination's internal failures.
/// Validation and permission errors (`InvalidArgument`, `MalformedDetail`, `InvalidInput`,
/// `AccessDeniedException`, `NotAuthorized…`) fail the same way every time.
pub fn is_retryable(code: &str) -> bool {
    let code = code.to_ascii_lowercase();
    [
        "throttl",
        "internal",
        "serviceunavailable",
        "limitexceeded",
        "toomanyrequests",
        "timeout",
    ]
    .iter()
    .any(|needle| code.contains(needle))
}

/// Consecutive ranges of `sizes` with at most `max_count` items and at most `max_bytes` bytes
/// each. An item larger than `max_bytes` on its own gets a range of its own (the caller has
/// already rejected or shrunk such items).
pub(crate) fn batches(sizes: &[usize], max_count: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let max_count = max_count.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == max_count || (i > start && bytes + size > max_bytes);
        if full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_the_maximum_count() {
        let sizes = vec![1; 25];
        assert_eq!(batches(&sizes, 10, usize::MAX), vec![0..10, 10..20, 20..25]);
        assert_eq!(batches(&sizes[..10], 10, usize::MAX), vec![0..10]);
        assert_eq!(batches(&[], 10, usize::MAX), Vec::<Range<usize>>::new());
        let many = vec![1; 250];
        let b = batches(&many, 100, usize::MAX);
        assert_eq!(b, vec![0..100, 100..200, 200..250]);
    }

    #[test]
    fn batches_also_close_when_the_byte_budget_would_be_exceeded() {
        assert_eq!(batches(&[4, 4, 4, 4], 10, 10), vec![0..2, 2..4]);
        // An oversized item still travels, alone.
        assert_eq!(batches(&[3, 20, 3], 10, 10), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
        assert_eq!(p.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn only_throttling_and_internal_errors_are_retried_and_only_within_the_bound() {
        let p = RetryPolicy::immediate(3);
        assert!(p.may_retry(1, "ThrottlingException"));
        assert!(p.may_retry(2, "InternalFailure"));
        assert!(!p.may_retry(3, "InternalFailure"));
        assert!(!p.may_retry(1, "InvalidArgument"));
        assert!(!p.may_retry(1, "MalformedDetail"));
        assert!(!p.may_retry(1, "AccessDeniedException"));
        assert!(!RetryPolicy::immediate(0).may_retry(1, "InternalFailure"));
    }
}
