#![doc = include_str!("../README.md")]

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261130_000002_references_and_keys;
mod m20261130_000003_credits_and_idempotency;
mod m20261130_000004_flokan_fields;
mod m20261130_000005_webhooks;
mod m20261130_000006_styles;
mod m20261130_000007_operator_actions;
mod m20261130_000008_unsettled_generations;
mod m20261130_000009_open_thumbnails;
mod m20261130_000010_submit_without_foreign_keys;
mod m20261203_000011_foreign_keys_back;
mod m20261203_000012_end_reasons;
mod m20261210_000013_output_formats;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261130_000002_references_and_keys::Migration),
            Box::new(m20261130_000003_credits_and_idempotency::Migration),
            Box::new(m20261130_000004_flokan_fields::Migration),
            Box::new(m20261130_000005_webhooks::Migration),
            Box::new(m20261130_000006_styles::Migration),
            Box::new(m20261130_000007_operator_actions::Migration),
            Box::new(m20261130_000008_unsettled_generations::Migration),
            Box::new(m20261130_000009_open_thumbnails::Migration),
            Box::new(m20261130_000010_submit_without_foreign_keys::Migration),
            Box::new(m20261203_000011_foreign_keys_back::Migration),
            Box::new(m20261203_000012_end_reasons::Migration),
            Box::new(m20261210_000013_output_formats::Migration),
        ]
    }
}
