//! `GET /media/products/<id>/<width>.webp`: the copies of uploaded pictures, read from the picture store
//! ([`ec_platform::media`]) and served to anyone, as the catalog is.
//!
//! A key is written once and never changed (a new picture gets a new id), so every answer may be cached for a
//! year (`immutable`), and the ETag is the key itself: a revalidation is answered without reading the store.
//! Only paths a picture key could have are looked up; anything else is 404 without touching the store.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use ec_platform::media::parse_picture_path;
use object_store::{ObjectStore, ObjectStoreExt};

/// How long clients and caches may keep a copy: a year, the most HTTP caches honour.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The `/media/` routes over `store`.
pub fn routes(store: Arc<dyn ObjectStore>) -> axum::Router {
    axum::Router::new().route("/media/{*path}", get(picture)).with_state(store)
}

async fn picture(State(store): State<Arc<dyn ObjectStore>>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(key) = parse_picture_path(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = HeaderValue::from_str(&format!("\"{key}\"")).expect("a picture key is printable ASCII");
    let fixed = [
        (header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL)),
        (header::ETAG, etag.clone()),
        // The storefront is another origin; a picture is public, so any page may show it.
        (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("cross-origin")),
    ];
    let revalidating = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|tags| tags.to_str().is_ok_and(|tags| tags.split(',').any(|tag| tag.trim() == "*" || tag.trim() == etag)));
    if revalidating {
        return (StatusCode::NOT_MODIFIED, fixed).into_response();
    }
    match store.get(&key).await {
        Ok(found) => {
            let length = found.meta.size;
            let body = Body::from_stream(found.into_stream());
            let typed = [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/webp")),
                (header::CONTENT_LENGTH, HeaderValue::from(length)),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ];
            (fixed, typed, body).into_response()
        }
        Err(object_store::Error::NotFound { .. }) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, %key, "the picture store cannot be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
