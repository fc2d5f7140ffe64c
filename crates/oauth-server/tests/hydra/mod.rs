//! Hydra's published API contract ([`contract`]) and a strict checker for it, so the flows can hold every
//! JSON answer of the embedded server to the schema Hydra documents for it, rather than to what we expect.
//!
//! The checker understands the part of OpenAPI 3.0 that Hydra's schemas use: `type` (string, integer,
//! boolean, array, object), `format: date-time` (RFC 3339) and `int64`, v2.3.0's `NullDuration` pattern,
//! `required`, `properties`, `items`, `additionalProperties` and `$ref`. `null` is refused wherever a type
//! is given, as OpenAPI 3.0 does without `nullable`. It is stricter than JSON Schema in one way: a property
//! the schema does not declare is reported. Hydra's schemas leave objects open, but Hydra does not send such
//! properties, and a stand-in that does would let our code come to depend on something Hydra never sends.

mod contract;
pub mod spec;

use std::fmt;

use serde_json::Value;

pub use contract::{OPERATIONS, SCHEMAS, Status};

/// A schema, as this checker understands OpenAPI's.
#[derive(Debug)]
pub enum Type {
    /// `type: string`.
    String,
    /// `type: string, format: date-time`: an RFC 3339 timestamp.
    DateTime,
    /// `type: string` with Go's duration pattern (Hydra's `NullDuration`), e.g. `1h30m`.
    Duration,
    /// `type: integer, format: int64`.
    Integer,
    /// `type: boolean`.
    Boolean,
    /// `type: array` of `items`.
    Array(&'static Type),
    /// `type: object` with `properties` and `required`.
    Object { required: &'static [&'static str], properties: &'static [(&'static str, Type)] },
    /// `type: object` with only `additionalProperties`: every value of one type.
    Map(&'static Type),
    /// `$ref: #/components/schemas/<name>`.
    Ref(&'static str),
    /// `{}`: any JSON, `null` included.
    Any,
}

/// Where a document departs from its schema.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A required property is absent.
    Missing,
    /// The value has another JSON type than the schema's (`found` is `null`, `boolean`, `integer`,
    /// `number`, `string`, `array` or `object`).
    WrongType { expected: &'static str, found: &'static str },
    /// A value of the right JSON type that breaks the schema's format or pattern.
    BadFormat { expected: &'static str },
    /// A property the schema does not declare.
    Undeclared,
}

/// A problem, and where: a path like `client.redirect_uris[0]` (empty for the document itself).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mismatch {
    pub path: String,
    pub problem: Problem,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() { "the document" } else { &self.path };
        match &self.problem {
            Problem::Missing => write!(f, "{at}: required, but missing"),
            Problem::WrongType { expected, found } => write!(f, "{at}: expected {expected}, found {found}"),
            Problem::BadFormat { expected } => write!(f, "{at}: not {expected}"),
            Problem::Undeclared => write!(f, "{at}: not in the schema"),
        }
    }
}

/// The named schema.
pub fn schema(name: &str) -> &'static Type {
    SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("Hydra's contract has no schema {name}"))
}

/// Everything in `document` that departs from the named schema, in a stable order; empty when it conforms.
pub fn check(name: &str, document: &Value) -> Vec<Mismatch> {
    let mut found = Vec::new();
    check_value(schema(name), document, String::new(), &mut found);
    found.sort();
    found
}

/// The schema Hydra documents for the body of `method path` answering `status`; `None` for an empty body.
pub fn documented_body(method: &str, path: &str, status: u16) -> Option<&'static str> {
    let operation = OPERATIONS
        .iter()
        .find(|o| o.method == method && o.path == path)
        .unwrap_or_else(|| panic!("Hydra's contract has no operation {method} {path}"));
    let answer = |wanted: Status| operation.responses.iter().find(|(s, _)| *s == wanted).map(|(_, body)| *body);
    answer(Status::Code(status))
        .or_else(|| answer(Status::Default))
        .unwrap_or_else(|| panic!("Hydra documents no {status} answer for {method} {path}"))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, property: &str) -> String {
    if path.is_empty() { property.to_owned() } else { format!("{path}.{property}") }
}

