//! `AuditLog` on SQL.

use async_trait::async_trait;
use latch_domain::{AuditAction, AuditEvent, UserId};
use latch_ports::{AuditLog, AuditPage, RepositoryError};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::bounded::BoundedPool;
use crate::entities::audit_events::{self, Column, Entity};
use crate::error::unexpected;

/// The audit trail in `audit_events`.
#[derive(Debug, Clone)]
pub struct SqlAuditLog {
    db: BoundedPool,
}

impl SqlAuditLog {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

fn to_domain(row: audit_events::Model) -> Result<AuditEvent, RepositoryError> {
    let action = AuditAction::parse(&row.action).ok_or_else(|| {
        RepositoryError::new(format!(
            "audit event {} has unknown action {:?}",
            row.id, row.action
        ))
    })?;
    Ok(AuditEvent {
        id: row.id,
        at: row.at,
        action,
        actor_id: row.actor_id.map(UserId),
        target_id: row.target_id.map(UserId),
        ip: row.ip,
        user_agent: row.user_agent,
    })
}

#[async_trait]
impl AuditLog for SqlAuditLog {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepositoryError> {
        let row = audit_events::ActiveModel {
            id: Set(event.id),
            at: Set(event.at),
            action: Set(event.action.as_str().to_owned()),
            actor_id: Set(event.actor_id.map(|u| u.0)),
            target_id: Set(event.target_id.map(|u| u.0)),
            ip: Set(event.ip.clone()),
            user_agent: Set(event.user_agent.clone()),
        };
        row.insert(&self.db).await.map_err(unexpected)?;
        Ok(())
    }

    async fn list(
        &self,
        user: Option<UserId>,
        page: u64,
        per_page: u64,
    ) -> Result<AuditPage, RepositoryError> {
        let mut select = Entity::find();
        if let Some(user) = user {
            select = select.filter(
                Condition::any()
                    .add(Column::ActorId.eq(user.0))
                    .add(Column::TargetId.eq(user.0)),
            );
        }
        let total = select.clone().count(&self.db).await.map_err(unexpected)?;
        let rows = select
            .order_by_desc(Column::At)
            .order_by_desc(Column::Id)
            .offset(page.saturating_sub(1).saturating_mul(per_page))
            .limit(per_page)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(AuditPage {
            items: rows.into_iter().map(to_domain).collect::<Result<_, _>>()?,
            total,
        })
    }
}
