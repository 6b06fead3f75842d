//! The vendor token endpoints answer an invalid authorization code the way each vendor's
//! documentation shows, and the product's vendor table reads every answer right.

use agentcore_rotator::sensitive::SecretString;
use agentcore_rotator::upstream::vendors::{prove, ProofError, ALL};
use agentcore_rotator_testkit::idp::vendors::VendorSim;
use std::time::Duration;

#[tokio::test]
async fn every_vendor_tells_a_valid_secret_from_a_wrong_one() {
    let sim = VendorSim::start();
    let http = reqwest::Client::new();
    for vendor in ALL {
        sim.register(vendor, "client-1", "right-secret-0123");
        let url = sim.token_url(vendor);
        let good = prove(
            &http,
            vendor,
            &url,
            "client-1",
            &SecretString::new("right-secret-0123".to_string()),
            Duration::from_secs(2),
            Duration::from_millis(10),
        )
        .await;
        assert!(good.is_ok(), "{vendor:?}: {good:?}");
        let bad = prove(
            &http,
            vendor,
            &url,
            "client-1",
            &SecretString::new("wrong-secret-0123".to_string()),
            Duration::from_secs(2),
            Duration::from_millis(10),
        )
        .await;
        assert!(
            matches!(bad, Err(ProofError::Rejected { .. })),
            "{vendor:?}: {bad:?}"
        );
        let unknown = prove(
            &http,
            vendor,
            &url,
            "no-such-client",
            &SecretString::new("right-secret-0123".to_string()),
            Duration::from_secs(2),
            Duration::from_millis(10),
        )
        .await;
        assert!(
            matches!(unknown, Err(ProofError::Rejected { .. })),
            "{vendor:?}: {unknown:?}"
        );
    }
}

#[tokio::test]
async fn throttling_is_retried_within_the_budget() {
    let sim = VendorSim::start();
    let vendor = ALL[0];
    sim.register(vendor, "c", "s-0123456789");
    sim.fail_next(&[429, 503]);
    let r = prove(
        &reqwest::Client::new(),
        vendor,
        &sim.token_url(vendor),
        "c",
        &SecretString::new("s-0123456789".to_string()),
        Duration::from_secs(3),
        Duration::from_millis(10),
    )
    .await;
    assert_eq!(r.ok(), Some(3));
}
