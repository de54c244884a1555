//! The key ring over the in-memory `SigningKeyRepository` (contract-tested
//! against SQLite and PostgreSQL in latch-testkit), with codecs standing in
//! for two instances that share it.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use latch_ports::{SigningKeyRepository, TokenCodec, TokenError};
use latch_sealing::MasterKey;
use latch_testkit::InMemorySigningKeyRepository;
use latch_testkit::token_codec::fresh_claims;
use latch_tokens_jwt::{JwtTokenCodec, KeyRing, RingError, RingKeys, SigningKey, TokenSettings};
use serde_json::Value;

const RETENTION: Duration = Duration::minutes(16);

fn master() -> MasterKey {
    MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()
}

fn ring_on(store: &Arc<InMemorySigningKeyRepository>) -> KeyRing {
    KeyRing::new(store.clone(), master(), RETENTION)
}

fn codec(keys: &RingKeys) -> JwtTokenCodec {
    JwtTokenCodec::with_retired(TokenSettings::default(), &keys.signer, &keys.published).unwrap()
}

fn published_kids(codec: &JwtTokenCodec) -> Vec<String> {
    let jwks: Value = serde_json::from_str(&codec.jwks_json()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_empty_ring_gets_one_key_that_every_load_finds() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let (a, b) = (ring_on(&store), ring_on(&store));
    let first = a.load(None, Utc::now()).await.unwrap();
    let second = b.load(None, Utc::now()).await.unwrap();
    assert_eq!(first.signer.kid(), second.signer.kid());
    assert!(first.published.is_empty());
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_signed_with_before_the_ring_becomes_its_first_key() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let legacy = SigningKey::generate_ed25519().unwrap();
    let keys = ring_on(&store).load(Some(&legacy), Utc::now()).await.unwrap();
    assert_eq!(keys.signer.kid(), legacy.kid());
    // Once the ring has a key, the instance's own key is ignored.
    let other = SigningKey::generate_ed25519().unwrap();
    let again = ring_on(&store).load(Some(&other), Utc::now()).await.unwrap();
    assert_eq!(again.signer.kid(), legacy.kid());
}

#[tokio::test]
async fn the_private_key_is_stored_sealed() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let keys = ring_on(&store).load(None, Utc::now()).await.unwrap();
    let stored = store.list().await.unwrap().remove(0);
    let pem = keys.signer.to_pem().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64_decode(&body);
    assert!(
        !stored
            .sealed_private_key
            .windows(16)
            .any(|w| der.windows(16).any(|d| d == w))
    );
    assert!(
        !stored.public_jwk.contains("\"d\""),
        "no private member in the public JWK"
    );
}

#[tokio::test]
async fn another_master_key_cannot_open_the_ring() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    ring_on(&store).load(None, Utc::now()).await.unwrap();
    let stranger = KeyRing::new(store.clone(), MasterKey::generate().unwrap().0, RETENTION);
    let err = stranger.load(None, Utc::now()).await.unwrap_err();
    assert!(matches!(err, RingError::Sealed { .. }), "{err:?}");
    assert!(err.to_string().contains("keys.master_key"), "{err}");
}

#[tokio::test]
async fn a_token_signed_before_a_rotation_verifies_after_it_on_every_instance() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let (ring_a, ring_b) = (ring_on(&store), ring_on(&store));
    let now = Utc::now();
    let instance_a = codec(&ring_a.load(None, now).await.unwrap());
    let instance_b = codec(&ring_b.load(None, now).await.unwrap());
    let before = instance_a.issue(&fresh_claims()).unwrap();
    assert!(instance_b.verify(&before).is_ok(), "one ring, one key");

    let rotation = ring_a.rotate(now).await.unwrap();
    assert_eq!(rotation.retired.as_deref(), Some(instance_a.kid().as_str()));
    // Each instance picks the rotation up on its next read of the ring.
    for (ring, instance) in [(&ring_a, &instance_a), (&ring_b, &instance_b)] {
        let keys = ring.load(None, now).await.unwrap();
        assert!(instance.install(&keys.signer, &keys.published).unwrap());
        assert!(
            !instance.install(&keys.signer, &keys.published).unwrap(),
            "same keys: no change"
        );
        assert_eq!(instance.kid(), rotation.kid);
    }
    let after = instance_b.issue(&fresh_claims()).unwrap();
    assert!(instance_a.verify(&after).is_ok());
    assert!(
        instance_b.verify(&before).is_ok(),
        "the retired key still verifies"
    );
    let mut kids = published_kids(&instance_b);
    kids.sort();
    let mut expected = vec![rotation.kid.clone(), rotation.retired.clone().unwrap()];
    expected.sort();
    assert_eq!(kids, expected);
}

