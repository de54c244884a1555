//! `find_refresh_context`: a refresh's three reads on one pooled connection.
//!
//! sqlx's pool pings every connection handed back to it (a Sync and its
//! ReadyForQuery on PostgreSQL), so each statement sea-orm runs on the pool
//! costs two round trips. Here the three reads share one connection and one
//! ping. The statements are still sea-query's, rendered once per backend, so
//! the database sees what `find_by_id` would send.

use latch_domain::TokenHash;
use latch_ports::{RefreshContext, RepositoryError};
use sea_orm::sqlx::{self, AssertSqlSafe};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryResult, QueryTrait};
use uuid::Uuid;

use super::{session_to_domain, token_to_domain};
use crate::bounded::BoundedPool;
use crate::entities::{refresh_tokens, sessions, users};
use crate::error::{from_sqlx, unexpected};
use crate::users::to_domain as user_to_domain;

/// Runs the three selects on one connection from `$pool` (a sqlx pool of
/// either backend: the statements are the same, the row types are not).
/// Evaluates to the three rows as models, `None` as soon as one is missing.
macro_rules! read_models {
    ($pool:expr, $reads:expr, $hash:expr) => {
        async {
            let driver = from_sqlx;
            let mut conn = $pool.acquire().await.map_err(driver)?;
            let token = sqlx::query(AssertSqlSafe($reads.token_by_hash.as_str()))
                .bind($hash.0.as_slice())
                .fetch_optional(&mut *conn)
                .await
                .map_err(driver)?;
            let Some(token) = token
                .map(|row| model::<refresh_tokens::Model>(row.into()))
                .transpose()?
            else {
                return Ok(None);
            };
            let session = sqlx::query(AssertSqlSafe($reads.session_by_id.as_str()))
                .bind(token.session_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(driver)?;
            let Some(session) = session
                .map(|row| model::<sessions::Model>(row.into()))
                .transpose()?
            else {
                return Ok(None);
            };
            let user = sqlx::query(AssertSqlSafe($reads.user_by_id.as_str()))
                .bind(session.user_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(driver)?;
            let user = user.map(|row| model::<users::Model>(row.into())).transpose()?;
            Ok::<_, RepositoryError>(user.map(|user| (token, session, user)))
        }
        .await
    };
}

/// A row as its entity's model, as sea-orm's own selects decode it.
fn model<M: FromQueryResult>(row: QueryResult) -> Result<M, RepositoryError> {
    M::from_query_result(&row, "").map_err(unexpected)
}

/// The three selects, in the pool's placeholder syntax.
#[derive(Debug)]
pub(super) struct ContextReads {
    token_by_hash: String,
    session_by_id: String,
    user_by_id: String,
}

impl ContextReads {
    /// Renders the selects for `backend`; the bound values only stand in for placeholders.
    pub(super) fn new(backend: DbBackend) -> Self {
        Self {
            token_by_hash: refresh_tokens::Entity::find()
                .filter(refresh_tokens::Column::TokenHash.eq(Vec::<u8>::new()))
                .build(backend)
                .sql,
            session_by_id: sessions::Entity::find_by_id(Uuid::nil()).build(backend).sql,
            user_by_id: users::Entity::find_by_id(Uuid::nil()).build(backend).sql,
        }
    }

    /// The token with `hash`, its session and its user, read on one connection.
    pub(super) async fn read(
        &self,
        db: &BoundedPool,
        hash: &TokenHash,
    ) -> Result<Option<RefreshContext>, RepositoryError> {
        // Our pools are sqlx's on both backends, so the pool getters cannot panic here.
        let pool = db.inner();
        let models = db
            .within_pooled(async {
                match pool.get_database_backend() {
                    DbBackend::Postgres => read_models!(pool.get_postgres_connection_pool(), self, hash),
                    DbBackend::Sqlite => read_models!(pool.get_sqlite_connection_pool(), self, hash),
                    other => Err(RepositoryError::new(format!("no refresh reads for {other:?}"))),
                }
            })
            .await?;
        let Some((token, session, user)) = models else {
            return Ok(None);
        };
        Ok(Some(RefreshContext {
            token: token_to_domain(token)?,
            session: session_to_domain(session)?,
            user: user_to_domain(user),
        }))
    }
}
