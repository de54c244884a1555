//! Behaviour specific to the JWT adapter: key handling, `kid`s, JWKS, and the
//! header and claim rules that go beyond the port's contract.

#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use latch_domain::AuthMethods;
use latch_ports::{TokenCodec, TokenError};
use latch_testkit::token_codec::fresh_claims;
use latch_tokens_jwt::{Algorithm, JwtTokenCodec, KeyError, SigningKey, TokenSettings};
use serde_json::{Value, json};

const ISSUER: &str = "latch-test";
const AUDIENCE: &str = "latch-test-api";
const RS256_PKCS8: &str = include_str!("fixtures/rs256-test-key.pem");
const RS256_PKCS1: &str = include_str!("fixtures/rs256-test-key.pkcs1.pem");
const HS256_SECRET: &[u8] = b"a test secret that is at least thirty-two bytes long";

fn codec(key: &SigningKey) -> JwtTokenCodec {
    JwtTokenCodec::new(TokenSettings::new(key.algorithm(), ISSUER, AUDIENCE), key.clone()).unwrap()
}

fn eddsa() -> (SigningKey, JwtTokenCodec) {
    let key = SigningKey::generate_ed25519().unwrap();
    let codec = codec(&key);
    (key, codec)
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
}

/// Claims that `codec` accepts, as JSON, for tokens signed by hand.
fn wire_claims() -> Value {
    let claims = fresh_claims();
    json!({
        "iss": ISSUER, "aud": AUDIENCE,
        "sub": claims.sub.0, "sid": claims.sid.0, "jti": claims.jti,
        "iat": claims.iat, "exp": claims.exp,
        "email": claims.email, "name": claims.name, "avatar_url": claims.avatar_url,
        "is_superuser": claims.is_superuser, "is_staff": claims.is_staff, "tier": claims.tier,
    })
}

/// The header our codec writes, for `alg` and `kid`.
fn header(alg: jsonwebtoken::Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    header
}

/// Signs `claims` under `header` with `key`'s private half, bypassing the codec.
fn sign(header: &Header, claims: &Value, key: &SigningKey) -> String {
    let encoding = match key.algorithm() {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(key.to_pem().unwrap().as_bytes()).unwrap(),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(key.to_pem().unwrap().as_bytes()).unwrap(),
        Algorithm::HS256 => EncodingKey::from_secret(HS256_SECRET),
    };
    jsonwebtoken::encode(header, claims, &encoding).unwrap()
}

fn jwks(codec: &JwtTokenCodec) -> Value {
    serde_json::from_str(&codec.jwks_json()).unwrap()
}

// ---- keys and kids ----------------------------------------------------------

#[test]
fn kid_is_the_rfc7638_thumbprint() {
    // RFC 8037 appendix A.1-A.3: this Ed25519 key's thumbprint is known.
    let seed = URL_SAFE_NO_PAD
        .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        .unwrap();
    let mut pkcs8 = hex_bytes("302e020100300506032b657004220420");
    pkcs8.extend(seed);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8)
    );
    let key = SigningKey::from_pem(Algorithm::EdDSA, &pem).unwrap();
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_eq!(
        jwks(&codec(&key))["keys"][0]["x"],
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    );
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rs256_pkcs1_and_pkcs8_pem_are_the_same_key() {
    let pkcs8 = SigningKey::from_pem(Algorithm::RS256, RS256_PKCS8).unwrap();
    let pkcs1 = SigningKey::from_pem(Algorithm::RS256, RS256_PKCS1).unwrap();
    assert_eq!(pkcs8.kid(), pkcs1.kid());
}

#[test]
fn to_pem_reloads_to_the_same_key() {
    for key in [
        SigningKey::generate_ed25519().unwrap(),
        SigningKey::from_pem(Algorithm::RS256, RS256_PKCS8).unwrap(),
    ] {
        let again = SigningKey::from_pem(key.algorithm(), &key.to_pem().unwrap()).unwrap();
        assert_eq!(again.kid(), key.kid(), "{:?}", key.algorithm());
    }
    assert_eq!(SigningKey::hs256(HS256_SECRET).unwrap().to_pem(), None);
}

