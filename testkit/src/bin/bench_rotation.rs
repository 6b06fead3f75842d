//! Wall time of full rotations on the local stack (moto + an IdP simulator), no injected
//! delays, one line per IdP. Usage:
//! `cargo run --release -p agentcore-rotator-testkit --bin bench-rotation [N] [IDP...]`
//! (IDP: cognito, keycloak, okta, entra; default all).

use std::time::{Duration, Instant};

use agentcore_rotator_testkit::conductor::Conductor;
use agentcore_rotator_testkit::idp::rig::{EntraRig, KeycloakRig, OktaRig};
use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::json;

const IDPS: &[&str] = &["cognito", "keycloak", "okta", "entra"];

/// Rotates `n` fresh secrets made by `fixture` (after one warm-up) and prints the times.
async fn bench<F, Fut>(idp: &str, n: usize, conductor: &Conductor, mut fixture: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let warm = fixture().await;
    assert!(conductor.rotate(&warm).await.succeeded, "{idp} warm-up");
    let mut times: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n {
        let secret = fixture().await;
        let start = Instant::now();
        let run = conductor.rotate(&secret).await;
        times.push(start.elapsed());
        assert!(
            run.succeeded && run.attempts == 1,
            "{idp}: {:?}",
            run.last_error()
        );
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "idp={idp} rotations={n} median_ms={:.1} p90_ms={:.1} min_ms={:.1} max_ms={:.1}",
        ms(times[n / 2]),
        ms(times[n * 9 / 10]),
        ms(times[0]),
        ms(times[n - 1])
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(50);
    let wanted: Vec<&str> = match args.get(1..) {
        Some(rest) if !rest.is_empty() => rest.iter().map(String::as_str).collect(),
        _ => IDPS.to_vec(),
    };
    let stack = LocalStack::start();
    for idp in wanted {
        match idp {
            "cognito" => {
                let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
                bench(idp, n, &conductor, || async {
                    stack.cognito_fixture(json!({})).await.secret_arn
                })
                .await;
            }
            "keycloak" => {
                let rig = KeycloakRig::start(&stack).await;
                let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
                bench(idp, n, &conductor, || async {
                    rig.fixture(&stack, true, json!({})).await.secret_arn
                })
                .await;
            }
            "okta" => {
                let rig = OktaRig::start(&stack).await;
                let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
                bench(idp, n, &conductor, || async {
                    rig.fixture(&stack, json!({})).await.secret_arn
                })
                .await;
            }
            "entra" => {
                let rig = EntraRig::start(&stack);
                let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
                bench(idp, n, &conductor, || async {
                    rig.fixture(&stack, json!({})).await.secret_arn
                })
                .await;
            }
            other => panic!("unknown IdP {other:?}; one of {IDPS:?}"),
        }
    }
}
