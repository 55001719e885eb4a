//! `GET /v1/plan`: the plan's own facts, public and the same for everyone.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The plan's document as JSON, with its `ETag`; answers `If-None-Match` with 304. Public and
/// cacheable for five minutes: it changes only when the plan edits its config and restarts.
pub async fn get_plan(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let served = &state.plan;
    let cache = [
        (header::ETAG, served.etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
    ];
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == served.etag
        });
    if unchanged {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        served.body.clone(),
    )
        .into_response()
}
