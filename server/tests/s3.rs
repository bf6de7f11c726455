//! The server on a real S3-compatible store (SeaweedFS in CI: `scripts/seaweedfs.sh`). These tests
//! are `#[ignore]`d, so that a plain `cargo test` without an S3 server lists them as ignored
//! instead of passing them unchecked; `npm test` starts SeaweedFS and runs them with
//! `--include-ignored`. They need `FERROPROOF_S3_ENDPOINT` (bucket `FERROPROOF_S3_BUCKET`, keys
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`) and fail without it. Each test uses its own
//! random prefix in the bucket.

mod common;

use common::{random_hex, scenarios, StoreSpec};

fn s3() -> StoreSpec {
    let endpoint = std::env::var("FERROPROOF_S3_ENDPOINT")
        .expect("the S3 tier needs FERROPROOF_S3_ENDPOINT (scripts/seaweedfs.sh starts a server)");
    let bucket = std::env::var("FERROPROOF_S3_BUCKET").unwrap_or_else(|_| "ferroproof-test".into());
    StoreSpec {
        store: format!("s3://{bucket}/test-{}", random_hex(6)),
        env: vec![("AWS_ENDPOINT_URL".into(), endpoint)],
        cleanup: None,
    }
}

#[tokio::test]
#[ignore = "needs an S3 server: FERROPROOF_S3_ENDPOINT (npm test starts SeaweedFS)"]
async fn s3_round_trip() {
    scenarios::round_trip(&s3()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs an S3 server: FERROPROOF_S3_ENDPOINT (npm test starts SeaweedFS)"]
async fn s3_create_only_race() {
    scenarios::create_only_race(&s3()).await;
}

#[tokio::test]
#[ignore = "needs an S3 server: FERROPROOF_S3_ENDPOINT (npm test starts SeaweedFS)"]
async fn s3_two_instances_real_time() {
    scenarios::two_instances(&s3()).await;
}

#[tokio::test]
#[ignore = "needs an S3 server: FERROPROOF_S3_ENDPOINT (npm test starts SeaweedFS)"]
async fn s3_restart_keeps_everything() {
    scenarios::restart_keeps_everything(&s3()).await;
}
