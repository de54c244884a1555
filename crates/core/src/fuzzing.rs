//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//! Not part of the API: they reach the refresh-token parser, which is
//! otherwise only seen through the refresh and logout use cases.

use crate::refresh_token::RefreshSecret;

/// The token the refresh-token parser reads from `token`, written out again;
/// `None` when the parser refuses it.
pub fn refresh_token_reformatted(token: &str) -> Option<String> {
    RefreshSecret::parse(token).map(|secret| secret.token())
}
