//! Import: bring users over from another system, with the password hashes
//! they had there. Login verifies those hashes and replaces them with
//! current ones. Reading the file format is the caller's (the CLI reads JSON
//! Lines); this checks each user and stores them in batches.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

use latch_domain::{AvatarUrl, DisplayName, Email, TierName, Timestamp, UserId, Username, ValidationError};
use latch_ports::{ImportError, ImportedUser, PasswordHash};

use crate::{AuthService, Unexpected};

/// Valid lines stored per transaction unless configured otherwise.
pub const DEFAULT_IMPORT_BATCH_SIZE: usize = 500;

/// One user as the other system exported them, unchecked: each field as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    /// Checked as signup checks it.
    pub email: String,
    /// Blank is taken as absent.
    pub username: Option<String>,
    /// Blank is taken as absent.
    pub name: Option<String>,
    /// Blank is taken as absent.
    pub avatar_url: Option<String>,
    /// Must be a hash login can verify (`PasswordHasher::check_stored`).
    pub password_hash: String,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Staff flag.
    pub is_staff: bool,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Whether the other system had verified the email.
    pub email_verified: bool,
    /// Blank or absent: the default tier. Must exist.
    pub tier: Option<String>,
    /// Absent: now. Must not be in the future.
    pub created_at: Option<Timestamp>,
}

impl ImportRecord {
    /// A record of an active user with these two fields and nothing else.
    pub fn new(email: impl Into<String>, password_hash: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            username: None,
            name: None,
            avatar_url: None,
            password_hash: password_hash.into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            email_verified: false,
            tier: None,
            created_at: None,
        }
    }
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

/// An import in progress: feed it users with [`UserImport::add`], then
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
}

impl UserImport {
    /// Checks the user on line `line` (1-based) of the input and queues
    /// them, storing the batch once it is full. Returns the lines rejected by
    /// this call: this one if it is invalid, and any of the batch that
    /// conflicted with stored users.
    ///
    /// # Errors
    /// `Unexpected` when the store fails; the import cannot go on.
    pub async fn add(&mut self, line: u64, record: ImportRecord) -> Result<Vec<RejectedLine>, Unexpected> {
        let user = match self.check(record) {
            Ok(user) => user,
            Err(reason) => return Ok(vec![self.reject(line, reason)]),
        };
        if !self.tier_exists(user.tier.as_str()).await? {
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

    /// Counts line `line` as rejected for `reason` (one the reader could not
    /// make a record of, say) and returns it.
    pub fn reject(&mut self, line: u64, reason: String) -> RejectedLine {
        self.summary.rejected += 1;
        RejectedLine { line, reason }
    }

    /// The user a record describes, or why it describes none.
    fn check(&self, record: ImportRecord) -> Result<ImportedUser, String> {
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
        let created_at = record.created_at.unwrap_or(now);
        if created_at > now {
            return Err("created_at: must not be in the future".into());
        }
        // A name no tier can have is no such tier, as an unknown one is.
        let tier = match given(record.tier) {
            None => self.auth.config.default_tier.clone(),
            Some(name) => TierName::parse(&name).map_err(|_| "tier: no such tier")?,
        };
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
            tier,
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
