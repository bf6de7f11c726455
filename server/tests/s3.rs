//! The server on a real S3-compatible store (SeaweedFS in CI: `scripts/seaweedfs.sh`). Runs when
//! `FERROPROOF_S3_ENDPOINT` is set (bucket `FERROPROOF_S3_BUCKET`, keys `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`); otherwise each test prints that it is not configured and returns.
//! Each test uses its own random prefix in the bucket.

mod common;

use common::{random_hex, scenarios, StoreSpec};

fn s3() -> Option<StoreSpec> {
    let Ok(endpoint) = std::env::var("FERROPROOF_S3_ENDPOINT") else {
        eprintln!("S3 tier not configured: set FERROPROOF_S3_ENDPOINT (see scripts/seaweedfs.sh)");
        return None;
    };
    let bucket = std::env::var("FERROPROOF_S3_BUCKET").unwrap_or_else(|_| "ferroproof-test".into());
    Some(StoreSpec {
        store: format!("s3://{bucket}/test-{}", random_hex(6)),
        env: vec![("AWS_ENDPOINT_URL".into(), endpoint)],
        cleanup: None,
    })
}

#[tokio::test]
async fn s3_round_trip() {
    if let Some(spec) = s3() {
        scenarios::round_trip(&spec).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_create_only_race() {
    if let Some(spec) = s3() {
        scenarios::create_only_race(&spec).await;
    }
}

#[tokio::test]
async fn s3_two_instances_real_time() {
    if let Some(spec) = s3() {
        scenarios::two_instances(&spec).await;
    }
}

#[tokio::test]
async fn s3_restart_keeps_everything() {
    if let Some(spec) = s3() {
        scenarios::restart_keeps_everything(&spec).await;
    }
}