#[test]
fn pem_of_the_wrong_kind_is_rejected() {
    let ed = SigningKey::generate_ed25519().unwrap().to_pem().unwrap();
    let cases = [
        (Algorithm::EdDSA, RS256_PKCS8.to_owned()),
        (Algorithm::RS256, ed.clone()),
        (Algorithm::EdDSA, "not a pem".to_owned()),
        (Algorithm::EdDSA, ed.replace("PRIVATE KEY", "PUBLIC KEY")),
    ];
    for (alg, pem) in cases {
        let err = SigningKey::from_pem(alg, &pem).unwrap_err();
        assert!(
            matches!(err, KeyError::InvalidPem { algorithm, .. } if algorithm == alg),
            "{alg}: {err}"
        );
    }
    assert!(matches!(
        SigningKey::from_pem(Algorithm::HS256, &ed),
        Err(KeyError::NotAsymmetric(_))
    ));
}

#[test]
fn public_key_pem_is_not_a_signing_key() {
    let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";
    assert!(matches!(
        SigningKey::from_pem(Algorithm::EdDSA, public),
        Err(KeyError::InvalidPem { .. })
    ));
}

#[test]
fn empty_hs256_secret_is_rejected() {
    assert!(matches!(SigningKey::hs256(b""), Err(KeyError::EmptySecret)));
}

#[test]
fn hs256_kid_is_stable_and_does_not_carry_the_secret() {
    let a = SigningKey::hs256(HS256_SECRET).unwrap();
    assert_eq!(a.kid(), SigningKey::hs256(HS256_SECRET).unwrap().kid());
    assert_ne!(a.kid(), SigningKey::hs256(b"another secret").unwrap().kid());
    assert_ne!(a.kid(), URL_SAFE_NO_PAD.encode(HS256_SECRET));
    assert!(!format!("{a:?}").contains("secret"), "{a:?}");
}

#[test]
fn settings_and_key_must_agree_on_the_algorithm() {
    let key = SigningKey::generate_ed25519().unwrap();
    let err = JwtTokenCodec::new(TokenSettings::new(Algorithm::RS256, ISSUER, AUDIENCE), key).unwrap_err();
    assert!(matches!(
        err,
        KeyError::AlgorithmMismatch {
            configured: Algorithm::RS256,
            key: Algorithm::EdDSA
        }
    ));
}

// ---- JWKS ---------------------------------------------------------------------

#[test]
fn eddsa_jwks_verifies_tokens() {
    let (key, codec) = eddsa();
    let jwks = jwks(&codec);
    let jwk = &jwks["keys"][0];
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"), &json!("sig"))
    );
    assert_eq!(jwk["kid"], key.kid());

    let decoding = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let token = codec.issue(&fresh_claims()).unwrap();
    assert!(
        jsonwebtoken::decode::<Value>(
            &token,
            &decoding,
            &resource_server(jsonwebtoken::Algorithm::EdDSA)
        )
        .is_ok()
    );
}

