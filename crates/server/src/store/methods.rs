//! Saved payment methods: display fields only (the processor holds the instrument).

use crate::sql::{OptionalExtension, params};
use carebill_api::ErrorCode;
use carebill_api::types::{Funding, PaymentMethod, PaymentMethodType, SyncEntity, SyncOp};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::ids::random_id;
use crate::processor::Instrument;
use crate::store::{from_ms, ms, touch};

const METHOD_COLUMNS: &str =
    "id, kind, brand, funding, last4, exp_month, exp_year, bank_name, account_type, holder_name, created_at";

/// A card's funding as stored (`credit`, `debit`, `hsa_fsa`); anything else is not shown.
pub(crate) fn funding_from_text(text: Option<String>) -> Option<Funding> {
    text.and_then(|f| serde_json::from_value(json!(f)).ok())
}

/// A card's funding as stored.
pub(crate) fn funding_text(funding: Option<Funding>) -> Option<String> {
    funding.and_then(|f| json!(f).as_str().map(str::to_string))
}

fn method_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<PaymentMethod> {
    let kind: String = r.get(1)?;
    let account_type: Option<String> = r.get(8)?;
    Ok(PaymentMethod {
        id: r.get(0)?,
        kind: PaymentMethodType::parse(&kind).unwrap_or(PaymentMethodType::Card),
        brand: r.get(2)?,
        funding: funding_from_text(r.get(3)?),
        last4: r.get(4)?,
        exp_month: r.get(5)?,
        exp_year: r.get(6)?,
        bank_name: r.get(7)?,
        account_type: account_type.and_then(|a| serde_json::from_value(json!(a)).ok()),
        holder_name: r.get(9)?,
        created_at: from_ms(r.get(10)?),
    })
}

pub fn load_method(conn: &crate::sql::Connection, member_id: &str, id: &str) -> ApiResult<Option<PaymentMethod>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {METHOD_COLUMNS} FROM payment_methods WHERE id = ?1 AND member_id = ?2 AND deleted_at IS NULL"
        ))?
        .query_row(params![id, member_id], method_from_row)
        .optional()?)
}

/// A method of the member's even if they removed it, and whether they did (for telling them a
/// scheduled charge will not find it).
pub fn load_method_even_removed(
    conn: &crate::sql::Connection,
    member_id: &str,
    id: &str,
) -> ApiResult<Option<(PaymentMethod, bool)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {METHOD_COLUMNS}, deleted_at IS NOT NULL FROM payment_methods WHERE id = ?1 AND member_id = ?2"
        ))?
        .query_row(params![id, member_id], |r| {
            Ok((method_from_row(r)?, r.get::<_, bool>(11)?))
        })
        .optional()?)
}

/// The member's saved methods, oldest first.
pub fn list_methods(conn: &crate::sql::Connection, member_id: &str) -> ApiResult<Vec<PaymentMethod>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {METHOD_COLUMNS} FROM payment_methods WHERE member_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([member_id], method_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Saves a method from an attached instrument; the same card or account twice is one method.
pub fn save_method(
    tx: &crate::sql::Connection,
    member_id: &str,
    instrument: &Instrument,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<(bool, PaymentMethod)> {
    super::lock_member(tx, member_id)?;
    let d = &instrument.details;
    let existing: Option<String> = tx
        .query_row(
            "SELECT id FROM payment_methods WHERE member_id = ?1 AND fingerprint = ?2 AND deleted_at IS NULL",
            params![member_id, d.fingerprint.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        let method = load_method(tx, member_id, &id)?.ok_or_else(|| ApiError::internal("method vanished"))?;
        return Ok((false, method));
    }
    let id = random_id(&mut rand::thread_rng(), "pm");
    let json_str = |v: serde_json::Value| v.as_str().map(str::to_string);
    tx.execute(
        "INSERT INTO payment_methods (id, member_id, processor_ref, fingerprint, kind, brand, funding, last4, exp_month, exp_year,
            bank_name, account_type, holder_name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            id,
            member_id,
            instrument.id,
            d.fingerprint.as_bytes(),
            d.kind.as_str(),
            d.brand,
            funding_text(d.funding),
            d.last4,
            d.exp_month,
            d.exp_year,
            d.bank_name,
            d.account_type.and_then(|a| json_str(json!(a))),
            d.holder_name,
            ms(now),
        ],
    )?;
    touch(tx, member_id, SyncEntity::PaymentMethod, &id, SyncOp::Upsert, now)?;
    let method = load_method(tx, member_id, &id)?.ok_or_else(|| ApiError::internal("method vanished"))?;
    Ok((true, method))
}

/// Removes a saved method (it stays on the payments made with it). Refused while autopay, an open
/// payment plan or a scheduled payment uses it.
pub fn delete_method(tx: &crate::sql::Connection, member_id: &str, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    super::lock_member(tx, member_id)?;
    if load_method(tx, member_id, id)?.is_none() {
        return Err(ApiError::new(ErrorCode::PaymentMethodNotFound));
    }
    let used: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM autopay_rules WHERE member_id = ?1 AND payment_method_id = ?2)",
        params![member_id, id],
        |r| r.get(0),
    )?;
    if used {
        return Err(ApiError::new(ErrorCode::InUseByAutopay));
    }
    let plan: Option<String> = tx
        .query_row(
            "SELECT number FROM payment_plans WHERE member_id = ?1 AND payment_method_id = ?2
               AND status IN ('active', 'paused', 'behind')",
            params![member_id, id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(number) = plan {
        return Err(ApiError::with_message(
            ErrorCode::InUseByPaymentPlan,
            format!("This payment method pays payment plan {number}. Choose another method for the plan first."),
        ));
    }
    let scheduled: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM scheduled_payments WHERE member_id = ?1 AND payment_method_id = ?2
           AND status IN ('scheduled', 'processing'))",
        params![member_id, id],
        |r| r.get(0),
    )?;
    if scheduled {
        return Err(ApiError::new(ErrorCode::InUseByScheduledPayment));
    }
    tx.execute(
        "UPDATE payment_methods SET deleted_at = ?2 WHERE id = ?1",
        params![id, super::ms(now)],
    )?;
    super::touch(tx, member_id, SyncEntity::PaymentMethod, id, SyncOp::Delete, now)
}
