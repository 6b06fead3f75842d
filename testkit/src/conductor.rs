//! Drives a rotation the way Secrets Manager does: `RotateSecret` sets up the AWSPENDING
//! placeholder (rotation enabled, version = token, no value), then the four steps run in order
//! through the real Lambda handler; on failure the whole sequence is retried with the same token.

use std::sync::Arc;

use agentcore_rotator::event::Step;
use agentcore_rotator::rotation::{handler, Rotator};
use aws_sdk_secretsmanager::types::RotationRulesType;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

/// One step invocation as the conductor saw it.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub attempt: u32,
    pub step: Step,
    /// The handler's outcome (`done`, `already-done`, …) or its error message.
    pub result: Result<String, String>,
}

#[derive(Clone, Debug)]
pub struct RotationRun {
    pub token: String,
    pub attempts: u32,
    pub steps: Vec<StepRecord>,
    pub succeeded: bool,
}

impl RotationRun {
    /// The last error message, if the rotation failed.
    pub fn last_error(&self) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find_map(|s| s.result.as_ref().err().map(String::as_str))
    }
}

/// Failures injected by the conductor itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultPlan {
    /// In the first attempt, report this step as failed *after* it did its work, as when the
    /// Lambda times out after its last call. Secrets Manager then retries everything.
    pub crash_after: Option<Step>,
    /// Invoke every step twice in a row (the second must be a no-op).
    pub invoke_twice: bool,
}

pub struct Conductor {
    sm: aws_sdk_secretsmanager::Client,
    rotation_lambda_arn: String,
    rotator: Arc<Rotator>,
    /// Whole-sequence attempts before giving up (Secrets Manager's count is undocumented).
    pub max_attempts: u32,
}

impl Conductor {
    pub fn new(
        sm: aws_sdk_secretsmanager::Client,
        rotation_lambda_arn: String,
        rotator: Arc<Rotator>,
    ) -> Self {
        Self {
            sm,
            rotation_lambda_arn,
            rotator,
            max_attempts: 3,
        }
    }

    /// `RotateSecret` with our token: enables rotation and creates the placeholder version.
    pub async fn begin(&self, secret_id: &str) -> String {
        let token = uuid::Uuid::new_v4().to_string();
        self.sm
            .rotate_secret()
            .secret_id(secret_id)
            .client_request_token(&token)
            .rotation_lambda_arn(&self.rotation_lambda_arn)
            .rotation_rules(
                RotationRulesType::builder()
                    .automatically_after_days(30)
                    .build(),
            )
            .send()
            .await
            .expect("RotateSecret (placeholder) failed");
        token
    }

    /// Invokes one step through the Lambda handler, as Secrets Manager would.
    pub async fn invoke(&self, secret_id: &str, token: &str, step: Step) -> Result<String, String> {
        let payload =
            json!({"Step": step.as_str(), "SecretId": secret_id, "ClientRequestToken": token});
        handler::handle(&self.rotator, LambdaEvent::new(payload, Context::default()))
            .await
            .map(|v| v["outcome"].as_str().unwrap_or_default().to_string())
            .map_err(|e| e.to_string())
    }

    pub async fn rotate(&self, secret_id: &str) -> RotationRun {
        self.rotate_with(secret_id, FaultPlan::default()).await
    }

    pub async fn rotate_with(&self, secret_id: &str, faults: FaultPlan) -> RotationRun {
        let token = self.begin(secret_id).await;
        self.run_steps(secret_id, &token, faults).await
    }

    /// The step sequence with retries, for a rotation already begun.
    pub async fn run_steps(&self, secret_id: &str, token: &str, faults: FaultPlan) -> RotationRun {
        let mut steps = Vec::new();
        for attempt in 1..=self.max_attempts {
            let mut failed = false;
            for step in Step::ALL {
                let times = if faults.invoke_twice { 2 } else { 1 };
                for _ in 0..times {
                    let mut result = self.invoke(secret_id, token, step).await;
                    if attempt == 1 && faults.crash_after == Some(step) && result.is_ok() {
                        result = Err(format!("injected crash after {step}"));
                    }
                    failed = result.is_err();
                    steps.push(StepRecord {
                        attempt,
                        step,
                        result,
                    });
                    if failed {
                        break;
                    }
                }
                if failed {
                    break;
                }
            }
            if !failed {
                return RotationRun {
                    token: token.to_string(),
                    attempts: attempt,
                    steps,
                    succeeded: true,
                };
            }
        }
        RotationRun {
            token: token.to_string(),
            attempts: self.max_attempts,
            steps,
            succeeded: false,
        }
    }
}
