//! What Hydra's published OpenAPI document says about the answers the embedded server gives: the schemas
//! of those answers (and every schema they refer to), and which schema each operation documents for each
//! status.
//!
//! Source: Ory Hydra's OpenAPI 3.0.3 document, repository ory/hydra, file `spec/api.json`, at commit
//! 83127c5752d907f52dd5f048a734c596c4316477 (committed 2026-07-24): `components.schemas` and the
//! `responses` of the operations below. Stated here in this module's own terms (names, types, required
//! properties; descriptions and examples left out) rather than kept as a copy of the file. The example
//! `hydra_contract` compares every entry with that file (`cargo run -p ec-oauth-server --example
//! hydra_contract -- path/to/spec/api.json`); run it when moving to a newer Hydra, and update the commit
//! above.

use super::Type::{self, Any, Array, Boolean, DateTime, Duration, Integer, Map, Object, Ref};

const STRING: Type = Type::String;
const STRINGS: Type = Array(&Type::String);
const DURATION: Type = Ref("NullDuration");

/// `components.schemas`, by name: the ones the embedded server answers with, and what they refer to.
pub const SCHEMAS: &[(&str, Type)] = &[
    // The body of every error answer (`default: errorOAuth2`).
    (
        "errorOAuth2",
        Object {
            required: &[],
            properties: &[
                ("error", STRING),
                ("error_debug", STRING),
                ("error_description", STRING),
                ("error_hint", STRING),
                ("status_code", Integer),
            ],
        },
    ),
    // Hydra's other error body. No operation the embedded server implements documents it; kept so the
    // checker's tests can show a required property being enforced on a schema Hydra really publishes.
    (
        "genericError",
        Object {
            required: &["message"],
            properties: &[
                ("code", Integer),
                ("debug", STRING),
                ("details", Any),
                ("id", STRING),
                ("message", STRING),
                ("reason", STRING),
                ("request", STRING),
                ("status", STRING),
            ],
        },
    ),
    ("oAuth2RedirectTo", Object { required: &["redirect_to"], properties: &[("redirect_to", STRING)] }),
    (
        "oAuth2LoginRequest",
        Object {
            required: &["challenge", "skip", "subject", "client", "request_url"],
            properties: &[
                ("challenge", STRING),
                ("client", Ref("oAuth2Client")),
                ("oidc_context", Ref("oAuth2ConsentRequestOpenIDConnectContext")),
                ("request_url", STRING),
                ("requested_access_token_audience", STRINGS),
                ("requested_scope", STRINGS),
                ("session_id", STRING),
                ("skip", Boolean),
                ("subject", STRING),
            ],
        },
    ),
    (
        "oAuth2ConsentRequest",
        Object {
            required: &["challenge"],
            properties: &[
                ("acr", STRING),
                ("amr", STRINGS),
                ("challenge", STRING),
                ("client", Ref("oAuth2Client")),
                ("context", Ref("JSONRawMessage")),
                ("login_challenge", STRING),
                ("login_session_id", STRING),
                ("oidc_context", Ref("oAuth2ConsentRequestOpenIDConnectContext")),
                ("request_url", STRING),
                ("requested_access_token_audience", STRINGS),
                ("requested_scope", STRINGS),
                ("skip", Boolean),
                ("subject", STRING),
            ],
        },
    ),
    (
        "oAuth2ConsentRequestOpenIDConnectContext",
        Object {
            required: &[],
            properties: &[
                ("acr_values", STRINGS),
                ("display", STRING),
                ("id_token_hint_claims", Map(&Any)),
                ("login_hint", STRING),
                ("ui_locales", STRINGS),
            ],
        },
    ),
    (
        "oAuth2LogoutRequest",
        Object {
            required: &[],
            properties: &[
                ("challenge", STRING),
                ("client", Ref("oAuth2Client")),
                ("expires_at", DateTime),
                ("request_url", STRING),
                ("requested_at", DateTime),
                ("rp_initiated", Boolean),
                ("sid", STRING),
                ("subject", STRING),
            ],
        },
    ),
    (
        "oAuth2Client",
        Object {
            required: &[],
            properties: &[
                ("access_token_strategy", STRING),
                ("allowed_cors_origins", STRINGS),
                ("audience", STRINGS),
                ("authorization_code_grant_access_token_lifespan", DURATION),
                ("authorization_code_grant_id_token_lifespan", DURATION),
                ("authorization_code_grant_refresh_token_lifespan", DURATION),
                ("backchannel_logout_session_required", Boolean),
                ("backchannel_logout_uri", STRING),
                ("client_credentials_grant_access_token_lifespan", DURATION),
                ("client_id", STRING),
                ("client_name", STRING),
                ("client_secret", STRING),
                ("client_secret_expires_at", Integer),
                ("client_uri", STRING),
                ("contacts", STRINGS),
                ("created_at", DateTime),
                ("frontchannel_logout_session_required", Boolean),
                ("frontchannel_logout_uri", STRING),
                ("grant_types", STRINGS),
                ("implicit_grant_access_token_lifespan", DURATION),
                ("implicit_grant_id_token_lifespan", DURATION),
                ("jwks", Any),
                ("jwks_uri", STRING),
                ("jwt_bearer_grant_access_token_lifespan", DURATION),
                ("logo_uri", STRING),
                ("metadata", Ref("JSONRawMessage")),
                ("owner", STRING),
                ("policy_uri", STRING),
                ("post_logout_redirect_uris", STRINGS),
                ("redirect_uris", STRINGS),
                ("refresh_token_grant_access_token_lifespan", DURATION),
                ("refresh_token_grant_id_token_lifespan", DURATION),
                ("refresh_token_grant_refresh_token_lifespan", DURATION),
                ("registration_access_token", STRING),
                ("registration_client_uri", STRING),
                ("request_object_signing_alg", STRING),
                ("request_uris", STRINGS),
                ("response_types", STRINGS),
                ("scope", STRING),
                ("sector_identifier_uri", STRING),
                ("skip_consent", Boolean),
                ("skip_logout_consent", Boolean),
                ("subject_type", STRING),
                ("token_endpoint_auth_method", STRING),
                ("token_endpoint_auth_signing_alg", STRING),
                ("tos_uri", STRING),
                ("updated_at", DateTime),
                ("userinfo_signed_response_alg", STRING),
            ],
        },
    ),
    // Go's `time.Duration` as text, e.g. `1h30m`.
    ("NullDuration", Duration),
    // Any JSON (Go's `json.RawMessage`).
    ("JSONRawMessage", Any),
    (
        "oidcConfiguration",
        Object {
            required: &[
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "jwks_uri",
                "subject_types_supported",
                "response_types_supported",
                "id_token_signing_alg_values_supported",
                "id_token_signed_response_alg",
                "userinfo_signed_response_alg",
            ],
            properties: &[
                ("authorization_endpoint", STRING),
                ("backchannel_logout_session_supported", Boolean),
                ("backchannel_logout_supported", Boolean),
                ("claims_parameter_supported", Boolean),
                ("claims_supported", STRINGS),
                ("code_challenge_methods_supported", STRINGS),
                ("credentials_endpoint_draft_00", STRING),
                ("credentials_supported_draft_00", Array(&Ref("credentialSupportedDraft00"))),
                ("end_session_endpoint", STRING),
                ("frontchannel_logout_session_supported", Boolean),
                ("frontchannel_logout_supported", Boolean),
                ("grant_types_supported", STRINGS),
                ("id_token_signed_response_alg", STRINGS),
                ("id_token_signing_alg_values_supported", STRINGS),
                ("issuer", STRING),
                ("jwks_uri", STRING),
                ("registration_endpoint", STRING),
                ("request_object_signing_alg_values_supported", STRINGS),
                ("request_parameter_supported", Boolean),
                ("request_uri_parameter_supported", Boolean),
                ("require_request_uri_registration", Boolean),
                ("response_modes_supported", STRINGS),
                ("response_types_supported", STRINGS),
                ("revocation_endpoint", STRING),
                ("scopes_supported", STRINGS),
                ("subject_types_supported", STRINGS),
                ("token_endpoint", STRING),
                ("token_endpoint_auth_methods_supported", STRINGS),
                ("userinfo_endpoint", STRING),
                ("userinfo_signed_response_alg", STRINGS),
                ("userinfo_signing_alg_values_supported", STRINGS),
            ],
        },
    ),
    (
        "credentialSupportedDraft00",
        Object {
            required: &[],
            properties: &[
                ("cryptographic_binding_methods_supported", STRINGS),
                ("cryptographic_suites_supported", STRINGS),
                ("format", STRING),
                ("types", STRINGS),
            ],
        },
    ),
    ("jsonWebKeySet", Object { required: &[], properties: &[("keys", Array(&Ref("jsonWebKey")))] }),
    (
        "jsonWebKey",
        Object {
            required: &["use", "kty", "kid", "alg"],
            properties: &[
                ("alg", STRING),
                ("crv", STRING),
                ("d", STRING),
                ("dp", STRING),
                ("dq", STRING),
                ("e", STRING),
                ("k", STRING),
                ("kid", STRING),
                ("kty", STRING),
                ("n", STRING),
                ("p", STRING),
                ("q", STRING),
                ("qi", STRING),
                ("use", STRING),
                ("x", STRING),
                ("x5c", STRINGS),
                ("y", STRING),
            ],
        },
    ),
    (
        "oAuth2TokenExchange",
        Object {
            required: &[],
            properties: &[
                ("access_token", STRING),
                ("expires_in", Integer),
                ("id_token", STRING),
                ("refresh_token", STRING),
                ("scope", STRING),
                ("token_type", STRING),
            ],
        },
    ),
];

