//! Why a login, consent or logout page cannot go on, and the one place each case becomes an answer for the
//! browser. Handlers return `Result<Response, PageError>` and use `?`; the statuses, pages and redirects
//! below are what the browser sees.
//!
//! This is the pages' boundary, not a second error type for the service's logic: the service's own
//! [`Error`] arrives whole as [`PageError::Internal`], and Hydra's admin API answers are sorted into the
//! cases a page treats differently (see the `From<HydraError>` impl).

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::pages::{message, see_other, text};
use crate::{
    error::{Error, UserError},
    hydra::HydraError,
};

#[derive(Debug, thiserror::Error)]
pub(super) enum PageError {
    /// Hydra does not know the challenge: it expired, was made up, or was answered with nowhere to go.
    #[error("the sign-in request is unknown or has expired")]
    Expired,
    /// Hydra already answered the request and says where the browser should go instead.
    #[error("the sign-in request was already answered")]
    AlreadyAnswered { redirect_to: String },
    /// A form post whose CSRF token does not match the browser's cookie.
    #[error("the form's CSRF token does not match its cookie")]
    Forged,
    /// A page or form without its challenge: opened directly rather than through a sign-in.
    #[error("no challenge was given")]
    MissingChallenge,
    /// Hydra's admin API failed or did not answer.
    #[error("the OAuth2 server's admin API failed: {0}")]
    Hydra(String),
    /// The service itself failed (the database, password hashing).
    #[error(transparent)]
    Internal(#[from] Error),
}

impl From<HydraError> for PageError {
    fn from(e: HydraError) -> Self {
        match e {
            HydraError::NotFound | HydraError::AlreadyHandled { redirect_to: None } => Self::Expired,
            HydraError::AlreadyHandled { redirect_to: Some(redirect_to) } => Self::AlreadyAnswered { redirect_to },
            HydraError::Call(detail) => Self::Hydra(detail),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // In the page's language: the request's, kept by `text::layer` while the handler's answer is made.
        let t = text();
        match self {
            Self::Expired => message(StatusCode::NOT_FOUND, t.expired, t.start_again),
            Self::AlreadyAnswered { redirect_to } => see_other(&redirect_to),
            Self::Forged => message(StatusCode::FORBIDDEN, t.form_expired_title, t.form_expired),
            Self::MissingChallenge => message(StatusCode::BAD_REQUEST, t.nothing_here, t.start_from_shop),
            Self::Hydra(detail) => {
                tracing::error!(detail, "the OAuth2 server's admin API failed");
                message(StatusCode::BAD_GATEWAY, t.unavailable, t.unavailable_text)
            }
            Self::Internal(Error::Own(UserError::Busy { retry_after })) => {
                let mut page = message(StatusCode::SERVICE_UNAVAILABLE, t.busy, t.busy_text);
                let seconds = crate::throttle::whole_seconds(retry_after);
                page.headers_mut().insert(http::header::RETRY_AFTER, seconds.into());
                page
            }
            Self::Internal(e) => {
                tracing::error!(error = &e as &dyn std::error::Error, "login app failed");
                message(StatusCode::INTERNAL_SERVER_ERROR, t.went_wrong, t.try_again_soon)
            }
        }
    }
}