#[test]
fn rs256_jwks_verifies_tokens() {
    let key = SigningKey::from_pem(Algorithm::RS256, RS256_PKCS8).unwrap();
    let codec = codec(&key);
    let jwks = jwks(&codec);
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (&jwk["kty"], &jwk["alg"], &jwk["use"], &jwk["kid"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"), &json!(key.kid()))
    );

    let decoding =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
    let token = codec.issue(&fresh_claims()).unwrap();
    assert!(
        jsonwebtoken::decode::<Value>(
            &token,
            &decoding,
            &resource_server(jsonwebtoken::Algorithm::RS256)
        )
        .is_ok()
    );
}

fn resource_server(alg: jsonwebtoken::Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation
}

#[test]
fn hs256_jwks_is_empty() {
    let codec = codec(&SigningKey::hs256(HS256_SECRET).unwrap());
    assert_eq!(codec.jwks_json(), r#"{"keys":[]}"#);
}

// ---- keys and algorithms on verify ------------------------------------------

#[test]
fn token_signed_by_another_key_with_our_kid_is_invalid() {
    let (key, codec) = eddsa();
    let other = SigningKey::generate_ed25519().unwrap();
    let token = sign(
        &header(jsonwebtoken::Algorithm::EdDSA, key.kid()),
        &wire_claims(),
        &other,
    );
    assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
}

#[test]
fn key_named_in_the_header_is_never_used() {
    let (key, codec) = eddsa();
    let attacker = SigningKey::generate_ed25519().unwrap();
    let mut header = header(jsonwebtoken::Algorithm::EdDSA, key.kid());
    header.jwk =
        Some(serde_json::from_value::<Jwk>(jwks(&self::codec(&attacker))["keys"][0].clone()).unwrap());
    header.jku = Some("https://attacker.example/jwks.json".into());
    header.x5u = Some("https://attacker.example/cert.pem".into());
    let token = sign(&header, &wire_claims(), &attacker);
    assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
}

#[test]
fn hs256_signed_with_the_eddsa_public_key_is_invalid() {
    let (key, codec) = eddsa();
    let jwks_json = codec.jwks_json();
    let x = jwks(&codec)["keys"][0]["x"].as_str().unwrap().to_owned();
    let public_secrets = [
        URL_SAFE_NO_PAD.decode(&x).unwrap(),
        x.into_bytes(),
        jwks_json.into_bytes(),
    ];
    for secret in public_secrets {
        let header = header(jsonwebtoken::Algorithm::HS256, key.kid());
        let token =
            jsonwebtoken::encode(&header, &wire_claims(), &EncodingKey::from_secret(&secret)).unwrap();
        assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_invalid() {
    let key = SigningKey::from_pem(Algorithm::RS256, RS256_PKCS8).unwrap();
    let codec = codec(&key);
    let n = jwks(&codec)["keys"][0]["n"].as_str().unwrap().to_owned();
    let header = header(jsonwebtoken::Algorithm::HS256, key.kid());
    let secret = URL_SAFE_NO_PAD.decode(n).unwrap();
    let token = jsonwebtoken::encode(&header, &wire_claims(), &EncodingKey::from_secret(&secret)).unwrap();
    assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
}

#[test]
fn another_algorithm_with_the_same_secret_is_invalid() {
    let key = SigningKey::hs256(HS256_SECRET).unwrap();
    let codec = codec(&key);
    let header = header(jsonwebtoken::Algorithm::HS512, key.kid());
    let token =
        jsonwebtoken::encode(&header, &wire_claims(), &EncodingKey::from_secret(HS256_SECRET)).unwrap();
    assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
}

// ---- header rules -------------------------------------------------------------

#[test]
fn wrong_or_missing_kid_is_invalid() {
    let (key, codec) = eddsa();
    let mut header = header(jsonwebtoken::Algorithm::EdDSA, "some-other-key");
    assert_eq!(
        codec.verify(&sign(&header, &wire_claims(), &key)),
        Err(TokenError::Invalid)
    );
    header.kid = None;
    assert_eq!(
        codec.verify(&sign(&header, &wire_claims(), &key)),
        Err(TokenError::Invalid)
    );
}

#[test]
fn typ_other_than_at_jwt_is_invalid() {
    let (key, codec) = eddsa();
    for typ in [Some("JWT"), Some("jwt"), Some("at+jwt2"), None] {
        let mut header = header(jsonwebtoken::Algorithm::EdDSA, key.kid());
        header.typ = typ.map(Into::into);
        assert_eq!(
            codec.verify(&sign(&header, &wire_claims(), &key)),
            Err(TokenError::Invalid),
            "typ {typ:?}"
        );
    }
}

#[test]
fn typ_as_full_media_type_is_accepted() {
    let (key, codec) = eddsa();
    let mut header = header(jsonwebtoken::Algorithm::EdDSA, key.kid());
    header.typ = Some("application/AT+JWT".into());
    assert!(codec.verify(&sign(&header, &wire_claims(), &key)).is_ok());
}

#[test]
fn crit_header_is_invalid() {
    let (key, codec) = eddsa();
    let mut header = header(jsonwebtoken::Algorithm::EdDSA, key.kid());
    header.crit = Some(vec!["exp".into()]);
    assert_eq!(
        codec.verify(&sign(&header, &wire_claims(), &key)),
        Err(TokenError::Invalid)
    );
}

// ---- claim rules --------------------------------------------------------------

fn verify_with(claims: Value) -> Result<latch_ports::AccessClaims, TokenError> {
    let (key, codec) = eddsa();
    codec.verify(&sign(
        &header(jsonwebtoken::Algorithm::EdDSA, key.kid()),
        &claims,
        &key,
    ))
}

fn with(field: &str, value: Value) -> Value {
    let mut claims = wire_claims();
    claims[field] = value;
    claims
}

#[test]
fn hand_signed_wire_claims_are_accepted() {
    assert!(verify_with(wire_claims()).is_ok());
}

#[test]
fn wrong_issuer_is_invalid() {
    assert_eq!(
        verify_with(with("iss", json!("someone-else"))),
        Err(TokenError::Invalid)
    );
}

#[test]
fn wrong_audience_is_invalid() {
    assert_eq!(
        verify_with(with("aud", json!("another-api"))),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        verify_with(with("aud", json!(["another-api"]))),
        Err(TokenError::Invalid)
    );
}

#[test]
fn audience_list_containing_ours_is_accepted() {
    assert!(verify_with(with("aud", json!(["another-api", AUDIENCE]))).is_ok());
}

#[test]
fn missing_required_claim_is_invalid() {
    for name in ["exp", "iss", "aud", "sub", "sid", "jti", "iat", "email", "tier"] {
        let mut claims = wire_claims();
        claims.as_object_mut().unwrap().remove(name);
        assert_eq!(verify_with(claims), Err(TokenError::Invalid), "without {name}");
    }
}

#[test]
fn exp_that_is_not_an_integer_is_invalid() {
    let far = now() + 3600;
    for exp in [
        json!(far.to_string()),
        json!(far as f64 + 0.5),
        json!(null),
        json!(true),
    ] {
        assert_eq!(
            verify_with(with("exp", exp.clone())),
            Err(TokenError::Invalid),
            "exp {exp}"
        );
    }
}

#[test]
fn sub_that_is_not_a_uuid_is_invalid() {
    assert_eq!(verify_with(with("sub", json!("ada"))), Err(TokenError::Invalid));
}

#[test]
fn expiry_within_the_30s_leeway_is_accepted() {
    assert!(verify_with(with("exp", json!(now() - 10))).is_ok());
}

#[test]
fn expiry_beyond_the_30s_leeway_is_expired() {
    // 45 s late: still inside jsonwebtoken's default 60 s leeway, so this
    // proves the configured leeway is the one applied.
    assert_eq!(
        verify_with(with("exp", json!(now() - 45))),
        Err(TokenError::Expired)
    );
}

#[test]
fn not_before_in_the_future_is_invalid() {
    assert_eq!(
        verify_with(with("nbf", json!(now() + 3600))),
        Err(TokenError::Invalid)
    );
    assert!(verify_with(with("nbf", json!(now() - 1))).is_ok());
}

#[test]
fn a_token_without_amr_is_a_password_login() {
    let mut claims = wire_claims();
    claims.as_object_mut().unwrap().remove("amr");
    assert_eq!(verify_with(claims).unwrap().amr, AuthMethods::Password);
}

#[test]
fn amr_is_read_in_any_order() {
    for amr in [json!(["pwd", "otp"]), json!(["otp", "pwd"])] {
        assert_eq!(
            verify_with(with("amr", amr)).unwrap().amr,
            AuthMethods::PasswordAndOtp
        );
    }
}

#[test]
fn amr_latch_never_issues_is_invalid() {
    for amr in [
        json!(["otp"]),
        json!([]),
        json!(["pwd", "hwk"]),
        json!("pwd"),
        json!([1]),
    ] {
        assert_eq!(
            verify_with(with("amr", amr.clone())),
            Err(TokenError::Invalid),
            "amr {amr}"
        );
    }
}
