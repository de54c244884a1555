//! Every algorithm `JwtTokenCodec` supports passes the `TokenCodec` contract.

#![allow(clippy::unwrap_used)]

use latch_tokens_jwt::{JwtTokenCodec, SigningKey, TokenSettings};

fn codec(key: SigningKey) -> JwtTokenCodec {
    JwtTokenCodec::new(
        TokenSettings::new(key.algorithm(), "latch-test", "latch-test-api"),
        key,
    )
    .unwrap()
}

mod eddsa {
    use super::*;

    fn make() -> JwtTokenCodec {
        codec(SigningKey::generate_ed25519().unwrap())
    }

    latch_testkit::token_codec_contract!(make());
}

mod rs256 {
    use super::*;
    use latch_tokens_jwt::Algorithm;

    fn make() -> JwtTokenCodec {
        let pem = include_str!("fixtures/rs256-test-key.pem");
        codec(SigningKey::from_pem(Algorithm::RS256, pem).unwrap())
    }

    latch_testkit::token_codec_contract!(make());
}

mod hs256 {
    use super::*;

    fn make() -> JwtTokenCodec {
        codec(SigningKey::hs256(b"a test secret that is at least thirty-two bytes long").unwrap())
    }

    latch_testkit::token_codec_contract!(make());
}
