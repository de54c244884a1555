//! `SigningKeyRepository` on SQL. The compare and swap of `activate` is one
//! transaction: retire the expected key (its row lock orders two rotations),
//! then insert the new one, which the unique index on `active` admits only
//! while no other key is active.

use async_trait::async_trait;
use latch_domain::Timestamp;
use latch_ports::{ActivateKeyError, RepositoryError, SigningKeyRepository, StoredSigningKey};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::bounded::BoundedPool;
use crate::entities::signing_keys::{self, Column, Entity};
use crate::error::{unexpected, unique_violation};

/// The key ring in `signing_keys`.
#[derive(Debug, Clone)]
pub struct SqlSigningKeyRepository {
    db: BoundedPool,
}

impl SqlSigningKeyRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

fn to_port(row: signing_keys::Model) -> StoredSigningKey {
    StoredSigningKey {
        kid: row.kid,
        algorithm: row.algorithm,
        public_jwk: row.public_jwk,
        sealed_private_key: row.sealed_private_key,
        created_at: row.created_at,
        retired_at: row.retired_at,
    }
}

#[async_trait]
impl SigningKeyRepository for SqlSigningKeyRepository {
    async fn list(&self) -> Result<Vec<StoredSigningKey>, RepositoryError> {
        let rows = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Kid)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(rows.into_iter().map(to_port).collect())
    }

    async fn activate(
        &self,
        key: &StoredSigningKey,
        replacing: Option<&str>,
    ) -> Result<(), ActivateKeyError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        if let Some(kid) = replacing {
            let retired = Entity::update_many()
                .col_expr(Column::Active, Expr::value(Option::<bool>::None))
                .col_expr(Column::RetiredAt, Expr::value(key.created_at))
                .filter(Column::Kid.eq(kid))
                .filter(Column::Active.eq(true))
                .exec(&txn)
                .await
                .map_err(unexpected)?;
            if retired.rows_affected == 0 {
                txn.rollback().await.map_err(unexpected)?;
                return Err(ActivateKeyError::Conflict);
            }
        }
        let row = signing_keys::ActiveModel {
            kid: Set(key.kid.clone()),
            algorithm: Set(key.algorithm.clone()),
            public_jwk: Set(key.public_jwk.clone()),
            sealed_private_key: Set(key.sealed_private_key.clone()),
            created_at: Set(key.created_at),
            retired_at: Set(None),
            active: Set(Some(true)),
        };
        match row.insert(&txn).await {
            Ok(_) => {}
            // Another key is active (the caller's view was stale) or the kid exists.
            Err(err) if unique_violation(&err).is_some() => return Err(ActivateKeyError::Conflict),
            Err(err) => return Err(unexpected(err).into()),
        }
        txn.commit().await.map_err(unexpected)?;
        Ok(())
    }

    async fn delete_retired_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let deleted = Entity::delete_many()
            .filter(Column::Active.is_null())
            .filter(Column::RetiredAt.lt(cutoff))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}
