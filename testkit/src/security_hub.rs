//! Reading findings back from moto's Security Hub, for tests. Only tests do this; the product
//! never reads what it imported (the audit's history adapter aside).

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::AwsSecurityFinding;

/// Every stored finding whose Id is one of `ids`, all pages read.
///
/// Runs on a thread of its own with a large stack: deserializing a `GetFindings` response
/// (`AwsSecurityFinding` has hundreds of optional nested fields) overflows the 2 MiB stack of a
/// test thread in unoptimized builds.
pub async fn findings_with_ids(sdk: &SdkConfig, ids: &[&str]) -> Vec<AwsSecurityFinding> {
    let client = aws_sdk_securityhub::Client::new(sdk);
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("get-findings".into())
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let _ = tx.send(runtime.block_on(read(client, ids)));
        })
        .expect("get-findings thread");
    rx.await.expect("GetFindings thread panicked")
}

async fn read(client: aws_sdk_securityhub::Client, ids: Vec<String>) -> Vec<AwsSecurityFinding> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .get_findings()
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("GetFindings");
        found.extend(
            out.findings()
                .iter()
                .filter(|f| f.id().is_some_and(|id| ids.iter().any(|w| w == id)))
                .cloned(),
        );
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return found;
        }
    }
}
