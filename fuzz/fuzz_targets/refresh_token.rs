//! The refresh-token parser of `latch-core` (what `POST /auth/refresh` and
//! logout read from a body or cookie): no panic, and a token is accepted only
//! in the one form Latch writes (`latch_rt_` + 43 base64url characters), so
//! two different strings never name the same stored token.

#![no_main]

use latch_core::fuzzing::refresh_token_reformatted;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(written) = refresh_token_reformatted(token) {
        assert_eq!(written, token, "accepted in a form Latch does not write");
    }
});
