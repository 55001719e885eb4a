//! Conversations with the billing office and their attachments.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::ErrorCode;
use carebill_api::types::{Conversation, ConversationPage, NewConversation, NewMessage};

use super::intake::idempotency_key;
use crate::auth::Authed;
use crate::conversations;
use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody, QueryParams};
use crate::state::AppState;

fn answer(made: bool, c: Conversation) -> Response {
    let status = if made { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(c)).into_response()
}

pub async fn list_conversations(
    State(state): State<AppState>,
    who: Authed,
    params: QueryParams,
) -> ApiResult<Json<ConversationPage>> {
    let limit = params.page_limit()?;
    let context = format!("conversations:{}", who.member_id);
    let after = params.instant_cursor(&state, &context)?;
    let member_id = who.member_id.clone();
    let (data, has_more) = state
        .db
        .read(move |conn| conversations::list(conn, &member_id, after, limit))
        .await?;
    let next_cursor = match data.last() {
        Some(last) if has_more => Some(cursor::encode(
            &state.secret,
            &context,
            format!("{}|{}", last.created_at.timestamp_millis(), last.id).as_bytes(),
        )),
        _ => None,
    };
    Ok(Json(ConversationPage {
        data,
        next_cursor,
        has_more,
    }))
}

pub async fn create_conversation(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    JsonBody(req): JsonBody<NewConversation>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let (member_id, now) = (who.member_id.clone(), state.now());
    let (made, c) = state
        .db
        .transaction(move |tx| conversations::create(tx, &member_id, &key, &req, now))
        .await?;
    if made {
        state.audit(
            Some(who.account_id),
            "conversation_started",
            None,
            Some(c.reference.clone()),
        );
    }
    Ok(answer(made, c))
}

pub async fn get_conversation(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    let member_id = who.member_id.clone();
    state
        .db
        .read(move |conn| conversations::get(conn, &member_id, &id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::ConversationNotFound))
}

pub async fn create_message(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<NewMessage>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let (member_id, now) = (who.member_id.clone(), state.now());
    let (made, c) = state
        .db
        .transaction(move |tx| conversations::reply(tx, &member_id, &id, &key, &req, now))
        .await?;
    if made {
        state.audit(
            Some(who.account_id),
            "conversation_replied",
            None,
            Some(c.reference.clone()),
        );
    }
    Ok(answer(made, c))
}

pub async fn close_conversation(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    let (member_id, now) = (who.member_id.clone(), state.now());
    let c = state
        .db
        .transaction(move |tx| conversations::close(tx, &member_id, &id, now))
        .await?;
    state.audit(
        Some(who.account_id),
        "conversation_closed",
        None,
        Some(c.reference.clone()),
    );
    Ok(Json(c))
}

/// `POST /v1/attachments?file_name=`: the body is the file. A length over the limit is refused
/// before anything is read, a body that grows past it as soon as it does; what arrives is
/// checked by its content, then stored.
pub async fn upload_attachment(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    params: QueryParams,
    request: Request,
) -> ApiResult<Response> {
    let key = idempotency_key(request.headers())?;
    let file_name = conversations::check_file_name(params.0.get("file_name").map_or("", String::as_str))?;
    let limit = state.config.max_attachment_bytes;
    let bytes = receive_file(&state, request).await?;
    let kind = conversations::check_file(&bytes, limit)?;
    let (member_id, now) = (who.member_id.clone(), state.now());
    let (made, a) = state
        .db
        .transaction(move |tx| {
            conversations::store_attachment(tx, &member_id, &key, &file_name, kind, &bytes, None, now)
        })
        .await?;
    if made {
        state.audit(
            Some(who.account_id),
            "attachment_uploaded",
            Some(&client),
            Some(a.id.clone()),
        );
    }
    let status = if made { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(a)).into_response())
}

/// An uploaded file's bytes (members' and staff's uploads alike): a length over the limit is
/// refused before anything is read, a body that grows past it as soon as it does, and at most
/// `max_concurrent_uploads` are received at once (each holds its bytes until checked).
pub(super) async fn receive_file(state: &AppState, request: Request) -> ApiResult<axum::body::Bytes> {
    let limit = state.config.max_attachment_bytes;
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit);
    if too_large {
        return Err(ApiError::new(ErrorCode::AttachmentTooLarge));
    }
    let _receiving = state
        .uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::new(ErrorCode::RateLimited).retry_after(5))?;
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::new(ErrorCode::AttachmentTooLarge))
}

/// A downloaded attachment: the type its content is, a download never shown inline.
pub(super) fn file_response(a: &carebill_api::types::Attachment, bytes: Vec<u8>) -> Response {
    // The name is letters, digits, spaces and `._()-` (checked on upload): safe in quotes.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", a.file_name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(a.kind.media_type())),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /v1/attachments/{id}`: the member's file, as a download of the type its content is.
pub async fn get_attachment(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let member_id = who.member_id.clone();
    let (a, bytes) = state
        .db
        .read(move |conn| conversations::attachment_bytes(conn, &member_id, &id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::AttachmentNotFound))?;
    state.audit(
        Some(who.account_id),
        "attachment_viewed",
        Some(&client),
        Some(a.id.clone()),
    );
    Ok(file_response(&a, bytes))
}
