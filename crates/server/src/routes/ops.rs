//! Health and demo-only endpoints.

use axum::Json;
use axum::extract::State;
use carebill_api::ErrorCode;
use carebill_api::types::{Health, Mail};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::from_ms;

pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state
        .db
        .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        demo: state.config.demo,
    }))
}

/// Demo only: the outbox as a mailbox.
pub async fn dev_mailbox(State(state): State<AppState>) -> ApiResult<Json<Vec<Mail>>> {
    if !state.config.demo {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let mails = state
        .db
        .read(|conn| {
            let mut stmt =
                conn.prepare("SELECT to_addr, subject, body, created_at FROM outbox ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Mail {
                    to: r.get(0)?,
                    subject: r.get(1)?,
                    body: r.get(2)?,
                    sent_at: from_ms(r.get(3)?),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(mails))
}