#[tokio::test]
async fn a_retired_key_is_dropped_once_its_tokens_have_expired() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let ring = ring_on(&store);
    let start = Utc::now() - Duration::hours(1);
    let instance = codec(&ring.load(None, start).await.unwrap());
    let first = ring.rotate(start).await.unwrap();
    assert_eq!(first.deleted, 0);
    // An hour later the key retired at `start` can have signed no live token.
    let keys = ring.load(None, Utc::now()).await.unwrap();
    assert!(keys.published.is_empty());
    instance.install(&keys.signer, &keys.published).unwrap();
    assert_eq!(published_kids(&instance), vec![first.kid.clone()]);
    let second = ring.rotate(Utc::now()).await.unwrap();
    assert_eq!(second.deleted, 1, "the first key is deleted at the next rotation");
    assert_eq!(store.list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_token_of_a_dropped_key_is_refused() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let ring = ring_on(&store);
    let start = Utc::now() - Duration::hours(1);
    let old_keys = ring.load(None, start).await.unwrap();
    let old_instance = codec(&old_keys);
    ring.rotate(start).await.unwrap();
    let keys = ring.load(None, Utc::now()).await.unwrap();
    let instance = codec(&keys);
    let unseen = old_instance.issue(&fresh_claims()).unwrap();
    assert_eq!(instance.verify(&unseen), Err(TokenError::Invalid));
}

#[tokio::test]
async fn rotation_by_age_happens_once_per_period() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let ring = ring_on(&store);
    let now = Utc::now();
    ring.load(None, now).await.unwrap();
    let period = Duration::days(30);
    assert_eq!(ring.rotate_if_older_than(period, now).await.unwrap(), None);
    let later = now + period;
    let rotated = ring.rotate_if_older_than(period, later).await.unwrap();
    assert!(rotated.is_some());
    assert_eq!(ring.rotate_if_older_than(period, later).await.unwrap(), None);
}

#[tokio::test]
async fn two_instances_rotating_at_once_leave_one_active_key() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let (a, b) = (ring_on(&store), ring_on(&store));
    let now = Utc::now();
    a.load(None, now).await.unwrap();
    let period = Duration::zero();
    let (ra, rb) = tokio::join!(
        a.rotate_if_older_than(period, now),
        b.rotate_if_older_than(period, now)
    );
    let rotated = [ra.unwrap(), rb.unwrap()].into_iter().flatten().count();
    assert!(rotated >= 1);
    let active = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.is_active())
        .count();
    assert_eq!(active, 1);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

#[tokio::test]
async fn a_new_key_is_published_ahead_and_signs_only_after() {
    let store = Arc::new(InMemorySigningKeyRepository::default());
    let ring = KeyRing::new(store.clone(), master(), RETENTION + Duration::minutes(1))
        .with_publish_ahead(Duration::minutes(1));
    let start = Utc::now() - Duration::hours(1);
    let old = ring.load(None, start).await.unwrap().signer;
    let rotation = ring.rotate(start).await.unwrap();

    let early = ring.load(None, start + Duration::seconds(59)).await.unwrap();
    assert_eq!(early.signer.kid(), old.kid(), "the replaced key signs meanwhile");
    assert_eq!(
        kids(&early.published),
        vec![rotation.kid.clone()],
        "the new key is published already"
    );

    let later = ring.load(None, start + Duration::seconds(60)).await.unwrap();
    assert_eq!(later.signer.kid(), rotation.kid);
    assert_eq!(
        kids(&later.published),
        vec![old.kid().to_owned()],
        "the replaced key verifies its tokens still"
    );
}

fn kids(published: &[jsonwebtoken::jwk::Jwk]) -> Vec<String> {
    published
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}
