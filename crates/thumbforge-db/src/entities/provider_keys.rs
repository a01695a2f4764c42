use sea_orm::entity::prelude::*;

/// An organisation's own key for one provider, sealed with the server
/// secret. The plaintext is never stored nor returned.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// base64(nonce || ciphertext).
    #[sea_orm(column_type = "Text")]
    pub sealed: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
