//! Reading the one row a unique key names.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Select};

/// The row that a select filtered on a unique key (primary key or unique
/// column) finds, if any.
///
/// Not `Select::one`: that appends `LIMIT ?`, and SQLite re-prepares a
/// statement whose LIMIT is a bound parameter every time it runs (it plans for
/// the bound value). On an authenticated request that re-preparing was about a
/// quarter of the server's CPU. A unique key yields at most one row anyway.
pub(crate) async fn unique_row<E, C>(select: Select<E>, db: &C) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    Ok(select.all(db).await?.into_iter().next())
}
