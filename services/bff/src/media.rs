//! `GET /media/products/<id>/<width>.webp`: the copies of uploaded pictures, read from the picture store
//! ([`ec_platform::media`]) and served to anyone, as the catalog is.
//!
//! A key is written once and never changed (a new picture gets a new id), so every answer may be cached for a
//! year (`immutable`), and the ETag is the key itself: a revalidation is answered without reading the store.
//! Only paths a picture key could have are looked up; anything else is 404 without touching the store. What
//! does reach the store takes a token from the client IP's bucket (`RATE_MEDIA_*`), so made-up keys cannot
//! be sent to it faster than that; beyond it, 429 with `Retry-After`.
//!
//! Uploads come the other way, as `UploadProductImage`, the one procedure whose body may be 10 MiB. Its body
//! is read (and decompressed) before the route's policy runs, so [`guard_uploads`] checks first, from the
//! headers alone, that the caller holds a valid admin token with the `backoffice` scope (the route's policy
//! then checks it all again, revocations included), and lets only a few uploads in at once: no one else can
//! make the BFF read megabytes.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use ec_platform::{claims::Scope, media::parse_picture_path};
use ec_proto::product::v1::PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::sync::Semaphore;

use crate::{
    error::{BffError, whole_seconds},
    gate::Gate,
};

/// How many uploads the BFF reads at once (each up to 10 MiB, held while it is forwarded); more are refused
/// with 429, which clients read as `unavailable`.
const UPLOADS_AT_ONCE: usize = 4;

/// Wraps `app` so that `UploadProductImage` is refused before its body is read unless the caller's token is a
/// valid admin's with the `backoffice` scope (401 without a usable token, 403 otherwise: clients read them as
/// `unauthenticated` and `permission_denied`), and while [`UPLOADS_AT_ONCE`] uploads are being read.
pub fn guard_uploads(app: axum::Router, gate: Arc<Gate>) -> axum::Router {
    let permits = Arc::new(Semaphore::new(UPLOADS_AT_ONCE));
    app.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        let (gate, permits) = (gate.clone(), permits.clone());
        async move {
            if request.uri().path() != PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC.procedure {
                return next.run(request).await;
            }
            let verified = match &gate.authenticator {
                Some(authenticator) => authenticator.token(request.headers()).await.ok().flatten(),
                None => None,
            };
            match verified {
                None => return StatusCode::UNAUTHORIZED.into_response(),
                Some(token) if !(token.caller.is_admin() && Scope::Backoffice.granted_in(&token.scopes)) => {
                    return StatusCode::FORBIDDEN.into_response();
                }
                Some(_) => {}
            }
            let Ok(_permit) = permits.try_acquire_owned() else {
                return StatusCode::TOO_MANY_REQUESTS.into_response();
            };
            next.run(request).await
        }
    }))
}

/// How long clients and caches may keep a copy: a year, the most HTTP caches honour.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The `/media/` routes over `store`, limited by `gate`'s picture-read buckets.
pub fn routes(store: Arc<dyn ObjectStore>, gate: Arc<Gate>) -> axum::Router {
    axum::Router::new().route("/media/{*path}", get(picture)).with_state((store, gate))
}

async fn picture(
    State((store, gate)): State<(Arc<dyn ObjectStore>, Arc<Gate>)>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    let headers = request.headers();
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
    // Every connection the platform's servers accept carries its peer's address.
    let Some(&ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        tracing::error!("a picture read came without its peer's address; refused, as it cannot be limited");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Err(BffError::RateLimited { retry_after }) = gate.media_read(peer, headers).await {
        let refused = [
            (header::RETRY_AFTER, HeaderValue::from(whole_seconds(retry_after))),
            // This client's answer, for now: no cache in between may keep it for others.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ];
        return (StatusCode::TOO_MANY_REQUESTS, refused).into_response();
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
        // Not cached for long: the key may be one whose upload is still being written.
        Err(object_store::Error::NotFound { .. }) => {
            (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"))])
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, %key, "the picture store cannot be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
