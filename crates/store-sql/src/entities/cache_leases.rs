use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cache_leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance: Uuid,
    pub applied_version: i64,
    pub ends_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
