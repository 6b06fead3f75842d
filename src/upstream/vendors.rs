//! Vendors whose OAuth client secrets only their console can create (staged rotation): where
//! their token endpoint is, and how to prove a client secret there without a user. None of these
//! vendors offers `client_credentials` to such apps, so the proof is an `authorization_code`
//! request with a deliberately invalid code: the vendor checks the client first, so its "bad
//! code" error means the client authenticated and its "bad client" error means it did not.
//!
//! | vendor | token endpoint | request | client ok, bad code | bad client |
//! |---|---|---|---|---|
//! | google | `https://oauth2.googleapis.com/token` | form | `invalid_grant` | `invalid_client` |
//! | github | `https://github.com/login/oauth/access_token` | form, `Accept: application/json`, answers 200 | `bad_verification_code` | `incorrect_client_credentials` |
//! | slack | `https://slack.com/api/oauth.v2.access` | form, answers 200 `ok: false` | `invalid_code` | `invalid_client_id`, `bad_client_secret` |
//! | atlassian | `https://auth.atlassian.com/oauth/token` | JSON | `invalid_grant` | `access_denied`, `unauthorized_client`, `invalid_client` |
//! | linkedin | `https://www.linkedin.com/oauth/v2/accessToken` | form | `invalid_request` naming the code | `invalid_client` |
//! | salesforce | `https://login.salesforce.com/services/oauth2/token` | form | `invalid_grant` | `invalid_client_id`, `invalid_client` |
//!
//! The endpoints are fixed here, never taken from a secret document; a deployment may point one
//! elsewhere (`ROTATOR_VENDOR_TOKEN_URL_<VENDOR>`, an egress proxy or a local stack).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::{self, BODY_LIMIT};
use crate::sensitive::SecretString;

/// The code sent: no vendor issues codes of this shape.
const INVALID_CODE: &str = "agentcore-rotator-proof-invalid-code";
const REDIRECT_URI: &str = "https://localhost/agentcore-rotator-proof";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vendor {
    Google,
    Github,
    Slack,
    Atlassian,
    Linkedin,
    Salesforce,
    /// An OAuth server of the customer's that offers `client_credentials`: proved there with the
    /// ordinary token probe, at the document's `tokenEndpoint`/`issuer` (within
    /// `ROTATOR_ALLOWED_TOKEN_ORIGINS`).
    Custom,
}

/// The vendors of the table (fixed endpoints, invalid-code proof).
pub const ALL: [Vendor; 6] = [
    Vendor::Google,
    Vendor::Github,
    Vendor::Slack,
    Vendor::Atlassian,
    Vendor::Linkedin,
    Vendor::Salesforce,
];

/// How a vendor judged the client in one answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The vendor's bad-code error: the client id and secret are valid.
    Authenticated,
    /// The vendor's bad-client error (its code).
    Rejected(String),
    /// Anything else: throttled, down, or an answer this table does not know.
    Unknown(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("{vendor} rejected the staged client secret ({code}): it is not (or no longer) a secret of client {client_id}; nothing was promoted")]
    Rejected {
        vendor: &'static str,
        code: String,
        client_id: String,
    },
    #[error("{vendor} gave no verdict on the staged client secret within {elapsed:?} ({attempts} attempt(s)); last answer: {last}")]
    Inconclusive {
        vendor: &'static str,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
}

