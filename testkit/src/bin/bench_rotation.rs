//! Wall time of full rotations on the local stack (moto + Cognito simulator), no injected
//! delays. Usage: `cargo run --release -p agentcore-rotator-testkit --bin bench-rotation [N]`.

use std::time::{Duration, Instant};

use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let stack = LocalStack::start();
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    // Warm-up: first use of moto's Lambda/Secrets Manager code paths and connection setup.
    let warm = stack.cognito_fixture(json!({})).await;
    assert!(conductor.rotate(&warm.secret_arn).await.succeeded);

    let mut times: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n {
        let f = stack.cognito_fixture(json!({})).await;
        let start = Instant::now();
        let run = conductor.rotate(&f.secret_arn).await;
        times.push(start.elapsed());
        assert!(run.succeeded && run.attempts == 1, "{:?}", run.last_error());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "rotations={n} median_ms={:.1} p90_ms={:.1} min_ms={:.1} max_ms={:.1}",
        ms(times[n / 2]),
        ms(times[n * 9 / 10]),
        ms(times[0]),
        ms(times[n - 1])
    );
}
