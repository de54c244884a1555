//! Tier administration, and making sure the default tier exists.

use latch_domain::{RateLimit, Tier, TierName, require_administrator, validate_tier_fields};
use latch_ports::TierError;

use crate::{AdminError, AuthService, Principal, Unexpected};

impl From<TierError> for AdminError {
    fn from(err: TierError) -> Self {
        match err {
            TierError::Exists => Self::TierExists,
            TierError::NotFound => Self::NotFound,
            TierError::InUse => Self::TierInUse,
            TierError::Repository(err) => Self::Unexpected(err.into()),
        }
    }
}

impl AuthService {
    /// Creates the configured default tier if it is missing, so new users can
    /// always be given it. Run at start-up; safe to race with other instances.
    pub async fn ensure_default_tier(&self) -> Result<(), Unexpected> {
        let name = self.config.default_tier.as_str();
        if self.ports.tiers.find(name).await?.is_some() {
            return Ok(());
        }
        let now = self.ports.clock.now();
        let tier = Tier {
            name: name.to_owned(),
            description: "The default tier".into(),
            limits: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        match self.ports.tiers.create(&tier).await {
            Ok(()) => {
                tracing::info!(tier = %name, "created the default tier");
                Ok(())
            }
            Err(TierError::Exists) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Every tier, by name.
    pub async fn admin_list_tiers(&self, actor: &Principal) -> Result<Vec<Tier>, AdminError> {
        require_administrator(&actor.user)?;
        Ok(self.ports.tiers.list().await.map_err(Unexpected::from)?)
    }

    /// Creates a tier.
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, tier = name))]
    pub async fn admin_create_tier(
        &self,
        actor: &Principal,
        name: &str,
        description: String,
        limits: Vec<RateLimit>,
    ) -> Result<Tier, AdminError> {
        require_administrator(&actor.user)?;
        let name =
            TierName::parse(name).map_err(|err| latch_domain::ValidationError::new("name", err.message))?;
        validate_tier_fields(&description, &limits)?;
        let now = self.ports.clock.now();
        let tier = Tier {
            name: name.as_str().to_owned(),
            description,
            limits,
            created_at: now,
            updated_at: now,
        };
        self.ports.tiers.create(&tier).await?;
        tracing::info!("tier created");
        Ok(tier)
    }

    /// Changes a tier's description and/or limits.
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, tier = name))]
    pub async fn admin_update_tier(
        &self,
        actor: &Principal,
        name: &str,
        description: Option<String>,
        limits: Option<Vec<RateLimit>>,
    ) -> Result<Tier, AdminError> {
        require_administrator(&actor.user)?;
        validate_tier_fields(
            description.as_deref().unwrap_or_default(),
            limits.as_deref().unwrap_or_default(),
        )?;
        let tier = self
            .ports
            .tiers
            .update(name, description, limits, self.ports.clock.now())
            .await?;
        tracing::info!("tier changed");
        Ok(tier)
    }

    /// Deletes a tier no user has (`TierInUse` otherwise).
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, tier = name))]
    pub async fn admin_delete_tier(&self, actor: &Principal, name: &str) -> Result<(), AdminError> {
        require_administrator(&actor.user)?;
        self.ports.tiers.delete(name).await?;
        tracing::info!("tier deleted");
        Ok(())
    }
}
