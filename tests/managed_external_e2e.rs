//! Managed external secrets (Secrets Manager rotates Okta, Auth0, Salesforce… client secrets
//! itself) on the local stack. moto accepts CreateSecret's `Type` but drops it; the testkit's moto
//! launcher keeps it and returns it from DescribeSecret and ListSecrets, as Secrets Manager does.
//! The rotation function refuses such a secret; the audit judges it as a managed rotation and a
//! RotationSucceeded event confirms the AgentCore providers that read it.

mod common;

use std::sync::Arc;

use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::event::Step;
use agentcore_rotator::findings::Finding;
use agentcore_rotator_testkit::providers::{create_external_oauth2, provider_arn};
use agentcore_rotator_testkit::stack::LocalStack;
use aws_sdk_secretsmanager::types::RotationRulesType;
use common::CapturedLogs;
use serde_json::json;

const TYPE: &str = "OktaOAuthClientSecret";

/// A managed external Okta secret (the partner's documented fields), readable by AgentCore.
async fn managed_secret(stack: &LocalStack, name: &str) -> String {
    let doc = json!({
        "clientId": "0oa1b2c3d4e5f6g7h8i9",
        "clientSecret": "managed-by-secrets-manager-0123456789",
        "domain": "trial-1234567.okta.com",
        "secretId": "ocs1b2c3d4e5f6g7h8i9"
    });
    let out = stack
        .sm
        .create_secret()
        .name(name)
        .r#type(TYPE)
        .secret_string(doc.to_string())
        .send()
        .await
        .expect("CreateSecret with Type");
    let arn = out.arn().unwrap().to_string();
    stack.allow_agentcore(&arn).await;
    arn
}

async fn targeted_audit(stack: &LocalStack, event_name: &str, arn: &str) -> Vec<Finding> {
    let out = Arc::new(Collected::default());
    let auditor = stack.auditor(out.clone(), AuditConfig::default(), None);
    let event = json!({
        "source": "aws.secretsmanager",
        "detail-type": "AWS Service Event via CloudTrail",
        "detail": {"eventName": event_name, "additionalEventData": {"SecretId": arn}}
    });
    auditor
        .run(&Trigger::parse(&event).unwrap(), None)
        .await
        .expect("audit");
    out.take().into_iter().filter(Finding::is_active).collect()
}

#[tokio::test]
async fn the_type_survives_the_local_stack_and_the_rotation_function_refuses_the_secret() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let arn = managed_secret(&stack, "agentcore/test/managed-okta-refused").await;
    let described = stack
        .sm
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.r#type(), Some(TYPE), "the launcher keeps Type");
    // Someone attaches this function anyway.
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&arn).await;
    let before = stack.stages(&arn).await;
    let err = conductor
        .invoke(&arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("rotates this secret itself") && err.contains(TYPE),
        "{err}"
    );
    assert_eq!(stack.stages(&arn).await, before, "nothing written");
    common::assert_no_leak(
        &logs,
        &["managed-by-secrets-manager-0123456789".to_string()],
        &[err],
    );
}

#[tokio::test]
async fn a_rotation_succeeded_event_confirms_the_providers_and_no_rotation_function_is_expected() {
    let stack = LocalStack::start();
    let arn = managed_secret(&stack, "agentcore/test/managed-okta-audited").await;
    // Secrets Manager rotates it (its own rotation: no rotation Lambda of ours).
    stack
        .sm
        .rotate_secret()
        .secret_id(&arn)
        .rotation_lambda_arn(&stack.moto.rotation_lambda_arn)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .unwrap();
    create_external_oauth2(
        &stack.agentcore_control(),
        "managed-okta",
        "0oa1b2c3d4e5f6g7h8i9",
        "https://trial-1234567.okta.com/oauth2/default/.well-known/openid-configuration",
        &arn,
        "clientSecret",
    )
    .await;
    create_external_oauth2(
        &stack.agentcore_control(),
        "managed-okta-wrong-key",
        "0oa1b2c3d4e5f6g7h8i9",
        "https://trial-1234567.okta.com/oauth2/default/.well-known/openid-configuration",
        &arn,
        "client_secret",
    )
    .await;
    let findings = targeted_audit(&stack, "RotationSucceeded", &arn).await;
    let on = |rule: &str, resource: &str| {
        findings
            .iter()
            .any(|f| f.rule_id() == rule && f.resources().iter().any(|r| r.arn_or_id() == resource))
    };
    assert!(
        on("REF-003", &provider_arn("managed-okta-wrong-key")),
        "the broken reference is found after AWS rotated: {findings:#?}"
    );
    assert!(
        !findings.iter().any(|f| f
            .resources()
            .iter()
            .any(|r| r.arn_or_id() == provider_arn("managed-okta"))),
        "the healthy provider is confirmed: {findings:#?}"
    );
    for rule in ["SEC-004", "SEC-005"] {
        assert!(
            !on(rule, &arn),
            "{rule} does not apply to a managed rotation: {findings:#?}"
        );
    }
}
