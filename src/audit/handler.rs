//! The drift-audit Lambda handler: parse the trigger, run the audit inside the invocation's
//! deadline, log the summary (and one EMF line), answer with the summary and any continuation.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

use super::engine::{AuditOutcome, Auditor};
use super::trigger::Trigger;

/// Handles one invocation. An event the audit does not understand is an error (logged with
/// its source and detail type), never a silent success.
pub async fn handle(
    auditor: &Auditor,
    metrics_namespace: &str,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let trigger = match Trigger::parse(&event.payload) {
        Ok(t) => t,
        Err(e) => {
            let field = |k: &str| {
                event
                    .payload
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(|s| s.chars().take(80).collect::<String>())
            };
            let (event_source, detail_type) = (field("source"), field("detail-type"));
            tracing::error!(
                target: "audit",
                event_source = event_source.as_deref().unwrap_or("-"),
                detail_type = detail_type.as_deref().unwrap_or("-"),
                error = %e,
                "audit trigger rejected"
            );
            return Err(e.into());
        }
    };
    // arn:aws:lambda:<region>:<account>:function:<name>
    let account = event
        .context
        .invoked_function_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty());
    let outcome = auditor
        .run_in(&trigger, deadline(&event.context), account)
        .await?;
    let summary = outcome.summary();
    tracing::info!(
        target: "audit",
        audit_id = %summary.audit_id,
        trigger = %summary.trigger,
        complete = summary.complete,
        providers = summary.providers(),
        secrets = summary.secrets,
        active = summary.active_total(),
        resolved = summary.resolved,
        api_calls = summary.api_calls_total,
        api_calls_lower_bound = summary.lower_bound,
        api_calls_by_operation = %serde_json::to_string(&summary.api_calls).unwrap_or_default(),
        duration_ms = summary.duration_ms,
        "{}",
        super::report::totals(summary)
    );
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    println!("{}", summary.emf(metrics_namespace, now_ms));
    Ok(match &outcome {
        AuditOutcome::Complete(s) => json!({"status": "complete", "summary": s}),
        AuditOutcome::Continued {
            summary,
            continuation,
            scheduled,
        } => json!({
            "status": "continued",
            "summary": summary,
            "continuation": continuation,
            "continuationScheduled": scheduled,
        }),
    })
}

/// The invocation's deadline as an `Instant` (`None` when the context has none, e.g. tests).
pub fn deadline(context: &Context) -> Option<Instant> {
    if context.deadline == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(Instant::now() + Duration::from_millis(context.deadline.saturating_sub(now_ms)))
}
