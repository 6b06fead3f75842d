//! Drives a rotation the way Secrets Manager does: `RotateSecret` sets up the AWSPENDING
//! placeholder (rotation enabled, version = token, no value), then the four steps run in order
//! through the real Lambda handler; on failure the whole sequence is retried with the same token.
//!
//! The handler runs in this process ([`Invoker::InProcess`]) or in a `rotation-step` child
//! process per invocation ([`Invoker::Process`]), so a fault can kill the function mid-call the
//! way a Lambda execution environment dies; a killed process is a failed invocation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use agentcore_rotator::event::Step;
use agentcore_rotator::rotation::{handler, Rotator};
use aws_sdk_secretsmanager::types::RotationRulesType;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

use crate::fault::Faults;

/// Prefix of the one result line the `rotation-step` binary prints on stdout.
pub const RESULT_PREFIX: &str = "rotation-step-result: ";

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
    /// Every step's error message, in order (for leak checks).
    pub fn errors(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|s| s.result.clone().err())
            .collect()
    }

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

/// How the conductor invokes the rotation function.
#[derive(Clone)]
pub enum Invoker {
    /// The Lambda handler, called in this process.
    InProcess(Arc<Rotator>),
    /// A `rotation-step` process per invocation: a fresh execution environment each time, which
    /// a [`crate::fault::FaultKind::Kill`] can end mid-call.
    Process(StepProcess),
}

/// The `rotation-step` binary and the function's environment.
#[derive(Clone, Debug)]
pub struct StepProcess {
    pub program: PathBuf,
    /// The function's whole environment: the child starts from an empty one plus `PATH`.
    pub env: Vec<(String, String)>,
}

impl StepProcess {
    /// [`rotation_step_binary`] with `env`.
    pub fn new(env: Vec<(String, String)>) -> Self {
        Self {
            program: rotation_step_binary().to_path_buf(),
            env,
        }
    }
}

/// The `rotation-step` binary, built once per test process with the cargo running the tests,
/// in the same profile (a test binary of another package cannot use `CARGO_BIN_EXE_*`).
pub fn rotation_step_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        // What cargo sets for the running test (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, OUT_DIR…)
        // must not reach the nested build: build scripts rerun when those change (ring's
        // does), and the outer and nested builds would then rebuild each other's dependencies.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key == "OUT_DIR"
                || key == "CARGO_PRIMARY_PACKAGE"
                || key == "CARGO_TARGET_TMPDIR"
                || key == "CARGO_RUSTC_CURRENT_DIR"
                || [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                    "CARGO_CFG_",
                ]
                .iter()
                .any(|p| key.starts_with(p))
            {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.current_dir(crate::moto::repo_root()).args([
            "build",
            "--quiet",
            "--message-format=json",
            "-p",
            "agentcore-rotator-testkit",
            "--bin",
            "rotation-step",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build for rotation-step");
        assert!(
            out.status.success(),
            "cargo build rotation-step failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["target"]["name"] == "rotation-step")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no rotation-step executable")
    })
}

pub struct Conductor {
    sm: aws_sdk_secretsmanager::Client,
    rotation_lambda_arn: String,
    invoker: Invoker,
    /// Whole-sequence attempts before giving up (Secrets Manager's count is undocumented).
    pub max_attempts: u32,
    /// The fault plan of the proxies in front of the stack, if any: told which attempt and step
    /// is running (request context) and the step process's pid (for a kill), and disarmed when
    /// the first attempt ends, so a fault only ever hits the first attempt.
    pub faults: Option<Arc<Faults>>,
    /// Refuse `RotateSecret` while AWSPENDING sits on a version other than AWSCURRENT, as
    /// Secrets Manager does ("A previous rotation isn't complete"); moto instead moves the label
    /// to the new version, which tests that start a new rotation after a failed one rely on.
    /// Off by default.
    pub refuse_while_pending: bool,
}

impl Conductor {
    pub fn new(
        sm: aws_sdk_secretsmanager::Client,
        rotation_lambda_arn: String,
        rotator: Arc<Rotator>,
    ) -> Self {
        Self::with_invoker(sm, rotation_lambda_arn, Invoker::InProcess(rotator))
    }

    pub fn with_invoker(
        sm: aws_sdk_secretsmanager::Client,
        rotation_lambda_arn: String,
        invoker: Invoker,
    ) -> Self {
        Self {
            sm,
            rotation_lambda_arn,
            invoker,
            max_attempts: 3,
            faults: None,
            refuse_while_pending: false,
        }
    }

    /// See [`Conductor::faults`].
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Self {
        self.faults = Some(faults);
        self
    }

    /// `RotateSecret` with our token: enables rotation and creates the placeholder version.
    pub async fn begin(&self, secret_id: &str) -> String {
        self.try_begin(secret_id)
            .await
            .expect("RotateSecret (placeholder) failed")
    }

