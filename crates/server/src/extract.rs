//! Request extractors that answer in the API's error envelope.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use carebill_api::{DEFAULT_BILLS_PAGE, ErrorCode, MAX_BILLS_PAGE};
use serde::de::DeserializeOwned;

use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A JSON body: at most 64 KiB (413), `application/json` (415), well-formed (400 `invalid_json`),
/// of the right shape (422 `validation_failed` with a JSON Pointer to the field).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body_bytes;
        let headers = req.headers();
        let too_large = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > limit);
        if too_large {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge));
        }
        let is_json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
        }
        // The request time limit (routes::time_limit) bounds how long the body may take.
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a request body, turning serde's complaints into field-level errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| ApiError::new(ErrorCode::InvalidJson))?;
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut pointer = String::new();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                }
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let inner = e.inner().to_string();
        let named = inner.split('`').nth(1).map(str::to_string);
        let (field, message) = if inner.starts_with("missing field") {
            let name = named.unwrap_or_default();
            (format!("{pointer}/{name}"), format!("\"{name}\" is required."))
        } else if inner.starts_with("unknown field") {
            let name = named.unwrap_or_default();
            let suffix = format!("/{name}");
            let field = if pointer.ends_with(&suffix) {
                pointer.clone()
            } else {
                format!("{pointer}{suffix}")
            };
            (field, format!("\"{name}\" is not a field of this request."))
        } else if pointer.is_empty() {
            (
                String::new(),
                "The request body must be a JSON object with the documented fields.".to_string(),
            )
        } else {
            let name = pointer.rsplit('/').next().unwrap_or_default().to_string();
            let detail = inner.split(" at line").next().unwrap_or(&inner);
            (
                pointer.clone(),
                format!("\"{name}\" has the wrong type or value ({detail})."),
            )
        };
        ApiError::validation(&field, message)
    })
}

/// The client's network address, for throttling and the audit log: the peer's address, or, when
/// the peer is one of the configured `trusted_proxies`, the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy. `X-Forwarded-For` from anyone else is ignored.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        let trusted = &state.config.trusted_proxies;
        // The headers are read only when a trusted proxy sent them.
        let forwarded = if peer.is_some_and(|p| trusted.contains(&p)) {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",")
        } else {
            String::new()
        };
        Ok(ClientAddr(
            client_ip(peer, &forwarded, trusted).map_or_else(|| "unknown".into(), |ip| ip.to_string()),
        ))
    }
}

/// See [`ClientAddr`]. A malformed entry in a trusted chain stops the walk at the last trusted
/// hop (the proxy's own view), never at something a client wrote.
pub fn client_ip(peer: Option<IpAddr>, forwarded: &str, trusted: &[IpAddr]) -> Option<IpAddr> {
    let mut ip = peer?;
    if !trusted.contains(&ip) {
        return Some(ip);
    }
    for hop in forwarded.rsplit(',').map(str::trim).filter(|h| !h.is_empty()) {
        let Ok(hop) = hop.parse::<IpAddr>() else { break };
        ip = hop;
        if !trusted.contains(&ip) {
            break;
        }
    }
    Some(ip)
}

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

    /// A list's `cursor` whose sort key is an instant (milliseconds) and an id.
    pub fn instant_cursor(&self, state: &AppState, context: &str) -> ApiResult<Option<(i64, String)>> {
        match self.pair_cursor(state, context)? {
            None => Ok(None),
            Some((at, id)) => Ok(Some((
                at.parse::<i64>().map_err(|_| ApiError::new(ErrorCode::InvalidCursor))?,
                id,
            ))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use carebill_api::types::CreateSessionRequest;

    /// Review finding 12: `X-Forwarded-For` counts only from a trusted proxy.
    #[test]
    fn forwarded_addresses_are_read_only_from_trusted_proxies() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // Untrusted peer: its own address, whatever it claims.
        assert_eq!(client_ip(ip("192.0.2.7"), "198.51.100.1", &[proxy]), ip("192.0.2.7"));
        // No proxies configured: the peer.
        assert_eq!(client_ip(ip("127.0.0.1"), "198.51.100.1", &[]), ip("127.0.0.1"));
        // Trusted proxy: the right-most address it did not add itself.
        assert_eq!(
            client_ip(ip("127.0.0.1"), "203.0.113.9, 198.51.100.1", &[proxy]),
            ip("198.51.100.1")
        );
        // A chain of trusted proxies is walked; a spoofed left part is never reached.
        let inner: IpAddr = "192.0.2.254".parse().unwrap();
        assert_eq!(
            client_ip(ip("127.0.0.1"), "6.6.6.6, 198.51.100.1, 192.0.2.254", &[proxy, inner]),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(client_ip(ip("127.0.0.1"), "not-an-ip", &[proxy]), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), "", &[proxy]), ip("127.0.0.1"));
    }

    #[test]
    fn shape_errors_point_at_the_field() {
        let e = parse_json::<CreateSessionRequest>(br#"{"login": 5, "password": "x"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::ValidationFailed, Some("/login"))
        );
        let e = parse_json::<CreateSessionRequest>(br#"{"password": "x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("/login"));
        let e = parse_json::<CreateSessionRequest>(br#"{"login": "a", "password": "x", "admin": true}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("/admin"));
        let e = parse_json::<CreateSessionRequest>(br#"{"login": "a""#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let e = parse_json::<CreateSessionRequest>(br#"[1]"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed);
    }
}
