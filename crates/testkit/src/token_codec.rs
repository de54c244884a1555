//! The `TokenCodec` contract: what every access-token codec must do, one
//! public function per behaviour, expanded into `#[test]`s by
//! [`token_codec_contract!`](crate::token_codec_contract).
//!
//! Codecs verify against the system clock, so the claims here are built
//! around the real "now" rather than a `FixedClock`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_domain::{AuthMethods, SessionId, UserId};
use latch_ports::{AccessClaims, TokenCodec, TokenError};
use serde_json::{Value, json};
use uuid::Uuid;

/// Claims issued now, expiring in 15 minutes, with every optional field set.
pub fn fresh_claims() -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        sub: UserId::generate(),
        sid: SessionId::generate(),
        jti: Uuid::new_v4(),
        iat: now,
        exp: now + 900,
        email: "ada@example.com".into(),
        name: Some("Ada Lovelace".into()),
        avatar_url: Some("https://example.com/ada.png".into()),
        is_superuser: false,
        is_staff: true,
        tier: "free".into(),
        amr: AuthMethods::PasswordAndOtp,
    }
}

/// Expands the `TokenCodec` contract into one `#[test]` per behaviour.
/// `$make` is an expression that builds a fresh codec (anything that
/// coerces to `&dyn TokenCodec` when borrowed).
#[macro_export]
macro_rules! token_codec_contract {
    ($make:expr) => {
        $crate::token_codec_contract!(@tests $make;
            issue_then_verify_roundtrips_claims,
            optional_claims_roundtrip_as_none,
            payload_uses_the_documented_claim_names,
            header_has_typ_at_jwt_and_kid,
            tampered_payload_is_invalid,
            tampered_signature_is_invalid,
            stripped_signature_is_invalid,
            garbage_is_invalid,
            expired_is_expired,
            alg_none_is_invalid,
            jwks_is_json_with_keys_array_and_no_private_parts,
            jwks_lists_the_signing_kid,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::token_codec::$name(&$make);
            }
        )*
    };
}

/// The three dot-separated parts of a compact JWS.
#[allow(clippy::unwrap_used)]
fn parts(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().unwrap()
}

