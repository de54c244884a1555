//! Issue and verify throughput of `JwtTokenCodec` per algorithm, each printed
//! as a ratio of the raw aws-lc-rs sign/verify of the same bytes (the ceiling:
//! what is left is the claims JSON and base64; the key is parsed once, see
//! `src/signer.rs`).
//!
//! Run with `cargo bench -p latch-tokens-jwt` (one core, a few seconds).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use aws_lc_rs::{hmac, rand::SystemRandom};
use latch_ports::TokenCodec;
use latch_testkit::token_codec::fresh_claims;
use latch_tokens_jwt::{Algorithm, JwtTokenCodec, SigningKey, TokenSettings};

/// Operations per second of `op`, measured for about half a second.
fn rate(mut op: impl FnMut()) -> f64 {
    for _ in 0..10 {
        op();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_millis(500) {
        for _ in 0..10 {
            op();
        }
        n += 10;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

/// Raw (sign, verify) rates for `alg` over `message`.
fn ceiling(alg: Algorithm, message: &[u8]) -> (f64, f64) {
    match alg {
        Algorithm::EdDSA => {
            let pair = Ed25519KeyPair::generate().unwrap();
            let sig = pair.sign(message);
            let public = UnparsedPublicKey::new(&signature::ED25519, pair.public_key().as_ref().to_vec());
            (
                rate(|| {
                    black_box(pair.sign(message));
                }),
                rate(|| public.verify(message, sig.as_ref()).unwrap()),
            )
        }
        Algorithm::RS256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
            let rng = SystemRandom::new();
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                .unwrap();
            let public = UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref().to_vec(),
            );
            let mut out = vec![0; pair.public_modulus_len()];
            let sign = rate(|| {
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .unwrap()
            });
            (sign, rate(|| public.verify(message, &sig).unwrap()))
        }
        Algorithm::HS256 => {
            let key = hmac::Key::new(hmac::HMAC_SHA256, b"a benchmark secret of thirty-two bytes..");
            let tag = hmac::sign(&key, message);
            (
                rate(|| {
                    black_box(hmac::sign(&key, message));
                }),
                rate(|| hmac::verify(&key, message, tag.as_ref()).unwrap()),
            )
        }
    }
}

fn main() {
    let rsa_pem = include_str!("../tests/fixtures/rs256-test-key.pem");
    let keys = [
        SigningKey::generate_ed25519().unwrap(),
        SigningKey::from_pem(Algorithm::RS256, rsa_pem).unwrap(),
        SigningKey::hs256(b"a benchmark secret of thirty-two bytes..").unwrap(),
    ];
    for key in keys {
        let alg = key.algorithm();
        let codec = JwtTokenCodec::new(TokenSettings::new(alg, "latch", "latch"), key).unwrap();
        let claims = fresh_claims();
        let token = codec.issue(&claims).unwrap();
        let signing_input = token.rsplit_once('.').unwrap().0.as_bytes();
        let issue = rate(|| {
            black_box(codec.issue(black_box(&claims)).unwrap());
        });
        let verify = rate(|| {
            black_box(codec.verify(black_box(&token)).unwrap());
        });
        let (raw_sign, raw_verify) = ceiling(alg, signing_input);
        println!(
            "{alg:>5}  issue {issue:>9.0}/s = {:.2} x raw sign {raw_sign:>9.0}/s   verify {verify:>9.0}/s = {:.2} x raw verify {raw_verify:>9.0}/s",
            issue / raw_sign,
            verify / raw_verify,
        );
    }
}
