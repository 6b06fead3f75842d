//! Audit benchmark on the local stack (not part of `cargo test`: `#[ignore]`; run it with
//! `scripts/bench-audit`). Seeds N providers over M secrets through the emulator's and moto's
//! HTTP APIs, then in the same run:
//! - the engine, as the operator CLI binary under `/usr/bin/time -v` (wall time, peak RSS, the
//!   per-operation call counts it reports, checked against the emulator's own counters);
//! - a naive sequential audit written the way a user would script it: list, Get each provider,
//!   one GetSecretValue per provider.
//!
//! Sizes: AUDIT_BENCH_PROVIDERS (default 10000), AUDIT_BENCH_SECRETS (default 2000).
//! AUDIT_BENCH_LATENCY_MS (default 0,2,5): one engine/naive pair per value, with a proxy in front
//! of moto and the emulator holding every call of both audits that many ms (seeding goes direct).

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentcore_rotator::audit::collect::par_map;
use agentcore_rotator_testkit::fault::Proxy;
use agentcore_rotator_testkit::moto::{sdk_config_for, REGION};
use agentcore_rotator_testkit::providers::{
    agentcore_read_policy, create_external_oauth2, EXAMPLE_DISCOVERY,
};
use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::{json, Value};

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn seed(stack: &LocalStack, providers: usize, secrets: usize) -> Vec<String> {
    let sm = stack.sm.clone();
    let run = std::process::id();
    let policy = agentcore_read_policy();
    let arns = par_map((0..secrets).collect(), 32, move |i: usize| {
        let (sm, policy) = (sm.clone(), policy.clone());
        async move {
            let doc = json!({"clientId": format!("client-{i}"), "clientSecret": format!("bench-secret-{i:05}-value")});
            let arn = sm
                .create_secret()
                .name(format!("bench/{run}/s{i:05}"))
                .secret_string(doc.to_string())
                .send()
                .await
                .expect("CreateSecret")
                .arn()
                .unwrap()
                .to_string();
            sm.put_resource_policy().secret_id(&arn).resource_policy(policy).send().await.expect("PutResourcePolicy");
            arn
        }
    })
    .await;
    let control = stack.agentcore_control();
    let shared = Arc::new(arns.clone());
    par_map((0..providers).collect(), 32, move |i: usize| {
        let (control, arns) = (control.clone(), shared.clone());
        async move {
            let s = i % arns.len();
            create_external_oauth2(
                &control,
                &format!("p{i:05}"),
                &format!("client-{s}"),
                EXAMPLE_DISCOVERY,
                &arns[s],
                "clientSecret",
            )
            .await;
        }
    })
    .await;
    arns
}

/// What a user would script: list, Get each provider, read each provider's secret.
async fn naive(
    control: &aws_sdk_bedrockagentcorecontrol::Client,
    sm: &aws_sdk_secretsmanager::Client,
) -> (usize, u64) {
    let mut names = Vec::new();
    let mut pages = control
        .list_oauth2_credential_providers()
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        names.push(item.expect("List").name().to_string());
    }
    let mut problems = 0;
    let mut calls = 0u64;
    for name in &names {
        let p = control
            .get_oauth2_credential_provider()
            .name(name)
            .send()
            .await
            .expect("Get");
        calls += 2;
        let arn = p
            .client_secret_arn()
            .map(|a| a.secret_arn().to_string())
            .unwrap_or_default();
        let key = p.client_secret_json_key().unwrap_or_default().to_string();
        match sm.get_secret_value().secret_id(&arn).send().await {
            Ok(v) => {
                let doc: Value = serde_json::from_str(v.secret_string().unwrap_or("null"))
                    .unwrap_or(Value::Null);
                let usable = doc
                    .get(&key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                if !usable {
                    problems += 1;
                }
            }
            Err(_) => problems += 1,
        }
    }
    (problems, calls + names.len().div_ceil(20) as u64)
}

