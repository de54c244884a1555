use async_trait::async_trait;
use latch_domain::{RateLimit, Tier, Timestamp};

use crate::RepositoryError;

/// Why a tier could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// A tier with this name exists.
    #[error("tier already exists")]
    Exists,
    /// No tier has this name.
    #[error("tier not found")]
    NotFound,
    /// Users still have this tier.
    #[error("tier in use")]
    InUse,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where tiers are kept.
#[async_trait]
pub trait TierRepository: Send + Sync + 'static {
    /// Stores a new tier. MUST return `Exists` (writing nothing) if the name is taken.
    async fn create(&self, tier: &Tier) -> Result<(), TierError>;

    /// Every tier, by name.
    async fn list(&self) -> Result<Vec<Tier>, RepositoryError>;

    /// The tier with this name, if any.
    async fn find(&self, name: &str) -> Result<Option<Tier>, RepositoryError>;

    /// Replaces the description and/or limits (`None` = keep) and bumps
    /// `updated_at`; `NotFound` for an unknown name.
    async fn update(
        &self,
        name: &str,
        description: Option<String>,
        limits: Option<Vec<RateLimit>>,
        now: Timestamp,
    ) -> Result<Tier, TierError>;

    /// Deletes a tier. MUST return `InUse` (deleting nothing) while any user,
    /// deleted or not, has it; `NotFound` for an unknown name.
    async fn delete(&self, name: &str) -> Result<(), TierError>;
}
