#![doc = include_str!("../README.md")]

pub mod admin;
pub mod assets;
pub mod batch;
mod connection;
pub mod credits;
pub mod crypto;
pub mod entities;
mod error;
pub mod generations;
pub mod idempotency;
pub mod keys;
pub mod lifecycle;
pub mod orgs;
pub mod provider_keys;
pub mod retention;
mod sql;
pub mod styles;
pub mod thumbnails;
pub mod webhooks;

pub use connection::{Db, now_ms};
pub use error::DbError;
pub use sea_orm::DatabaseConnection;