fn check_value(schema: &Type, value: &Value, path: String, found: &mut Vec<Mismatch>) {
    let mut report = |problem| found.push(Mismatch { path: path.clone(), problem });
    let wrong = |expected| Problem::WrongType { expected, found: json_type(value) };
    match (schema, value) {
        (Type::Any, _) => {}
        (Type::Ref(name), _) => check_value(self::schema(name), value, path, found),
        (Type::String, Value::String(_)) => {}
        (Type::String, _) => report(wrong("string")),
        (Type::DateTime, Value::String(s)) => {
            if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                report(Problem::BadFormat { expected: "an RFC 3339 date-time" });
            }
        }
        (Type::DateTime, _) => report(wrong("date-time string")),
        (Type::Duration, Value::String(s)) => {
            if !is_go_duration(s) {
                report(Problem::BadFormat { expected: "a duration like 1h30m" });
            }
        }
        (Type::Duration, _) => report(wrong("duration string")),
        (Type::Integer, Value::Number(n)) if n.is_i64() => {}
        (Type::Integer, Value::Number(n)) if n.is_u64() => report(Problem::BadFormat { expected: "an int64" }),
        (Type::Integer, _) => report(wrong("integer")),
        (Type::Boolean, Value::Bool(_)) => {}
        (Type::Boolean, _) => report(wrong("boolean")),
        (Type::Array(items), Value::Array(values)) => {
            for (i, item) in values.iter().enumerate() {
                check_value(items, item, format!("{path}[{i}]"), found);
            }
        }
        (Type::Array(_), _) => report(wrong("array")),
        (Type::Map(values), Value::Object(object)) => {
            for (key, item) in object {
                check_value(values, item, join(&path, key), found);
            }
        }
        (Type::Object { required, properties }, Value::Object(object)) => {
            for name in *required {
                if !object.contains_key(*name) {
                    found.push(Mismatch { path: join(&path, name), problem: Problem::Missing });
                }
            }
            for (key, item) in object {
                match properties.iter().find(|(name, _)| name == key) {
                    Some((_, property)) => check_value(property, item, join(&path, key), found),
                    None => found.push(Mismatch { path: join(&path, key), problem: Problem::Undeclared }),
                }
            }
        }
        (Type::Map(_) | Type::Object { .. }, _) => report(wrong("object")),
    }
}

