//! The adapters' own page loops end: an endpoint that answers every page with the same
//! `NextToken` (a faulty or hostile endpoint, or a proxy in the way) makes them fail after a
//! bounded number of requests instead of looping, and growing their result, until the Lambda
//! times out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentcore_rotator::aws::secrets_manager::SecretsManagerStore;
use agentcore_rotator::secrets::store::SecretStore;
use agentcore_rotator::upstream::cognito::Cognito;
use agentcore_rotator::upstream::{ClientRef, Upstream};
use agentcore_rotator_testkit::moto::sdk_config_for;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An AWS JSON endpoint answering ListSecretVersionIds and ListUserPoolClientSecrets with one
/// item and the same NextToken, forever. Returns its URL and the number of requests served.
async fn endless_pages() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    if conn.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let n = count.load(Ordering::SeqCst);
                    let json = if head.contains("listuserpoolclientsecrets") {
                        format!(
                            r#"{{"ClientSecrets":[{{"ClientSecretId":"cs-{n}"}}],"NextToken":"again"}}"#
                        )
                    } else {
                        format!(
                            r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf","Name":"s","Versions":[{{"VersionId":"v-{n}","VersionStages":[]}}],"NextToken":"again"}}"#
                        )
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{json}",
                        json.len()
                    );
                    if conn.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, served)
}

#[tokio::test]
async fn a_version_listing_that_never_ends_fails_after_a_bounded_number_of_pages() {
    let (url, served) = endless_pages().await;
    let store = SecretsManagerStore::new(&sdk_config_for(&url, "us-east-1"));
    let result = tokio::time::timeout(Duration::from_secs(60), store.list_versions("s"))
        .await
        .expect("the listing loops without end");
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("ListSecretVersionIds") && err.contains("did not end"),
        "{err}"
    );
    assert!(served.load(Ordering::SeqCst) <= 50, "{served:?} requests");
}

#[tokio::test]
async fn an_upstream_secret_listing_that_never_ends_fails_after_a_bounded_number_of_pages() {
    let (url, served) = endless_pages().await;
    let client = aws_sdk_cognitoidentityprovider::Client::new(&sdk_config_for(&url, "us-east-1"));
    let cognito = Cognito::new(client, "us-east-1_AbC123", "https://{domain}.example");
    let client = ClientRef {
        client_id: "client1".into(),
    };
    let result = tokio::time::timeout(Duration::from_secs(60), cognito.list_secrets(&client))
        .await
        .expect("the listing loops without end");
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("ListUserPoolClientSecrets") && err.contains("did not end"),
        "{err}"
    );
    assert!(served.load(Ordering::SeqCst) <= 10, "{served:?} requests");
}
