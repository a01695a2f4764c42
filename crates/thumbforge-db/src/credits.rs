//! Credits. An organisation's `credits_balance` is NULL when it is not
//! metered (the default for a self-hosted server) and a number otherwise.
//!
//! A generate call is debited `count × price` before anything starts, in
//! the same transaction that stores the generation; a short balance
//! refuses it. When a generation ends, the part it did not use (failed and
//! canceled thumbnails) is refunded, in the same transaction as the status
//! change that ends it: that change applies once (only over `processing`),
//! so the refund does too. Orgs' own provider keys cost nothing.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, EntityTrait, Value};
use thumbforge_core::{GenerateRequest, ProviderChoice};

use crate::{
    Db, DbError,
    entities::{generations, organizations},
    sql::stmt,
};

/// Credits a request costs, at `unit` credits per thumbnail.
pub fn credits_for(unit: u32, request: &GenerateRequest) -> i32 {
    price(
        unit,
        matches!(request.provider, ProviderChoice::Platform),
        u32::from(request.count.get()),
    )
}

/// The price of `count` thumbnails: the model's price per thumbnail
/// (`unit`) on the platform's keys, nothing on the org's own key.
pub fn price(unit: u32, on_platform: bool, count: u32) -> i32 {
    if on_platform {
        // The catalogue caps `unit` (`MAX_CREDITS`); saturate all the same.
        i32::try_from(unit.saturating_mul(count)).unwrap_or(i32::MAX)
    } else {
        0
    }
}

/// Takes `amount` from the org's balance if it has that much (an unmetered
/// org always has). False when the balance is short.
pub async fn debit<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    amount: i64,
) -> Result<bool, DbError> {
    if amount <= 0 {
        return Ok(true);
    }
    let result = conn
        .execute_raw(stmt(
            conn.get_database_backend(),
            "UPDATE organizations SET credits_balance = credits_balance - $1 \
             WHERE id = $2 AND (credits_balance IS NULL OR credits_balance >= $3)",
            vec![amount.into(), org_id.into(), amount.into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Gives `amount` back (no-op for an unmetered org).
pub async fn credit<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    amount: i64,
) -> Result<(), DbError> {
    if amount <= 0 {
        return Ok(());
    }
    conn.execute_raw(stmt(
        conn.get_database_backend(),
        "UPDATE organizations SET credits_balance = credits_balance + $1 \
         WHERE id = $2 AND credits_balance IS NOT NULL",
        vec![amount.into(), org_id.into()],
    ))
    .await?;
    Ok(())
}

/// The org's balance: `Some(None)` when unmetered, `None` when no such org.
pub async fn balance(db: &Db, org_id: &str) -> Result<Option<Option<i64>>, DbError> {
    Ok(organizations::Entity::find_by_id(org_id.to_owned())
        .one(db.conn())
        .await?
        .map(|o| o.credits_balance))
}

/// Sets the balance (`None`: unmetered).
pub async fn set_balance(db: &Db, org_id: &str, balance: Option<i64>) -> Result<(), DbError> {
    db.conn()
        .execute_raw(stmt(
            db.conn().get_database_backend(),
            "UPDATE organizations SET credits_balance = $1 WHERE id = $2",
            vec![Value::BigInt(balance), org_id.into()],
        ))
        .await?;
    Ok(())
}

/// Refunds what generations that just ended did not use: `ended` are the
/// rows this caller moved out of `processing` (as they were before the
/// refund), `succeeded` how many thumbnails of each succeeded. Run it in
/// the transaction that ended them.
pub async fn refund_ended<C: ConnectionTrait>(
    conn: &C,
    ended: &[generations::Model],
    succeeded: &HashMap<String, i32>,
) -> Result<(), DbError> {
    let backend = conn.get_database_backend();
    let mut by_org: HashMap<&str, i64> = HashMap::new();
    for generation in ended {
        let used = succeeded.get(&generation.id).copied().unwrap_or(0);
        let count = generation.count.max(1);
        let unused = (count - used).clamp(0, count);
        let refund = i64::from(generation.credits_consumed) * i64::from(unused) / i64::from(count);
        if refund == 0 {
            continue;
        }
        conn.execute_raw(stmt(
            backend,
            "UPDATE generations SET credits_consumed = credits_consumed - $1 WHERE id = $2",
            vec![refund.into(), generation.id.clone().into()],
        ))
        .await?;
        *by_org.entry(generation.org_id.as_str()).or_default() += refund;
    }
    for (org_id, refund) in by_org {
        credit(conn, org_id, refund).await?;
    }
    Ok(())
}
