//! Bills and the change feed.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::types::{BillDetail, BillFilter, BillPage, Change, SyncEntity, SyncOp, SyncPage};
use carebill_api::{DEFAULT_BILLS_PAGE, ErrorCode, MAX_BILLS_PAGE, MAX_SYNC_PAGE};

use crate::auth::Authed;
use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::ClientAddr;
use crate::state::AppState;
use crate::store::{self, PRUNED_THROUGH_KEY, setting};

/// Query-string parameters, decoded; a repeated name keeps the last value.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(QueryParams(
            form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
        ))
    }
}

impl QueryParams {
    /// The `limit` of a list request: 1 to `MAX_BILLS_PAGE`, `DEFAULT_BILLS_PAGE` when absent.
    pub fn page_limit(&self) -> ApiResult<u32> {
        match self.0.get("limit") {
            None => Ok(DEFAULT_BILLS_PAGE),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_BILLS_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(
                        "/limit",
                        format!("limit must be a whole number from 1 to {MAX_BILLS_PAGE}."),
                    )
                }),
        }
    }

    /// A list's `cursor` (made for `context`) carrying a sort key and an id, `None` when absent.
    pub fn pair_cursor(&self, state: &AppState, context: &str) -> ApiResult<Option<(String, String)>> {
        let Some(c) = self.0.get("cursor").filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let invalid = || ApiError::new(ErrorCode::InvalidCursor);
        let bytes = cursor::decode(&state.secret, context, c).ok_or_else(invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (key, id) = text.split_once('|').ok_or_else(invalid)?;
        Ok(Some((key.to_string(), id.to_string())))
    }
}

pub async fn list_bills(State(state): State<AppState>, who: Authed, params: QueryParams) -> ApiResult<Response> {
    let filter = match params.0.get("status").map(String::as_str) {
        None | Some("open") => BillFilter::Open,
        Some("paid") => BillFilter::Paid,
        Some("all") => BillFilter::All,
        Some(_) => {
            return Err(ApiError::validation("/status", "status must be open, paid or all."));
        }
    };
    let limit = params.page_limit()?;
    let context = format!("bills:{}", who.member_id);
    let after = params.pair_cursor(&state, &context)?;
    let member_id = who.member_id.clone();
    let cache_key = format!(
        "{member_id}|{filter:?}|{limit}|{}",
        params.0.get("cursor").map_or("", String::as_str)
    );
    let st = state.clone();
    let body = state
        .db
        .read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let version = store::member_version(&tx, &member_id)?;
            if let Some(body) = st.bill_pages.get(&cache_key, version) {
                return Ok(body);
            }
            let (data, has_more) = store::list_bills(&tx, &member_id, filter, after, limit)?;
            let next_cursor = match data.last() {
                Some(last) if has_more => {
                    let payload = format!("{}|{}", last.due_date.format("%Y-%m-%d"), last.id);
                    Some(cursor::encode(&st.secret, &context, payload.as_bytes()))
                }
                _ => None,
            };
            let body = Bytes::from(
                serde_json::to_vec(&BillPage {
                    data,
                    next_cursor,
                    has_more,
                })
                .map_err(|e| ApiError::internal(e.to_string()))?,
            );
            st.bill_pages.put(cache_key, version, body.clone());
            Ok(body)
        })
        .await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

pub async fn get_bill(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<BillDetail>> {
    let member_id = who.member_id.clone();
    let bill_id = id.clone();
    let detail = state
        .db
        .read(move |conn| store::bill_detail(conn, &member_id, &bill_id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::BillNotFound))?;
    state.audit(Some(who.account_id), "bill_viewed", Some(&client), Some(id));
    Ok(Json(detail))
}

pub async fn sync(
    State(state): State<AppState>,
    who: Authed,
    QueryParams(q): QueryParams,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let context = format!("sync:{}", who.member_id);
    let after: i64 = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => {
            let bytes =
                cursor::decode(&state.secret, &context, c).ok_or_else(|| ApiError::new(ErrorCode::InvalidCursor))?;
            let arr: [u8; 8] = bytes.try_into().map_err(|_| ApiError::new(ErrorCode::InvalidCursor))?;
            i64::from_be_bytes(arr)
        }
    };
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().trim_start_matches("W/").to_string());
    let member_id = who.member_id.clone();
    let (today, cal) = (state.business.today(), *state.business.calendar());
    let page = state
        .db
        .read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let latest: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE member_id = ?1",
                [&member_id],
                |r| r.get(0),
            )?;
            let pruned: i64 = setting(&tx, PRUNED_THROUGH_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(0);
            if after > 0 && after < pruned {
                return Err(ApiError::new(ErrorCode::CursorExpired));
            }
            if if_none_match.as_deref() == Some(&format!("\"{latest}\"")) {
                return Ok((latest, None));
            }
            let mut stmt = tx.prepare_cached(
                "SELECT seq, entity, entity_id, op FROM changes WHERE member_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(rusqlite::params![member_id, after, MAX_SYNC_PAGE as i64 + 1], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let has_more = rows.len() > MAX_SYNC_PAGE;
            let rows = &rows[..rows.len().min(MAX_SYNC_PAGE)];
            let through = rows.last().map_or(after, |r| r.0);
            let mut bills = store::bill_details_in_changes(&tx, &member_id, after, through)?;
            let mut payments = crate::store::payments::payments_in_changes(&tx, &member_id, after, through)?;
            let to_value = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| ApiError::internal(e.to_string()));
            let mut changes = Vec::with_capacity(rows.len());
            for (_, entity, id, op) in rows {
                let entity = SyncEntity::parse(entity).ok_or_else(|| ApiError::internal(format!("change entity {entity}")))?;
                let op = if op == "delete" { SyncOp::Delete } else { SyncOp::Upsert };
                let data = match (entity, op) {
                    (_, SyncOp::Delete) => None,
                    (SyncEntity::Bill, SyncOp::Upsert) => match bills.remove(id) {
                        Some(detail) => Some(to_value(serde_json::to_value(detail))?),
                        None => continue,
                    },
                    (SyncEntity::Payment, SyncOp::Upsert) => match payments.remove(id) {
                        Some(p) => Some(to_value(serde_json::to_value(p))?),
                        None => continue,
                    },
                    (SyncEntity::PaymentMethod, SyncOp::Upsert) => match crate::store::methods::load_method(&tx, &member_id, id)? {
                        Some(m) => Some(to_value(serde_json::to_value(m))?),
                        None => continue,
                    },
                    (SyncEntity::Autopay, SyncOp::Upsert) => match crate::autopay::view(&tx, &member_id, today, &cal)? {
                        Some(a) => Some(to_value(serde_json::to_value(a))?),
                        None => continue,
                    },
                };
                changes.push(Change { entity, op, id: id.clone(), data });
            }
            Ok((latest, Some((changes, through, has_more))))
        })
        .await?;
    let (latest, page) = page;
    let etag = HeaderValue::from_str(&format!("\"{latest}\"")).map_err(|e| ApiError::internal(e.to_string()))?;
    let Some((changes, through, has_more)) = page else {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag);
        return Ok(response);
    };
    let next_cursor = cursor::encode(&state.secret, &context, &through.to_be_bytes());
    let mut response = Json(SyncPage {
        changes,
        next_cursor,
        has_more,
    })
    .into_response();
    response.headers_mut().insert(header::ETAG, etag);
    Ok(response)
}
