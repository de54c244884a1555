//! `TierRepository` on SQL. Limits are one JSON column: always read and
//! written whole, never queried.

use async_trait::async_trait;
use latch_domain::{RateLimit, Tier, Timestamp};
use latch_ports::{RepositoryError, TierError, TierRepository};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use crate::bounded::BoundedPool;
use crate::entities::tiers::{self, Column, Entity};
use crate::error::{foreign_key_violation, unexpected, unique_violation};
use crate::unique::unique_row;

/// Tiers in the `tiers` table; `users.tier` references them.
#[derive(Debug, Clone)]
pub struct SqlTierRepository {
    db: BoundedPool,
}

impl SqlTierRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

/// A limit as stored in the JSON column.
#[derive(Serialize, Deserialize)]
struct StoredLimit {
    path: String,
    limit: u32,
    period_seconds: u32,
}

fn limits_json(limits: &[RateLimit]) -> Result<String, RepositoryError> {
    let stored: Vec<StoredLimit> = limits
        .iter()
        .map(|l| StoredLimit {
            path: l.path.clone(),
            limit: l.limit,
            period_seconds: l.period_seconds,
        })
        .collect();
    serde_json::to_string(&stored).map_err(RepositoryError::from_source)
}

fn to_domain(row: tiers::Model) -> Result<Tier, RepositoryError> {
    let stored: Vec<StoredLimit> = serde_json::from_str(&row.limits).map_err(|err| {
        RepositoryError::with_source(format!("tier {} has malformed limits", row.name), err)
    })?;
    Ok(Tier {
        name: row.name,
        description: row.description,
        limits: stored
            .into_iter()
            .map(|l| RateLimit {
                path: l.path,
                limit: l.limit,
                period_seconds: l.period_seconds,
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[async_trait]
impl TierRepository for SqlTierRepository {
    async fn create(&self, tier: &Tier) -> Result<(), TierError> {
        let row = tiers::ActiveModel {
            name: Set(tier.name.clone()),
            description: Set(tier.description.clone()),
            limits: Set(limits_json(&tier.limits)?),
            created_at: Set(tier.created_at),
            updated_at: Set(tier.updated_at),
        };
        match row.insert(&self.db).await {
            Ok(_) => Ok(()),
            Err(err) if unique_violation(&err).is_some() => Err(TierError::Exists),
            Err(err) => Err(unexpected(err).into()),
        }
    }

    async fn list(&self) -> Result<Vec<Tier>, RepositoryError> {
        let rows = Entity::find()
            .order_by_asc(Column::Name)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        rows.into_iter().map(to_domain).collect()
    }

    async fn find(&self, name: &str) -> Result<Option<Tier>, RepositoryError> {
        let row = unique_row(Entity::find_by_id(name.to_owned()), &self.db)
            .await
            .map_err(unexpected)?;
        row.map(to_domain).transpose()
    }

    async fn update(
        &self,
        name: &str,
        description: Option<String>,
        limits: Option<Vec<RateLimit>>,
        now: Timestamp,
    ) -> Result<Tier, TierError> {
        let mut update = Entity::update_many().col_expr(Column::UpdatedAt, Expr::value(now));
        if let Some(description) = description {
            update = update.col_expr(Column::Description, Expr::value(description));
        }
        if let Some(limits) = limits {
            update = update.col_expr(Column::Limits, Expr::value(limits_json(&limits)?));
        }
        let result = update
            .filter(Column::Name.eq(name))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        if result.rows_affected == 0 {
            return Err(TierError::NotFound);
        }
        self.find(name).await?.ok_or(TierError::NotFound)
    }

    async fn delete(&self, name: &str) -> Result<(), TierError> {
        // The foreign key from `users.tier` refuses the delete while the tier is in use.
        match Entity::delete_by_id(name.to_owned()).exec(&self.db).await {
            Ok(result) if result.rows_affected == 0 => Err(TierError::NotFound),
            Ok(_) => Ok(()),
            Err(err) if foreign_key_violation(&err) => Err(TierError::InUse),
            Err(err) => Err(unexpected(err).into()),
        }
    }
}