/// A base64url JSON part, decoded.
#[allow(clippy::unwrap_used)]
fn decode_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use super::*;

    /// What was issued verifies back to exactly the same claims.
    pub fn issue_then_verify_roundtrips_claims(codec: &dyn TokenCodec) {
        let claims = fresh_claims();
        let token = codec.issue(&claims).unwrap();
        assert_eq!(codec.verify(&token), Ok(claims));
    }

    /// Absent name and avatar come back as `None`, not as empty strings.
    pub fn optional_claims_roundtrip_as_none(codec: &dyn TokenCodec) {
        let claims = AccessClaims {
            name: None,
            avatar_url: None,
            amr: AuthMethods::Password,
            ..fresh_claims()
        };
        let token = codec.issue(&claims).unwrap();
        assert_eq!(codec.verify(&token), Ok(claims));
    }

    /// Resource servers read these names and types (RFC 9068 plus Latch's user info).
    pub fn payload_uses_the_documented_claim_names(codec: &dyn TokenCodec) {
        let claims = fresh_claims();
        let payload = decode_json(parts(&codec.issue(&claims).unwrap())[1]);
        for name in ["iss", "aud"] {
            assert!(
                payload[name].is_string(),
                "{name} missing or not a string in {payload}"
            );
        }
        assert_eq!(payload["sub"], json!(claims.sub.0.to_string()));
        assert_eq!(payload["sid"], json!(claims.sid.0.to_string()));
        assert_eq!(payload["jti"], json!(claims.jti.to_string()));
        assert_eq!(payload["iat"], json!(claims.iat), "iat must be a number");
        assert_eq!(payload["exp"], json!(claims.exp), "exp must be a number");
        assert_eq!(payload["email"], json!(claims.email));
        assert_eq!(payload["name"], json!(claims.name));
        assert_eq!(payload["avatar_url"], json!(claims.avatar_url));
        assert_eq!(payload["is_superuser"], json!(claims.is_superuser));
        assert_eq!(payload["is_staff"], json!(claims.is_staff));
        assert_eq!(payload["tier"], json!(claims.tier));
        assert_eq!(
            payload["amr"],
            json!(["pwd", "otp"]),
            "amr is RFC 8176's array of names"
        );
    }

    /// The header says `typ: at+jwt` (RFC 9068) and names the key with a non-empty `kid`.
    pub fn header_has_typ_at_jwt_and_kid(codec: &dyn TokenCodec) {
        let header = decode_json(parts(&codec.issue(&fresh_claims()).unwrap())[0]);
        assert_eq!(header["typ"], "at+jwt", "{header}");
        assert!(
            header["kid"].as_str().is_some_and(|kid| !kid.is_empty()),
            "{header}"
        );
        assert!(
            header["alg"]
                .as_str()
                .is_some_and(|alg| !alg.eq_ignore_ascii_case("none")),
            "{header}"
        );
    }

    /// A payload edited after signing (here: promoting to superuser) is rejected.
    pub fn tampered_payload_is_invalid(codec: &dyn TokenCodec) {
        let token = codec.issue(&fresh_claims()).unwrap();
        let [header, payload, signature] = parts(&token);
        let mut claims = decode_json(payload);
        claims["is_superuser"] = json!(true);
        let forged = format!("{header}.{}.{signature}", encode_json(&claims));
        assert_eq!(codec.verify(&forged), Err(TokenError::Invalid));
    }

    /// A signature with one bit flipped is rejected.
    pub fn tampered_signature_is_invalid(codec: &dyn TokenCodec) {
        let token = codec.issue(&fresh_claims()).unwrap();
        let [header, payload, signature] = parts(&token);
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 0x01;
        let forged = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(codec.verify(&forged), Err(TokenError::Invalid));
    }

    /// The real header and payload without a signature are rejected.
    pub fn stripped_signature_is_invalid(codec: &dyn TokenCodec) {
        let token = codec.issue(&fresh_claims()).unwrap();
        let [header, payload, _] = parts(&token);
        assert_eq!(
            codec.verify(&format!("{header}.{payload}.")),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            codec.verify(&format!("{header}.{payload}")),
            Err(TokenError::Invalid)
        );
    }

    /// Anything that is not a compact JWS is `Invalid` (never a panic or `Unexpected`).
    pub fn garbage_is_invalid(codec: &dyn TokenCodec) {
        let token = codec.issue(&fresh_claims()).unwrap();
        let garbage = [
            String::new(),
            " ".into(),
            ".".into(),
            "..".into(),
            "...".into(),
            "not a token".into(),
            "a.b.c".into(),
            "e30.e30.e30".into(),
            "eyJhbGciOiJIUzI1NiJ9.e30.".into(),
            "latch_rt_0123456789abcdef".into(),
            format!("Bearer {token}"),
            format!(" {token}"),
            format!("{token}."),
            format!("{token}.{token}"),
            token.replace('.', ""),
            "\u{0}\u{ffff}.é.☃".into(),
        ];
        for input in &garbage {
            assert_eq!(codec.verify(input), Err(TokenError::Invalid), "input: {input:?}");
        }
    }

    /// A correctly signed token whose `exp` is an hour past is `Expired`, not `Invalid`.
    pub fn expired_is_expired(codec: &dyn TokenCodec) {
        let fresh = fresh_claims();
        let claims = AccessClaims {
            iat: fresh.iat - 7200,
            exp: fresh.iat - 3600,
            ..fresh
        };
        let token = codec.issue(&claims).unwrap();
        assert_eq!(codec.verify(&token), Err(TokenError::Expired));
    }

    /// `alg: none` (any spelling, with or without the old signature) is rejected,
    /// even with our `kid` and otherwise valid claims.
    pub fn alg_none_is_invalid(codec: &dyn TokenCodec) {
        let token = codec.issue(&fresh_claims()).unwrap();
        let [header, payload, signature] = parts(&token);
        let kid = decode_json(header)["kid"].clone();
        for alg in ["none", "None", "NONE", "nOnE"] {
            let unsigned = encode_json(&json!({ "alg": alg, "typ": "at+jwt", "kid": kid }));
            for sig in ["", signature] {
                let forged = format!("{unsigned}.{payload}.{sig}");
                assert_eq!(
                    codec.verify(&forged),
                    Err(TokenError::Invalid),
                    "alg {alg:?}, signature {sig:?}"
                );
            }
        }
    }

    /// The JWKS is `{"keys":[...]}` of objects with a `kty` and no private or
    /// symmetric member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`).
    pub fn jwks_is_json_with_keys_array_and_no_private_parts(codec: &dyn TokenCodec) {
        let jwks: Value = serde_json::from_str(&codec.jwks_json()).unwrap();
        assert!(jwks["keys"].is_array(), "no keys array: {jwks}");
        for key in jwks["keys"].as_array().unwrap() {
            assert!(key["kty"].is_string(), "key without kty: {key}");
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(key.get(private).is_none(), "JWKS leaks {private:?}: {key}");
            }
        }
    }

    /// A codec that publishes keys publishes the one its tokens name (symmetric codecs publish none).
    pub fn jwks_lists_the_signing_kid(codec: &dyn TokenCodec) {
        let jwks: Value = serde_json::from_str(&codec.jwks_json()).unwrap();
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        if keys.is_empty() {
            return;
        }
        let kid = decode_json(parts(&codec.issue(&fresh_claims()).unwrap())[0])["kid"].clone();
        assert!(
            keys.iter().any(|key| key["kid"] == kid),
            "kid {kid} not in {jwks}"
        );
    }
}

pub use behaviours::*;