/// A status an operation documents: a code, or `default` (every other status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Code(u16),
    Default,
}

/// One operation of Hydra's API and its documented answers: for each status, the schema of the JSON
/// body, or `None` for an empty answer (Hydra's `emptyResponse`).
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub responses: &'static [(Status, Option<&'static str>)],
}

const ERROR: (Status, Option<&str>) = (Status::Default, Some("errorOAuth2"));
const REDIRECT: (Status, Option<&str>) = (Status::Code(200), Some("oAuth2RedirectTo"));
const EMPTY: (Status, Option<&str>) = (Status::Code(204), None);

/// The operations the embedded server implements that answer with JSON or nothing (the browser endpoints,
/// `/oauth2/auth` and `/oauth2/sessions/logout`, answer with redirects).
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "GET",
        path: "/admin/oauth2/auth/requests/login",
        responses: &[
            (Status::Code(200), Some("oAuth2LoginRequest")),
            (Status::Code(410), Some("oAuth2RedirectTo")),
            ERROR,
        ],
    },
    Operation { method: "PUT", path: "/admin/oauth2/auth/requests/login/accept", responses: &[REDIRECT, ERROR] },
    Operation { method: "PUT", path: "/admin/oauth2/auth/requests/login/reject", responses: &[REDIRECT, ERROR] },
    Operation {
        method: "GET",
        path: "/admin/oauth2/auth/requests/consent",
        responses: &[
            (Status::Code(200), Some("oAuth2ConsentRequest")),
            (Status::Code(410), Some("oAuth2RedirectTo")),
            ERROR,
        ],
    },
    Operation { method: "PUT", path: "/admin/oauth2/auth/requests/consent/accept", responses: &[REDIRECT, ERROR] },
    Operation { method: "PUT", path: "/admin/oauth2/auth/requests/consent/reject", responses: &[REDIRECT, ERROR] },
    // Unlike login and consent, Hydra documents no 410 here: a logout request that is gone is an error.
    Operation {
        method: "GET",
        path: "/admin/oauth2/auth/requests/logout",
        responses: &[
            (Status::Code(200), Some("oAuth2LogoutRequest")),
            (Status::Code(410), Some("oAuth2RedirectTo")),
            ERROR,
        ],
    },
    Operation { method: "PUT", path: "/admin/oauth2/auth/requests/logout/accept", responses: &[REDIRECT, ERROR] },
    Operation { method: "PUT", path: "/admin/oauth2/auth/requests/logout/reject", responses: &[EMPTY, ERROR] },
    Operation { method: "DELETE", path: "/admin/oauth2/auth/sessions/login", responses: &[EMPTY, ERROR] },
    Operation { method: "DELETE", path: "/admin/oauth2/auth/sessions/consent", responses: &[EMPTY, ERROR] },
    Operation {
        method: "GET",
        path: "/.well-known/openid-configuration",
        responses: &[(Status::Code(200), Some("oidcConfiguration")), ERROR],
    },
    Operation {
        method: "GET",
        path: "/.well-known/jwks.json",
        responses: &[(Status::Code(200), Some("jsonWebKeySet")), ERROR],
    },
    Operation {
        method: "POST",
        path: "/oauth2/token",
        responses: &[(Status::Code(200), Some("oAuth2TokenExchange")), ERROR],
    },
];
