//! Import: bring users over from another system, one JSON object a line
//! (JSON Lines), with the password hashes they had there. Login verifies
//! those hashes and replaces them with current ones.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

use chrono::DateTime;
use latch_domain::{AvatarUrl, DisplayName, Email, UserId, Username, ValidationError};
use latch_ports::{ImportError, ImportedUser, PasswordHash};
use serde::Deserialize;

use crate::{AuthService, Unexpected};

/// Longest line read; longer ones are rejected, unparsed.
pub const MAX_IMPORT_LINE_BYTES: usize = 64 * 1024;

/// Valid lines stored per transaction unless configured otherwise.
pub const DEFAULT_IMPORT_BATCH_SIZE: usize = 500;

/// One user as a line of an import file. Only these fields are accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a JSON object describing one user")]
struct ImportRecord {
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

/// How an import runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Valid lines stored per transaction.
    pub batch_size: NonZeroUsize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_size: NonZeroUsize::new(DEFAULT_IMPORT_BATCH_SIZE).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// A line that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// 1-based line number in the input.
    pub line: u64,
    /// Why, naming the field at fault (`email: is not a valid email address`).
    pub reason: String,
}

impl std::fmt::Display for RejectedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// How many lines an import stored and rejected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Users stored.
    pub imported: u64,
    /// Lines rejected (blank lines are neither).
    pub rejected: u64,
}

/// The outcome of [`AuthService::import_users`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Users stored.
    pub imported: u64,
    /// Every rejected line, in input order.
    pub rejected: Vec<RejectedLine>,
}

/// An import in progress: feed it lines with [`UserImport::add_line`], then
/// call [`UserImport::finish`]. Holds at most one batch of users, so input of
/// any size streams through it.
pub struct UserImport {
    auth: AuthService,
    batch_size: usize,
    /// The batch being filled, and the input line of each of its users.
    batch: Vec<ImportedUser>,
    lines: Vec<u64>,
    /// Normalised emails and usernames of the batch, with their lines.
    /// Earlier batches are already stored, so the store catches repeats of those.
    batch_emails: HashMap<String, u64>,
    batch_usernames: HashMap<String, u64>,
    /// Tiers seen to exist (a handful; unknown ones are looked up again).
    known_tiers: HashSet<String>,
    summary: ImportSummary,
}

impl AuthService {
    /// Starts an import of users from another system.
    pub fn start_import(&self, options: ImportOptions) -> UserImport {
        UserImport {
            auth: self.clone(),
            batch_size: options.batch_size.get(),
            batch: Vec::new(),
            lines: Vec::new(),
            batch_emails: HashMap::new(),
            batch_usernames: HashMap::new(),
            known_tiers: HashSet::new(),
            summary: ImportSummary::default(),
        }
    }

    /// Imports `lines` (numbered from 1) in one go; see [`UserImport`].
    ///
    /// # Errors
    /// `Unexpected` when the store fails; the batches stored before stay.
    pub async fn import_users<'a>(
        &self,
        lines: impl IntoIterator<Item = &'a str>,
        options: ImportOptions,
    ) -> Result<ImportReport, Unexpected> {
        let mut import = self.start_import(options);
        let mut rejected = Vec::new();
        for (number, text) in (1..).zip(lines) {
            rejected.extend(import.add_line(number, text.as_bytes()).await?);
        }
        rejected.extend(import.finish().await?);
        Ok(ImportReport {
            imported: import.summary().imported,
            rejected,
        })
    }
}

impl UserImport {
    /// Checks line `line` (1-based) of the input, given without its line
    /// ending, and queues its user, storing the batch once it is full.
    /// Returns the lines rejected by this call: this one if it is invalid, and
    /// any of the batch that conflicted with stored users. Blank lines are
    /// skipped.
    ///
    /// # Errors
    /// `Unexpected` when the store fails; the import cannot go on.
    pub async fn add_line(&mut self, line: u64, bytes: &[u8]) -> Result<Vec<RejectedLine>, Unexpected> {
        if bytes.len() > MAX_IMPORT_LINE_BYTES {
            return Ok(vec![
                self.reject(line, format!("longer than {MAX_IMPORT_LINE_BYTES} bytes")),
            ]);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Ok(vec![self.reject(line, "not valid UTF-8".into())]);
        };
        // Editors on Windows start UTF-8 files with a byte-order mark.
        let text = if line == 1 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let user = match self.parse(text) {
            Ok(user) => user,
            Err(reason) => return Ok(vec![self.reject(line, reason)]),
        };
        if !self.tier_exists(&user.tier).await? {
            return Ok(vec![self.reject(line, "tier: no such tier".into())]);
        }
        let email = user.email.normalized();
        if let Some(first) = self.batch_emails.get(&email) {
            let reason = format!("email: already used on line {first}");
            return Ok(vec![self.reject(line, reason)]);
        }
        let username = user.username.as_ref().map(Username::normalized);
        if let Some(first) = username.as_ref().and_then(|u| self.batch_usernames.get(u)) {
            let reason = format!("username: already used on line {first}");
            return Ok(vec![self.reject(line, reason)]);
        }
        self.batch_emails.insert(email, line);
        if let Some(username) = username {
            self.batch_usernames.insert(username, line);
        }
        self.batch.push(user);
        self.lines.push(line);
        if self.batch.len() >= self.batch_size {
            return self.store_batch().await;
        }
        Ok(Vec::new())
    }

