//! Bills and the change feed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::ErrorCode;
use carebill_api::types::{BillDetail, BillFilter, BillPage, SyncPage};

use crate::auth::Authed;
use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::ClientAddr;
use crate::extract::QueryParams;
use crate::feed;
use crate::state::AppState;
use crate::store::{self};

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
            conn.snapshot(|tx| {
                let version = store::member_version(tx, &member_id)?;
                if let Some(body) = st.bill_pages.get(&cache_key, version) {
                    return Ok(body);
                }
                let (data, has_more) = store::list_bills(tx, &member_id, filter, after, limit)?;
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
            })?
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
        .read(move |conn| feed::page(conn, &member_id, after, if_none_match.as_deref(), today, &cal))
        .await?;
    let (latest, page) = page;
    let etag = HeaderValue::from_str(&format!("\"{latest}\"")).map_err(|e| ApiError::internal(e.to_string()))?;
    let Some(feed::FeedPage {
        changes,
        through,
        has_more,
    }) = page
    else {
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
