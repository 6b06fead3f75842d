//! A moto server (local AWS) on an ephemeral loopback port, shared by every test in a process.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Account and Region moto answers as.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// A running moto server. Started once per test process; it exits when this process does
/// (the launcher serves until its stdin closes).
pub struct Moto {
    pub endpoint: String,
    /// A Lambda function registered in moto, for `RotateSecret(RotationLambdaARN=…)`.
    pub rotation_lambda_arn: String,
    _child: Child,
}

/// Root of the repository (the testkit lives one level below it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit is inside the repository")
        .to_path_buf()
}

/// Runs `scripts/setup` (creates the venv with moto and installs oidc-provider when missing).
pub fn ensure_setup() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/setup"))
            .status()
            .expect("failed to run scripts/setup");
        assert!(status.success(), "scripts/setup failed: {status}");
    });
}

/// The Python of `.venv-contract`, where `scripts/setup` installs the vendors' SDKs that the
/// simulator contract tests drive (kept apart from moto's venv).
pub fn contract_python() -> PathBuf {
    let python = repo_root().join(".venv-contract/bin/python");
    if !python.exists() {
        ensure_setup();
    }
    python
}

/// moto's own log (request lines, its complaints about Docker) goes to `target/moto.log`.
fn moto_log() -> Stdio {
    let path = repo_root().join("target").join("moto.log");
    std::fs::File::create(path).map_or_else(|_| Stdio::null(), Stdio::from)
}

impl Moto {
    /// The process-wide moto server, started on first use.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        ensure_setup();
        let root = repo_root();
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("testkit/py/moto_launcher.py"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(moto_log())
            .spawn()
            .expect("failed to start moto (run scripts/setup)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("failed to read moto's ready line");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("moto did not start ({e}): {line:?}"));
        // Keep stdin open for the life of the process: closing it stops moto.
        std::mem::forget(child.stdin.take());
        Moto {
            endpoint: format!("http://127.0.0.1:{}", ready["port"]),
            rotation_lambda_arn: ready["rotation_lambda_arn"]
                .as_str()
                .expect("rotation_lambda_arn")
                .to_string(),
            _child: child,
        }
    }

    /// SDK configuration pointing every AWS client at this moto server.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint, REGION)
    }
}

/// SDK configuration for a local endpoint with static test credentials.
/// The access key id of every test credential (moto maps it to [`ACCOUNT_ID`]).
pub const ACCESS_KEY_ID: &str = "testing";

pub fn sdk_config_for(endpoint: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(
                aws_sdk_secretsmanager::config::Credentials::new(
                    ACCESS_KEY_ID,
                    "testing",
                    None,
                    None,
                    "testkit",
                ),
            ),
        )
        .build()
}

/// Which account and principal an access key belongs to, as moto's STS says (moto knows the
/// account of every key its `AssumeRole` issued, and does not check signatures, so the key id
/// alone answers). Cached per key for the life of the process.
pub async fn caller_of(
    moto_endpoint: &str,
    region: &str,
    access_key: &str,
) -> Option<(String, String)> {
    static KNOWN: std::sync::Mutex<Option<std::collections::HashMap<String, (String, String)>>> =
        std::sync::Mutex::new(None);
    if let Some(hit) = KNOWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Default::default)
        .get(access_key)
    {
        return Some(hit.clone());
    }
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(moto_endpoint)
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(access_key, "unused", None, None, "caller-of"),
        ))
        .build();
    let out = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .ok()?;
    let found = (out.account()?.to_string(), out.arn()?.to_string());
    KNOWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Default::default)
        .insert(access_key.to_string(), found.clone());
    Some(found)
}

/// The access key id that signed a request (`Credential=<key>/…` of SigV4).
pub fn signing_key(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .split("Credential=")
        .nth(1)?
        .split('/')
        .next()
        .map(str::to_string)
}

/// Sends a request on to moto at `base` as it came: same method, path, query and body, every
/// header but `host` and `content-length` passed through `edit` (`None` drops it). moto does
/// not check signatures, so a front may change who is asking by editing the Authorization key.
pub async fn forward(
    http: &reqwest::Client,
    base: &str,
    request: (axum::http::Method, &axum::http::Uri, &axum::http::HeaderMap),
    body: axum::body::Bytes,
    edit: &(dyn Fn(&str, &axum::http::HeaderValue) -> Option<axum::http::HeaderValue> + Sync),
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (method, uri, headers) = request;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = http.request(method, format!("{base}{path}")).body(body);
    for (name, value) in headers {
        if name == "host" || name == "content-length" {
            continue;
        }
        if let Some(v) = edit(name.as_str(), value) {
            out = out.header(name, v);
        }
    }
    match out.send().await {
        Ok(r) => {
            let status = r.status();
            let mut headers = axum::http::HeaderMap::new();
            for (name, value) in r.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    headers.insert(name.clone(), value.clone());
                }
            }
            let bytes = r.bytes().await.unwrap_or_default();
            (status, headers, bytes).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