    /// Stores the last, partial batch; returns its rejected lines.
    ///
    /// # Errors
    /// `Unexpected` when the store fails.
    pub async fn finish(&mut self) -> Result<Vec<RejectedLine>, Unexpected> {
        self.store_batch().await
    }

    /// The counts so far (all of them after [`UserImport::finish`]).
    pub fn summary(&self) -> ImportSummary {
        self.summary
    }

    fn reject(&mut self, line: u64, reason: String) -> RejectedLine {
        self.summary.rejected += 1;
        RejectedLine { line, reason }
    }

    /// The user a line describes, or why it describes none.
    fn parse(&self, text: &str) -> Result<ImportedUser, String> {
        let record: ImportRecord = serde_json::from_str(text).map_err(|err| describe_json_error(&err))?;
        let field = |err: ValidationError| err.to_string();
        // Exports write absent optional fields as "" as often as null.
        let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let email = Email::parse(&record.email).map_err(field)?;
        let username = given(record.username)
            .map(|u| Username::parse(&u))
            .transpose()
            .map_err(field)?;
        let name = given(record.name)
            .map(|n| DisplayName::parse(&n))
            .transpose()
            .map_err(field)?;
        let avatar_url = given(record.avatar_url)
            .map(|a| AvatarUrl::parse(&a))
            .transpose()
            .map_err(field)?;
        let password_hash = PasswordHash(record.password_hash);
        // Never store what login could not verify: that user could never log in.
        if self.auth.ports.hasher.check_stored(&password_hash).is_err() {
            return Err("password_hash: not a hash Latch can verify \
                        (unknown scheme, malformed, or cost above the limits)"
                .into());
        }
        let now = self.auth.ports.clock.now();
        let created_at = match record.created_at {
            None => now,
            Some(raw) => DateTime::parse_from_rfc3339(&raw)
                .map_err(|_| "created_at: must be an RFC 3339 timestamp, e.g. 2021-06-01T12:00:00Z")?
                .to_utc(),
        };
        if created_at > now {
            return Err("created_at: must not be in the future".into());
        }
        Ok(ImportedUser {
            id: UserId::generate(),
            email,
            username,
            name,
            avatar_url,
            password_hash,
            is_active: record.is_active,
            is_staff: record.is_staff,
            is_superuser: record.is_superuser,
            email_verified: record.email_verified,
            tier: given(record.tier).unwrap_or_else(|| self.auth.config.default_tier.clone()),
            created_at,
            imported_at: now,
        })
    }

    async fn tier_exists(&mut self, name: &str) -> Result<bool, Unexpected> {
        if self.known_tiers.contains(name) {
            return Ok(true);
        }
        let exists = self.auth.ports.tiers.find(name).await?.is_some();
        if exists {
            self.known_tiers.insert(name.to_owned());
        }
        Ok(exists)
    }

    /// Stores the batch in one transaction. If it conflicts with stored users
    /// (an email taken, say), stores its users one at a time instead, so only
    /// the conflicting lines are rejected.
    async fn store_batch(&mut self) -> Result<Vec<RejectedLine>, Unexpected> {
        let batch = std::mem::take(&mut self.batch);
        let lines = std::mem::take(&mut self.lines);
        self.batch_emails.clear();
        self.batch_usernames.clear();
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let users = std::sync::Arc::clone(&self.auth.ports.users);
        match users.import_batch(&batch).await {
            Ok(()) => {
                self.summary.imported += batch.len() as u64;
                tracing::debug!(users = batch.len(), "imported a batch of users");
                return Ok(Vec::new());
            }
            Err(ImportError::Repository(err)) => return Err(err.into()),
            Err(conflict) => {
                tracing::info!(%conflict, "batch conflicts with stored users; importing it user by user");
            }
        }
        let mut rejected = Vec::new();
        for (line, user) in lines.into_iter().zip(batch) {
            let reason = match users.import_batch(std::slice::from_ref(&user)).await {
                Ok(()) => {
                    self.summary.imported += 1;
                    continue;
                }
                Err(ImportError::EmailTaken { .. }) => "email: already taken",
                Err(ImportError::UsernameTaken { .. }) => "username: already taken",
                // Deleted since the line was checked.
                Err(ImportError::UnknownTier { .. }) => "tier: no such tier",
                Err(ImportError::Repository(err)) => return Err(err.into()),
            };
            rejected.push(self.reject(line, reason.into()));
        }
        Ok(rejected)
    }
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
