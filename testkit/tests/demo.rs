//! `scripts/demo` runs this binary: it must keep showing the whole job and end well.

use std::process::Command;

#[test]
fn the_demo_shows_the_whole_job_and_ends_well() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "OAuth2 provider billing-oauth",
        "gateway billing target legacy-export",
        "finishSecret  done",
        "billing-oauth  confirmed by finishSecret  AgentCore resolves it: hash matches AWSCURRENT",
        "partner-key    confirmed by finishSecret  AgentCore resolves it: hash matches AWSCURRENT",
        "legacy-key     not confirmed (see 4)      AgentCore: secret reference does not resolve: JSON_KEY_MISSING",
        "REF-003 HIGH: API-key provider legacy-key",
        "GATEWAY_TARGET arn:aws:bedrock-agentcore:",
        "compliance FAILED",
        "1 active finding(s) (1 HIGH)",
        "demo done",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    // One screen: the demo stays short.
    assert!(stdout.lines().count() <= 45, "{stdout}");
}
