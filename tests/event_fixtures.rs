//! The rotation fixtures in events/ (used with `cargo lambda invoke --data-file`) are valid
//! rotation events, one per step.

use agentcore_rotator::event::{RotationEvent, Step};

fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn there_is_one_rotation_fixture_per_step_and_each_parses() {
    for (file, step) in [
        ("rotation-create-secret.json", Step::CreateSecret),
        ("rotation-set-secret.json", Step::SetSecret),
        ("rotation-test-secret.json", Step::TestSecret),
        ("rotation-finish-secret.json", Step::FinishSecret),
    ] {
        let event = RotationEvent::from_value(fixture(file)).unwrap();
        assert_eq!(event.step, step, "{file}");
        assert!(event.secret_id.starts_with("arn:aws:secretsmanager:"));
    }
}

#[test]
fn the_rotation_token_fixture_carries_a_redacted_token() {
    let event =
        RotationEvent::from_value(fixture("rotation-create-secret-with-rotation-token.json"))
            .unwrap();
    let token = event.rotation_token.as_ref().expect("RotationToken");
    assert!(!format!("{event:?}").contains(token.expose()));
}