impl Vendor {
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter()
            .chain([Vendor::Custom])
            .find(|v| v.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Vendor::Google => "google",
            Vendor::Github => "github",
            Vendor::Slack => "slack",
            Vendor::Atlassian => "atlassian",
            Vendor::Linkedin => "linkedin",
            Vendor::Salesforce => "salesforce",
            Vendor::Custom => "custom",
        }
    }

    pub fn names() -> String {
        format!("{}, custom", ALL.map(|v| v.name()).join(", "))
    }

    /// The deployment setting that may point a table vendor's token endpoint elsewhere.
    pub fn url_setting(self) -> Option<&'static str> {
        Some(match self {
            Vendor::Google => "ROTATOR_VENDOR_TOKEN_URL_GOOGLE",
            Vendor::Github => "ROTATOR_VENDOR_TOKEN_URL_GITHUB",
            Vendor::Slack => "ROTATOR_VENDOR_TOKEN_URL_SLACK",
            Vendor::Atlassian => "ROTATOR_VENDOR_TOKEN_URL_ATLASSIAN",
            Vendor::Linkedin => "ROTATOR_VENDOR_TOKEN_URL_LINKEDIN",
            Vendor::Salesforce => "ROTATOR_VENDOR_TOKEN_URL_SALESFORCE",
            Vendor::Custom => return None,
        })
    }

    /// A table vendor's fixed token endpoint; `None` for `custom`, whose document names it.
    pub fn token_url(self) -> Option<&'static str> {
        Some(match self {
            Vendor::Google => "https://oauth2.googleapis.com/token",
            Vendor::Github => "https://github.com/login/oauth/access_token",
            Vendor::Slack => "https://slack.com/api/oauth.v2.access",
            Vendor::Atlassian => "https://auth.atlassian.com/oauth/token",
            Vendor::Linkedin => "https://www.linkedin.com/oauth/v2/accessToken",
            Vendor::Salesforce => "https://login.salesforce.com/services/oauth2/token",
            Vendor::Custom => return None,
        })
    }

    /// Where an operator creates and revokes the app's secrets.
    pub fn console(self) -> &'static str {
        match self {
            Vendor::Google => "Google Cloud console, APIs & Services > Credentials",
            Vendor::Github => "GitHub, Settings > Developer settings > OAuth Apps",
            Vendor::Slack => "Slack API, Your Apps > Basic Information > App Credentials",
            Vendor::Atlassian => "Atlassian developer console, your app > Settings",
            Vendor::Linkedin => "LinkedIn Developers, your app > Auth",
            Vendor::Salesforce => "Salesforce Setup, App Manager > your connected app",
            Vendor::Custom => "authorization server's administration console",
        }
    }

    /// Judges one answer (status and JSON body).
    pub fn judge(self, status: u16, body: &Value) -> Verdict {
        let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
        let error = text("error");
        let ok_code: &[&str] = match self {
            Vendor::Github => &["bad_verification_code"],
            Vendor::Slack => &["invalid_code"],
            Vendor::Linkedin => &["invalid_request"],
            _ => &["invalid_grant"],
        };
        let bad_client: &[&str] = match self {
            Vendor::Google => &["invalid_client"],
            Vendor::Github => &["incorrect_client_credentials"],
            Vendor::Slack => &["invalid_client_id", "bad_client_secret"],
            Vendor::Atlassian => &["access_denied", "unauthorized_client", "invalid_client"],
            Vendor::Linkedin => &["invalid_client"],
            Vendor::Salesforce => &["invalid_client_id", "invalid_client"],
            Vendor::Custom => &["invalid_client"],
        };
        if status == 429 || status >= 500 {
            return Verdict::Unknown(format!("HTTP {status}"));
        }
        // LinkedIn's bad-code error is the generic invalid_request: it counts only when it
        // names the authorization code.
        let about_code = self != Vendor::Linkedin
            || text("error_description")
                .to_ascii_lowercase()
                .contains("authorization code");
        if ok_code.contains(&error) && about_code {
            Verdict::Authenticated
        } else if bad_client.contains(&error) {
            Verdict::Rejected(error.to_string())
        } else {
            Verdict::Unknown(format!("HTTP {status} {}", printable(error)))
        }
    }

    fn request(
        self,
        http: &reqwest::Client,
        url: &str,
        client_id: &str,
        secret: &SecretString,
    ) -> reqwest::RequestBuilder {
        let req = http.post(url).header("Accept", "application/json");
        match self {
            Vendor::Github | Vendor::Slack => req.form(&[
                ("client_id", client_id),
                ("client_secret", secret.expose()),
                ("code", INVALID_CODE),
            ]),
            Vendor::Atlassian => req.json(&json!({
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": secret.expose(),
                "code": INVALID_CODE,
                "redirect_uri": REDIRECT_URI,
            })),
            _ => req.form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("client_secret", secret.expose()),
                ("code", INVALID_CODE),
                ("redirect_uri", REDIRECT_URI),
            ]),
        }
    }
}

fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// Proves a client secret at a vendor, retrying throttling and outages within `budget`.
pub async fn prove(
    http: &reqwest::Client,
    vendor: Vendor,
    url: &str,
    client_id: &str,
    secret: &SecretString,
    budget: Duration,
    initial_backoff: Duration,
) -> Result<u32, ProofError> {
    let started = Instant::now();
    let mut backoff = initial_backoff;
    let mut attempts = 0;
    loop {
        attempts += 1;
        // Only throttling, an outage or a lost answer can change on a retry; a redirect or an
        // answer the table does not know is final.
        let (verdict, retryable) = match vendor.request(http, url, client_id, secret).send().await {
            Ok(resp) if http::redirect_summary(&resp).is_some() => {
                (Verdict::Unknown("a redirect (not followed)".into()), false)
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = http::read_capped(resp, BODY_LIMIT)
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                (vendor.judge(status, &body), status == 429 || status >= 500)
            }
            Err(e) => (Verdict::Unknown(http::describe(&e)), true),
        };
        match verdict {
            Verdict::Authenticated => return Ok(attempts),
            Verdict::Rejected(code) => {
                return Err(ProofError::Rejected {
                    vendor: vendor.name(),
                    code,
                    client_id: client_id.to_string(),
                })
            }
            Verdict::Unknown(last) => {
                if !retryable || started.elapsed() + backoff > budget {
                    return Err(ProofError::Inconclusive {
                        vendor: vendor.name(),
                        attempts,
                        elapsed: started.elapsed(),
                        last,
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(super::token_probe::MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_vendor_reads_its_own_bad_code_and_bad_client_answers() {
        use Vendor::*;
        let cases = [
            (Google, 400, json!({"error": "invalid_grant"}), true),
            (Google, 401, json!({"error": "invalid_client"}), false),
            (Github, 200, json!({"error": "bad_verification_code"}), true),
            (
                Github,
                200,
                json!({"error": "incorrect_client_credentials"}),
                false,
            ),
            (
                Slack,
                200,
                json!({"ok": false, "error": "invalid_code"}),
                true,
            ),
            (
                Slack,
                200,
                json!({"ok": false, "error": "bad_client_secret"}),
                false,
            ),
            (Atlassian, 403, json!({"error": "invalid_grant"}), true),
            (Atlassian, 401, json!({"error": "access_denied"}), false),
            (
                Linkedin,
                400,
                json!({"error": "invalid_request", "error_description": "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired."}),
                true,
            ),
            (Linkedin, 401, json!({"error": "invalid_client"}), false),
            (Salesforce, 400, json!({"error": "invalid_grant"}), true),
            (
                Salesforce,
                400,
                json!({"error": "invalid_client_id"}),
                false,
            ),
        ];
        for (vendor, status, body, ok) in cases {
            let verdict = vendor.judge(status, &body);
            if ok {
                assert_eq!(verdict, Verdict::Authenticated, "{vendor:?} {body}");
            } else {
                assert!(matches!(verdict, Verdict::Rejected(_)), "{vendor:?} {body}");
            }
        }
    }

    #[test]
    fn other_answers_give_no_verdict() {
        assert!(matches!(
            Vendor::Linkedin.judge(
                400,
                &json!({"error": "invalid_request", "error_description": "missing redirect_uri"})
            ),
            Verdict::Unknown(_)
        ));
        assert!(matches!(
            Vendor::Google.judge(429, &json!({"error": "invalid_client"})),
            Verdict::Unknown(_)
        ));
        assert!(matches!(
            Vendor::Github.judge(200, &json!({"access_token": "x"})),
            Verdict::Unknown(_)
        ));
        // A vendor's own code for the other vendor means nothing.
        assert!(matches!(
            Vendor::Google.judge(200, &json!({"error": "bad_verification_code"})),
            Verdict::Unknown(_)
        ));
    }

    #[test]
    fn vendor_names_round_trip() {
        for v in ALL {
            assert_eq!(Vendor::parse(v.name()), Some(v));
        }
        assert_eq!(Vendor::parse("okta"), None);
        assert_eq!(Vendor::parse("custom"), Some(Vendor::Custom));
        assert!(
            !ALL.contains(&Vendor::Custom),
            "custom has no fixed endpoint"
        );
    }
}