fn rss_kb(time_output: &str) -> u64 {
    time_output
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run scripts/bench-audit"]
async fn bench_audit_against_a_naive_sequential_script() {
    let (n, m) = (
        size("AUDIT_BENCH_PROVIDERS", 10_000),
        size("AUDIT_BENCH_SECRETS", 2_000),
    );
    let stack = LocalStack::start();
    let t = Instant::now();
    seed(&stack, n, m).await;
    eprintln!(
        "seeded {n} providers over {m} secrets in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    // One pair of runs per added round trip (see testkit::latency), on the same seeded stack.
    let latencies: Vec<u64> = std::env::var("AUDIT_BENCH_LATENCY_MS")
        .unwrap_or_else(|_| "0,2,5".into())
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .expect("AUDIT_BENCH_LATENCY_MS: comma-separated ms")
        })
        .collect();
    let mut baseline = None;
    for latency in latencies {
        let naive_secs = compare(&stack, n, m, latency, baseline).await;
        if latency == 0 {
            baseline = Some(naive_secs);
        }
    }
}

/// The engine, then the naive script, with `latency` ms added to every call of both; returns
/// the naive script's seconds. With the naive time of a run without added latency, the report
/// also gives the round trip the proxy really added per sequential call.
async fn compare(
    stack: &LocalStack,
    n: usize,
    m: usize,
    latency: u64,
    baseline: Option<f64>,
) -> f64 {
    let (moto, agentcore) = if latency > 0 {
        let delay = Duration::from_millis(latency);
        (
            Proxy::latency(&stack.moto.endpoint, delay)
                .endpoint()
                .to_string(),
            Proxy::latency(stack.agentcore.endpoint(), delay)
                .endpoint()
                .to_string(),
        )
    } else {
        (
            stack.moto.endpoint.clone(),
            stack.agentcore.endpoint().to_string(),
        )
    };
    let env: Vec<(&str, String)> = stack
        .aws_env()
        .into_iter()
        .map(|(k, v)| {
            let v = if v == stack.moto.endpoint {
                moto.clone()
            } else if v == stack.agentcore.endpoint() {
                agentcore.clone()
            } else {
                v
            };
            (k, v)
        })
        .collect();

    let cli = std::env::var("AUDIT_BENCH_CLI")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_agentcore-rotator").to_string());
    stack.agentcore.reset_call_counts();
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&cli)
        .args(["audit", "--format", "json", "--fail-on", "none"])
        .envs(env)
        .env("ROTATOR_AGENTCORE_CONCURRENCY", "16")
        .env("ROTATOR_AUDIT_CONCURRENCY", "32")
        .output()
        .expect("run the CLI");
    let engine_secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let summary = &doc["summary"];
    // The CLI counts every call it makes (AgentCore included); the emulator's own counters
    // check the AgentCore part.
    let emulated: BTreeMap<String, u64> = stack.agentcore.call_counts();
    for (op, n) in &emulated {
        assert_eq!(
            summary["apiCalls"][op].as_u64(),
            Some(*n),
            "{op}: {summary}"
        );
    }
    let total = summary["apiCallsTotal"].as_u64().unwrap();
    let bound = summary["lowerBound"].as_u64().unwrap();
    let rss = rss_kb(&stderr);

    stack.agentcore.reset_call_counts();
    let t = Instant::now();
    let (naive_problems, naive_calls) = naive(
        &aws_sdk_bedrockagentcorecontrol::Client::new(&sdk_config_for(&agentcore, REGION)),
        &aws_sdk_secretsmanager::Client::new(&sdk_config_for(&moto, REGION)),
    )
    .await;
    let naive_secs = t.elapsed().as_secs_f64();

    let report = json!({
        "providers": n, "secrets": m, "addedLatencyMs": latency,
        "engine": {"seconds": engine_secs, "apiCalls": total, "lowerBound": bound,
                   "ratioToLowerBound": total as f64 / bound as f64, "peakRssKb": rss,
                   "byOperation": summary["apiCalls"],
                   "activeFindings": summary["active"]},
        "naive": {"seconds": naive_secs, "apiCalls": naive_calls, "problems": naive_problems},
        "speedup": naive_secs / engine_secs,
        "measuredAddedMsPerCall": baseline.map(|b| (naive_secs - b) * 1000.0 / naive_calls as f64),
    });
    println!("AUDIT_BENCH {report}");
    assert!(total as f64 <= 1.1 * bound as f64, "{report}");
    naive_secs
}
