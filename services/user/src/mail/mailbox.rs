//! The development mailbox: every message the platform queued, at `/dev/mail` on the login pages, so a
//! developer can read them and follow their links. Served only in development, and only when no SMTP server is
//! configured (then the `mails` table is the mailbox).

use askama::Template;
use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::queue::{self, MailRow};

/// `/dev/mail` (the latest messages) and `/dev/mail/{id}` (one, as its HTML), over `pool`.
pub fn router(pool: PgPool) -> Router {
    Router::new().route("/dev/mail", get(list)).route("/dev/mail/{id}", get(show)).with_state(pool)
}

#[derive(Template)]
#[template(path = "mail/mailbox.html")]
struct Mailbox {
    mails: Vec<MailRow>,
}

async fn list(State(pool): State<PgPool>) -> Response {
    match queue::latest(&pool, 100).await {
        Ok(mails) => Html(Mailbox { mails }.render().expect("the mailbox renders")).into_response(),
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "the mailbox could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn show(State(pool): State<PgPool>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<Uuid>() else { return StatusCode::NOT_FOUND.into_response() };
    match queue::find(&pool, id).await {
        Ok(Some(mail)) => {
            let mut response = Html(mail.html_body).into_response();
            // The message's own HTML, as a mail client would show it: no scripts, nothing fetched.
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox allow-popups allow-top-navigation-by-user-activation"),
            );
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "the mailbox could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
