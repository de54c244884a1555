//! The import file format: one JSON object a line (JSON Lines), each a user
//! exported from another system. Read here, checked and stored by the import
//! use case (`latch_core::UserImport`).

use chrono::DateTime;
use latch_core::{AuthService, ImportOptions, ImportRecord, RejectedLine, Unexpected, UserImport};
use serde::Deserialize;

/// Longest line read; longer ones are rejected, unparsed.
pub const MAX_IMPORT_LINE_BYTES: usize = 64 * 1024;

/// One user as a line of an import file. Only these fields are accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a JSON object describing one user")]
struct Line {
    email: String,
    username: Option<String>,
    name: Option<String>,
    avatar_url: Option<String>,
    password_hash: String,
    #[serde(default = "active_by_default")]
    is_active: bool,
    #[serde(default)]
    is_staff: bool,
    #[serde(default)]
    is_superuser: bool,
    #[serde(default)]
    email_verified: bool,
    tier: Option<String>,
    created_at: Option<String>,
}

fn active_by_default() -> bool {
    true
}

/// The record on line `line` (1-based), given without its line ending;
/// `None` for a blank line; otherwise why it is not a record, naming the
/// field at fault.
pub fn read_record(line: u64, bytes: &[u8]) -> Result<Option<ImportRecord>, String> {
    if bytes.len() > MAX_IMPORT_LINE_BYTES {
        return Err(format!("longer than {MAX_IMPORT_LINE_BYTES} bytes"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_owned())?;
    // Editors on Windows start UTF-8 files with a byte-order mark.
    let text = if line == 1 {
        text.trim_start_matches('\u{feff}')
    } else {
        text
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let parsed: Line = serde_json::from_str(text).map_err(|err| describe_json_error(&err))?;
    let created_at = parsed
        .created_at
        .map(|raw| {
            DateTime::parse_from_rfc3339(&raw)
                .map(|at| at.to_utc())
                .map_err(|_| "created_at: must be an RFC 3339 timestamp, e.g. 2021-06-01T12:00:00Z")
        })
        .transpose()?;
    Ok(Some(ImportRecord {
        email: parsed.email,
        username: parsed.username,
        name: parsed.name,
        avatar_url: parsed.avatar_url,
        password_hash: parsed.password_hash,
        is_active: parsed.is_active,
        is_staff: parsed.is_staff,
        is_superuser: parsed.is_superuser,
        email_verified: parsed.email_verified,
        tier: parsed.tier,
        created_at,
    }))
}

/// Reads line `line` and hands its record to `import`; returns the lines
/// rejected by this call (see [`UserImport::add`]).
///
/// # Errors
/// `Unexpected` when the store fails; the import cannot go on.
pub async fn add_line(
    import: &mut UserImport,
    line: u64,
    bytes: &[u8],
) -> Result<Vec<RejectedLine>, Unexpected> {
    match read_record(line, bytes) {
        Ok(Some(record)) => import.add(line, record).await,
        Ok(None) => Ok(Vec::new()),
        Err(reason) => Ok(vec![import.reject(line, reason)]),
    }
}

/// The outcome of [`import_lines`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Users stored.
    pub imported: u64,
    /// Every rejected line, in input order.
    pub rejected: Vec<RejectedLine>,
}

/// Imports `lines` (numbered from 1) in one go.
///
/// # Errors
/// `Unexpected` when the store fails; the batches stored before stay.
pub async fn import_lines<'a>(
    auth: &AuthService,
    lines: impl IntoIterator<Item = &'a str>,
    options: ImportOptions,
) -> Result<ImportReport, Unexpected> {
    let mut import = auth.start_import(options);
    let mut rejected = Vec::new();
    for (number, text) in (1..).zip(lines) {
        rejected.extend(add_line(&mut import, number, text.as_bytes()).await?);
    }
    rejected.extend(import.finish().await?);
    Ok(ImportReport {
        imported: import.summary().imported,
        rejected,
    })
}

/// A JSON error without serde_json's position suffix, which would say "line
/// 1" of what is a single line; the column is kept for syntax errors.
fn describe_json_error(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    if err.is_data() {
        message.to_owned()
    } else {
        format!("not valid JSON: {message} at column {}", err.column())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
