//! The Lambda entry point: parse the event, run the step, log one line with the outcome.

use std::time::Instant;

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{json, Value};

use super::{RotationError, Rotator};
use crate::event::RotationEvent;

pub async fn handle(rotator: &Rotator, event: LambdaEvent<Value>) -> Result<Value, RotationError> {
    let event = match RotationEvent::from_value(event.payload) {
        Ok(ev) => ev,
        Err(e) => {
            tracing::error!(outcome = "rejected", error = %e, "rotation event rejected");
            return Err(e.into());
        }
    };
    let started = Instant::now();
    let result = rotator.run(&event).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(outcome) => tracing::info!(
            secret_arn = %event.secret_id,
            client_request_token = %event.client_request_token,
            step = %event.step,
            outcome = %outcome,
            duration_ms,
            "rotation step finished"
        ),
        Err(e) => tracing::error!(
            secret_arn = %event.secret_id,
            client_request_token = %event.client_request_token,
            step = %event.step,
            outcome = "failed",
            duration_ms,
            error = %e,
            "rotation step failed"
        ),
    }
    result.map(|outcome| json!({"step": event.step.as_str(), "outcome": outcome.to_string()}))
}

impl From<RotationError> for Diagnostic {
    fn from(e: RotationError) -> Self {
        Diagnostic {
            error_type: "RotationError".into(),
            error_message: e.to_string(),
        }
    }
}