    /// [`Conductor::begin`], returning Secrets Manager's refusal as an error message. With
    /// [`Conductor::refuse_while_pending`] the conductor checks for a rotation in progress first,
    /// under one lock per test process so two conductors starting at once cannot both pass.
    pub async fn try_begin(&self, secret_id: &str) -> Result<String, String> {
        static BEGIN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _serialized = BEGIN.lock().await;
        if self.refuse_while_pending {
            self.refuse_if_pending(secret_id).await?;
        }
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
            .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())?;
        Ok(token)
    }

    async fn refuse_if_pending(&self, secret_id: &str) -> Result<(), String> {
        let described = self
            .sm
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())?;
        let in_progress = described.version_ids_to_stages().is_some_and(|m| {
            m.values().any(|stages| {
                stages.iter().any(|s| s == "AWSPENDING")
                    && !stages.iter().any(|s| s == "AWSCURRENT")
            })
        });
        if in_progress {
            return Err(
                "InvalidRequestException: A previous rotation isn't complete. That rotation will be reattempted."
                    .into(),
            );
        }
        Ok(())
    }

    /// Invokes one step through the Lambda handler, as Secrets Manager would.
    pub async fn invoke(&self, secret_id: &str, token: &str, step: Step) -> Result<String, String> {
        let payload =
            json!({"Step": step.as_str(), "SecretId": secret_id, "ClientRequestToken": token});
        match &self.invoker {
            Invoker::InProcess(rotator) => {
                handler::handle(rotator, LambdaEvent::new(payload, Context::default()))
                    .await
                    .map(|v| v["outcome"].as_str().unwrap_or_default().to_string())
                    .map_err(|e| e.to_string())
            }
            Invoker::Process(process) => self.invoke_process(process, payload).await,
        }
    }

    async fn invoke_process(
        &self,
        process: &StepProcess,
        payload: Value,
    ) -> Result<String, String> {
        use std::os::unix::process::ExitStatusExt;
        let child = tokio::process::Command::new(&process.program)
            .arg(payload.to_string())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(process.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", process.program.display()))?;
        if let Some(f) = &self.faults {
            f.set_victim(child.id());
        }
        let out = child.wait_with_output().await;
        if let Some(f) = &self.faults {
            f.set_victim(None);
        }
        let out = out.map_err(|e| format!("rotation process lost: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let result = stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(RESULT_PREFIX))
            .and_then(|r| serde_json::from_str::<Value>(r).ok());
        match (result, out.status.signal()) {
            (Some(r), _) => match (r["outcome"].as_str(), r["error"].as_str()) {
                (Some(outcome), _) => Ok(outcome.to_string()),
                (None, Some(error)) => Err(error.to_string()),
                _ => Err(format!(
                    "rotation process printed an unexpected result: {r}"
                )),
            },
            (None, Some(signal)) => Err(format!(
                "rotation process killed by signal {signal} before it answered"
            )),
            (None, None) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
                Err(format!(
                    "rotation process exited with {} without a result: {}",
                    out.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ))
            }
        }
    }

    pub async fn rotate(&self, secret_id: &str) -> RotationRun {
        self.rotate_with(secret_id, FaultPlan::default()).await
    }

    pub async fn rotate_with(&self, secret_id: &str, faults: FaultPlan) -> RotationRun {
        let token = self.begin(secret_id).await;
        self.run_steps(secret_id, &token, faults).await
    }

    /// [`Conductor::rotate`], or Secrets Manager's refusal to start it.
    pub async fn try_rotate(&self, secret_id: &str) -> Result<RotationRun, String> {
        let token = self.try_begin(secret_id).await?;
        Ok(self
            .run_steps(secret_id, &token, FaultPlan::default())
            .await)
    }

    /// The step sequence with retries, for a rotation already begun.
    pub async fn run_steps(&self, secret_id: &str, token: &str, faults: FaultPlan) -> RotationRun {
        let mut steps = Vec::new();
        let mut succeeded = false;
        let mut attempts = 0;
        for attempt in 1..=self.max_attempts {
            attempts = attempt;
            let failed = self
                .attempt(secret_id, token, attempt, faults, &mut steps)
                .await;
            if attempt == 1 {
                if let Some(f) = &self.faults {
                    f.disarm();
                }
            }
            if !failed {
                succeeded = true;
                break;
            }
        }
        if let Some(f) = &self.faults {
            f.set_context("");
        }
        RotationRun {
            token: token.to_string(),
            attempts,
            steps,
            succeeded,
        }
    }

    /// One pass over the four steps; true when a step failed.
    async fn attempt(
        &self,
        secret_id: &str,
        token: &str,
        attempt: u32,
        faults: FaultPlan,
        steps: &mut Vec<StepRecord>,
    ) -> bool {
        for step in Step::ALL {
            let times = if faults.invoke_twice { 2 } else { 1 };
            for _ in 0..times {
                if let Some(f) = &self.faults {
                    f.set_context(format!("attempt {attempt} {step}"));
                }
                let mut result = self.invoke(secret_id, token, step).await;
                if attempt == 1 && faults.crash_after == Some(step) && result.is_ok() {
                    result = Err(format!("injected crash after {step}"));
                }
                let failed = result.is_err();
                steps.push(StepRecord {
                    attempt,
                    step,
                    result,
                });
                if failed {
                    return true;
                }
            }
        }
        false
    }
}
