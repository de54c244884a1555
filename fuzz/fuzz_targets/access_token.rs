//! The access-token verifier: `JwtTokenCodec::verify` with a real HS256 key.
//!
//! An input without a NUL byte is a token as a client sends it (header,
//! cookie): it must never be accepted unless it carries our signature. An
//! input `header JSON \0 payload JSON` is signed with the key first, so the
//! checks behind the signature (header, claims, the verified-token cache)
//! are reached too: whatever they accept must be what the configuration asks
//! for, and verifying the same token twice gives the same claims.

#![no_main]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_ports::{AccessClaims, TokenCodec};
use latch_tokens_jwt::{Algorithm, JwtTokenCodec, SigningKey, TokenSettings};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use uuid::Uuid;

/// The key the seeds are signed with; it signs nothing else anywhere.
const SECRET: &[u8] = b"latch fuzz: a shared secret that signs nothing real";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "latch";

static CODEC: LazyLock<JwtTokenCodec> = LazyLock::new(|| {
    let key = SigningKey::hs256(SECRET).expect("an HS256 key");
    let settings = TokenSettings::new(Algorithm::HS256, ISSUER, AUDIENCE);
    JwtTokenCodec::new(settings, key).expect("a codec")
});

static KEY: LazyLock<hmac::Key> = LazyLock::new(|| hmac::Key::new(hmac::HMAC_SHA256, SECRET));

fuzz_target!(|data: &[u8]| {
    match data.iter().position(|&b| b == 0) {
        None => presented(data),
        Some(at) => signed(&data[..at], &data[at + 1..]),
    }
});

/// A token as received: only ever accepted with our signature.
fn presented(data: &[u8]) {
    // Headers and cookies reach the codec as text.
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(claims) = CODEC.verify(token) {
        assert!(
            carries_our_signature(token),
            "accepted without our signature: {token:?}"
        );
        check_accepted(token, &claims);
    }
}

/// Arbitrary header and payload bytes, correctly signed.
fn signed(header: &[u8], payload: &[u8]) {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = hmac::sign(&KEY, message.as_bytes());
    let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
    if let Ok(claims) = CODEC.verify(&token) {
        check_accepted(&token, &claims);
    }
}

/// The signature is the HMAC of everything before the last dot, as the
/// verifier splits a token.
fn carries_our_signature(token: &str) -> bool {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|signature| hmac::verify(&KEY, message.as_bytes(), &signature).is_ok())
}

/// What an accepted token must be: our algorithm, `typ` and `kid`, no `crit`,
/// our issuer and audience, not expired, and claims read as they are written.
fn check_accepted(token: &str, claims: &AccessClaims) {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        panic!("accepted a token without header and payload: {token:?}");
    };
    let header = decode_json(header);
    let payload = decode_json(payload);

    assert_eq!(header["alg"], "HS256", "{header}");
    let typ = header["typ"].as_str().unwrap_or_default();
    assert!(
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"),
        "{header}"
    );
    assert!(header.get("crit").is_none(), "{header}");
    assert_eq!(header["kid"].as_str(), Some(CODEC.kid().as_str()), "{header}");

    assert_eq!(payload["iss"], ISSUER, "{payload}");
    let aud_ok = match &payload["aud"] {
        Value::String(aud) => aud == AUDIENCE,
        Value::Array(auds) => auds.iter().any(|aud| aud == AUDIENCE),
        _ => false,
    };
    assert!(aud_ok, "{payload}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let leeway = TokenSettings::DEFAULT_LEEWAY_SECONDS;
    let exp = payload["exp"].as_u64().expect("an integer exp");
    assert!(exp + leeway >= now, "expired: {payload}");
    if let Some(nbf) = payload.get("nbf") {
        assert!(
            nbf.as_u64().is_some_and(|nbf| nbf <= now + leeway),
            "not yet valid: {payload}"
        );
    }
    assert_eq!(payload["exp"].as_i64(), Some(claims.exp), "{payload}");
    assert_eq!(payload["iat"].as_i64(), Some(claims.iat), "{payload}");
    // A UUID has more than one spelling (case, braces, no hyphens): compare values.
    let uuid = |name: &str| payload[name].as_str().and_then(|text| Uuid::parse_str(text).ok());
    assert_eq!(uuid("sub"), Some(claims.sub.0), "{payload}");
    assert_eq!(uuid("sid"), Some(claims.sid.0), "{payload}");
    assert_eq!(uuid("jti"), Some(claims.jti), "{payload}");
    assert_eq!(
        payload["email"].as_str(),
        Some(claims.email.as_str()),
        "{payload}"
    );
    assert_eq!(payload["tier"].as_str(), Some(claims.tier.as_str()), "{payload}");
    assert_eq!(
        payload["is_superuser"].as_bool(),
        Some(claims.is_superuser),
        "{payload}"
    );
    assert_eq!(payload["is_staff"].as_bool(), Some(claims.is_staff), "{payload}");

    // The second time, the answer comes from the verified-token cache.
    assert_eq!(CODEC.verify(token).as_ref(), Ok(claims), "{token:?}");
}

fn decode_json(part: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|err| panic!("accepted a part that is not base64url ({err}): {part:?}"));
    // Lossy: serde_json does not check UTF-8 inside members it skips, so a
    // token signed with our key may carry invalid UTF-8 in an unknown claim
    // (see README.md, "Findings"). Only our key signs, so that is left alone.
    serde_json::from_str(&String::from_utf8_lossy(&bytes))
        .unwrap_or_else(|err| panic!("accepted a part that is not JSON ({err}): {bytes:?}"))
}
