//! `TestLatch`, the one-call Latch for another service's tests. (Latch
//! mounted in a host's `App` is tested by `examples/embedded`.)

use latch::TestLatch;
use serde_json::Value;

#[tokio::test]
async fn test_latch_starts_with_one_call_and_makes_users() {
    let latch = TestLatch::start().await.unwrap();
    let ada = latch.user("ada@example.com").await.unwrap();
    let root = latch.superuser("root@example.com").await.unwrap();
    assert!(root.user.is_superuser && !ada.user.is_superuser);
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/users/me", latch.url()))
        .bearer_auth(&ada.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");
}
