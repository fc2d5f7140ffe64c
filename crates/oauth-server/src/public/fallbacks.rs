//! The pages Hydra serves itself when no page of the login app applies: the error page (where a request that
//! cannot go back to a client ends) and the "signed out" page (after a logout without a post-logout URI).
//! Plain text: a deployment that cares points Hydra's URLs at its own pages instead.

use std::collections::HashMap;

use axum::{
    extract::Query,
    http::StatusCode,
    response::{IntoResponse, Response},
};

pub(super) async fn fallback_error(Query(params): Query<HashMap<String, String>>) -> Response {
    let error = params.get("error").map(String::as_str).unwrap_or("unknown_error");
    let description = params.get("error_description").map(String::as_str).unwrap_or_default();
    (StatusCode::BAD_REQUEST, format!("The sign-in request failed.\n\nerror: {error}\n{description}\n")).into_response()
}

pub(super) async fn fallback_logged_out() -> &'static str {
    "You are signed out.\n"
}