/// Hydra v2.3.0's `NullDuration` pattern, `^([0-9]+(ns|us|ms|s|m|h))*$`: whole numbers, each with a unit (the
/// empty string too).
fn is_go_duration(text: &str) -> bool {
    let mut rest = text;
    while !rest.is_empty() {
        let whole = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if whole == 0 {
            return false;
        }
        rest = &rest[whole..];
        // A two-letter unit first: `ms` is never `m` then `s`, since a digit must follow a unit.
        let Some(unit) = ["ns", "us", "ms", "s", "m", "h"].into_iter().find(|u| rest.starts_with(u)) else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mismatch(path: &str, problem: Problem) -> Mismatch {
        Mismatch { path: path.into(), problem }
    }

    /// A login request as Hydra sends one.
    fn hydras_login_request() -> Value {
        json!({
            "challenge": "a-challenge",
            "skip": false,
            "subject": "",
            "client": {
                "client_id": "ec-spa",
                "redirect_uris": ["http://127.0.0.1:5173/callback"],
                "created_at": "2026-07-24T17:05:05Z",
                "authorization_code_grant_access_token_lifespan": "1h30m",
                "metadata": {"anything": [1, "goes"]},
                "skip_consent": true
            },
            "request_url": "http://127.0.0.1:4444/oauth2/auth?client_id=ec-spa",
            "requested_scope": ["openid"],
            "requested_access_token_audience": [],
            "oidc_context": {"id_token_hint_claims": {"sub": "u", "n": 1}},
            "session_id": "s"
        })
    }

    #[test]
    fn a_document_shaped_like_hydras_passes() {
        assert_eq!(check("oAuth2LoginRequest", &hydras_login_request()), vec![]);
        assert_eq!(check("oAuth2RedirectTo", &json!({"redirect_to": "http://x/"})), vec![]);
        let exchange = json!({"access_token": "a", "expires_in": 3600, "token_type": "bearer", "scope": ""});
        assert_eq!(check("oAuth2TokenExchange", &exchange), vec![]);
    }

    #[test]
    fn the_checker_rejects_missing_required_properties_and_wrong_types() {
        let mut wrong = hydras_login_request();
        let object = wrong.as_object_mut().unwrap();
        object.remove("subject");
        object.insert("skip".into(), json!("false"));
        object.insert("requested_scope".into(), json!("openid"));
        wrong["client"]["redirect_uris"] = json!(["http://x/", 7]);
        wrong["client"]["created_at"] = json!("yesterday");
        wrong["client"]["authorization_code_grant_access_token_lifespan"] = json!("90 minutes");
        wrong["client"]["skip_consent"] = Value::Null;
        wrong["oidc_context"]["id_token_hint_claims"] = json!(["not", "an", "object"]);
        object_insert(&mut wrong, "surprise", json!(true));
        assert_eq!(
            check("oAuth2LoginRequest", &wrong),
            vec![
                mismatch(
                    "client.authorization_code_grant_access_token_lifespan",
                    Problem::BadFormat { expected: "a duration like 1h30m" }
                ),
                mismatch("client.created_at", Problem::BadFormat { expected: "an RFC 3339 date-time" }),
                mismatch("client.redirect_uris[1]", Problem::WrongType { expected: "string", found: "integer" }),
                mismatch("client.skip_consent", Problem::WrongType { expected: "boolean", found: "null" }),
                mismatch(
                    "oidc_context.id_token_hint_claims",
                    Problem::WrongType { expected: "object", found: "array" }
                ),
                mismatch("requested_scope", Problem::WrongType { expected: "array", found: "string" }),
                mismatch("skip", Problem::WrongType { expected: "boolean", found: "string" }),
                mismatch("subject", Problem::Missing),
                mismatch("surprise", Problem::Undeclared),
            ]
        );

        assert_eq!(check("genericError", &json!({})), vec![mismatch("message", Problem::Missing)]);
        assert_eq!(
            check("oAuth2RedirectTo", &json!([])),
            vec![mismatch("", Problem::WrongType { expected: "object", found: "array" })]
        );
        assert_eq!(
            check("oAuth2LogoutRequest", &json!({"requested_at": 1_700_000_000, "expires_at": "2026-07-24"})),
            vec![
                mismatch("expires_at", Problem::BadFormat { expected: "an RFC 3339 date-time" }),
                mismatch("requested_at", Problem::WrongType { expected: "date-time string", found: "integer" }),
            ]
        );
        assert_eq!(
            check("oAuth2TokenExchange", &json!({"expires_in": 1.5, "scope": ["openid"]})),
            vec![
                mismatch("expires_in", Problem::WrongType { expected: "integer", found: "number" }),
                mismatch("scope", Problem::WrongType { expected: "string", found: "array" }),
            ]
        );
        assert_eq!(
            check("oAuth2TokenExchange", &json!({"expires_in": u64::MAX})),
            vec![mismatch("expires_in", Problem::BadFormat { expected: "an int64" })]
        );
        let mismatches = check("jsonWebKeySet", &json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "k"}]}));
        assert_eq!(mismatches, vec![mismatch("keys[0].alg", Problem::Missing)]);
        assert_eq!(mismatches[0].to_string(), "keys[0].alg: required, but missing");
    }

    fn object_insert(document: &mut Value, key: &str, value: Value) {
        document.as_object_mut().unwrap().insert(key.into(), value);
    }

    #[test]
    fn durations_follow_hydras_pattern() {
        for good in ["", "1h", "1h30m", "300ms", "7us", "2ns", "1m1s"] {
            assert!(is_go_duration(good), "{good}");
        }
        for bad in ["1", "h", "1.5s", "10µs", ".5s", "1 h", "1hh", "-1s", "1d"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn every_reference_in_the_contract_names_a_schema_in_it() {
        fn refs(schema: &Type, out: &mut Vec<&'static str>) {
            match schema {
                Type::Ref(name) => out.push(name),
                Type::Array(inner) | Type::Map(inner) => refs(inner, out),
                Type::Object { properties, .. } => properties.iter().for_each(|(_, t)| refs(t, out)),
                _ => {}
            }
        }
        let mut names = Vec::new();
        SCHEMAS.iter().for_each(|(_, t)| refs(t, &mut names));
        for operation in OPERATIONS {
            names.extend(operation.responses.iter().filter_map(|(_, body)| *body));
        }
        for name in names {
            schema(name);
        }
    }
}
