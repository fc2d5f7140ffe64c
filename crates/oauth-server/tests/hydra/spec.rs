//! Compares [`super::contract`] with Hydra's OpenAPI document itself. The document is not kept in this
//! repository: `make test` compares with Hydra v2.3.0's (the version deploy/compose.yaml runs), read from the
//! shared specifications beside the checkout (`../shared/specs/hydra-v2.3.0/api.json`, or `HYDRA_SPEC_DIR`);
//! another version by hand: `cargo run -p ec-oauth-server --example hydra_contract -- path/to/api.json`. The
//! tests below also prove the comparison itself on a document made from the contract, and on altered copies.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{OPERATIONS, SCHEMAS, Status, Type};

const GO_DURATION: &str = "^([0-9]+(ns|us|ms|s|m|h))*$";

/// A contract schema as an OpenAPI schema, in the normal form of [`normal`].
fn openapi(schema: &Type) -> Value {
    match schema {
        Type::String => json!({"type": "string"}),
        Type::DateTime => json!({"type": "string", "format": "date-time"}),
        Type::Duration => json!({"type": "string", "pattern": GO_DURATION}),
        Type::Integer => json!({"type": "integer", "format": "int64"}),
        Type::Boolean => json!({"type": "boolean"}),
        Type::Array(items) => json!({"type": "array", "items": openapi(items)}),
        Type::Object { required, properties } => {
            let mut object = json!({
                "type": "object",
                "properties": properties.iter().map(|(n, t)| ((*n).to_owned(), openapi(t))).collect::<Map<_, _>>(),
            });
            if !required.is_empty() {
                let mut sorted = required.to_vec();
                sorted.sort_unstable();
                object["required"] = json!(sorted);
            }
            object
        }
        Type::Map(values) => json!({"type": "object", "additionalProperties": openapi(values)}),
        Type::Ref(name) => json!({"$ref": format!("#/components/schemas/{name}")}),
        Type::Any => json!({}),
    }
}

/// An OpenAPI schema without what does not constrain a document (descriptions, titles, examples,
/// defaults), with `required` sorted. Everything else stays, so a keyword the contract cannot express
/// (`nullable`, `enum`, another pattern) makes the comparison fail.
fn normal(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            let mut kept = Map::new();
            for (key, value) in object {
                match key.as_str() {
                    "description" | "title" | "example" | "default" => {}
                    "properties" => {
                        let properties = value.as_object().expect("properties is an object");
                        kept.insert(
                            key.clone(),
                            Value::Object(properties.iter().map(|(n, s)| (n.clone(), normal(s))).collect()),
                        );
                    }
                    "required" => {
                        let mut names: Vec<&str> =
                            value.as_array().expect("required is an array").iter().filter_map(Value::as_str).collect();
                        names.sort_unstable();
                        kept.insert(key.clone(), json!(names));
                    }
                    _ => {
                        kept.insert(key.clone(), normal(value));
                    }
                }
            }
            Value::Object(kept)
        }
        other => other.clone(),
    }
}

/// Where two normalised schemas differ, property by property, for a failure message.
fn differences(ours: &Value, theirs: &Value) -> String {
    let (empty, mut found) = (Map::new(), Vec::new());
    let properties = |schema: &Value| schema["properties"].as_object().cloned().unwrap_or_else(|| empty.clone());
    let (mine, published) = (properties(ours), properties(theirs));
    for (name, schema) in &mine {
        match published.get(name) {
            None => found.push(format!("{name}: only in the contract")),
            Some(other) if other != schema => found.push(format!("{name}: contract {schema}, published {other}")),
            Some(_) => {}
        }
    }
    found.extend(
        published.keys().filter(|name| !mine.contains_key(*name)).map(|name| format!("{name}: only published")),
    );
    if ours["required"] != theirs["required"] {
        found.push(format!("required: contract {}, published {}", ours["required"], theirs["required"]));
    }
    if found.is_empty() { format!("contract {ours}, published {theirs}") } else { found.join("; ") }
}

/// `schema` with references to schemas the contract does not name (Hydra's aliases such as
/// `StringSliceJSONFormat`, an array of strings) replaced by what they refer to.
fn inline_aliases(schema: &Value, schemas: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            if let Some(name) =
                object.get("$ref").and_then(Value::as_str).map(|r| r.trim_start_matches("#/components/schemas/"))
                && !SCHEMAS.iter().any(|(named, _)| *named == name)
                && let Some(target) = schemas.get(name)
            {
                return inline_aliases(target, schemas);
            }
            Value::Object(object.iter().map(|(k, v)| (k.clone(), inline_aliases(v, schemas))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline_aliases(v, schemas)).collect()),
        other => other.clone(),
    }
}

/// Panics, naming the first difference, unless the contract says what `spec` (Hydra's OpenAPI document)
/// says about every schema and operation it restates.
pub fn compare_with_published(spec: &Value) {
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.0")), "an OpenAPI 3.0 document");

    let schemas = &spec["components"]["schemas"];
    for (name, schema) in SCHEMAS {
        let published = schemas.get(*name).unwrap_or_else(|| panic!("Hydra publishes no schema {name}"));
        let (ours, theirs) = (openapi(schema), normal(&inline_aliases(published, schemas)));
        assert!(ours == theirs, "schema {name}: {}", differences(&ours, &theirs));
    }

    for operation in OPERATIONS {
        let method = operation.method.to_lowercase();
        let published = &spec["paths"][operation.path][&method]["responses"];
        let published = published
            .as_object()
            .unwrap_or_else(|| panic!("Hydra documents no {} {}", operation.method, operation.path));
        let statuses: BTreeSet<&str> = published.keys().map(String::as_str).collect();
        let ours: Vec<String> = operation
            .responses
            .iter()
            .map(|(status, _)| match status {
                Status::Code(code) => code.to_string(),
                Status::Default => "default".to_owned(),
            })
            .collect();
        assert_eq!(
            statuses,
            ours.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            "{} {}",
            operation.method,
            operation.path
        );
        for ((_, body), status) in operation.responses.iter().zip(&ours) {
            let answer = &published[status.as_str()];
            let documented = match answer.get("$ref").and_then(Value::as_str) {
                Some("#/components/responses/emptyResponse") => None,
                Some(other) => panic!("{} {} {status}: unexpected response {other}", operation.method, operation.path),
                None => {
                    let schema = &answer["content"]["application/json"]["schema"]["$ref"];
                    Some(schema.as_str().expect("a schema reference").trim_start_matches("#/components/schemas/"))
                }
            };
            assert_eq!(*body, documented, "{} {} {status}", operation.method, operation.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OpenAPI document saying exactly what the contract says.
    fn published_as_the_contract_says() -> Value {
        let schemas: Map<String, Value> =
            SCHEMAS.iter().map(|(name, schema)| ((*name).to_owned(), openapi(schema))).collect();
        let mut paths = Map::new();
        for operation in OPERATIONS {
            let responses: Map<String, Value> = operation
                .responses
                .iter()
                .map(|(status, body)| {
                    let status = match status {
                        Status::Code(code) => code.to_string(),
                        Status::Default => "default".to_owned(),
                    };
                    let answer = match body {
                        None => json!({"$ref": "#/components/responses/emptyResponse"}),
                        Some(schema) => json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}}),
                    };
                    (status, answer)
                })
                .collect();
            let entry = paths.entry(operation.path.to_owned()).or_insert_with(|| json!({}));
            entry[operation.method.to_lowercase()] = json!({"responses": responses, "description": "ignored"});
        }
        json!({"openapi": "3.0.3", "components": {"schemas": schemas}, "paths": paths})
    }

    fn differs(spec: &Value) -> bool {
        std::panic::catch_unwind(|| compare_with_published(spec)).is_err()
    }

    /// Hydra v2.3.0's published API, the version deploy/compose.yaml runs. A missing document fails loudly.
    #[test]
    fn the_contract_matches_hydra_v2_3_0s_published_api() {
        let dir = std::env::var("HYDRA_SPEC_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/specs/hydra-v2.3.0").into());
        let path = std::path::Path::new(&dir).join("api.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("Hydra v2.3.0's api.json is not at {} (set HYDRA_SPEC_DIR): {e}", path.display())
        });
        compare_with_published(&serde_json::from_str(&text).expect("Hydra's OpenAPI document is JSON"));
    }

    #[test]
    fn a_document_saying_what_the_contract_says_matches() {
        compare_with_published(&published_as_the_contract_says());
    }

    #[test]
    fn every_kind_of_difference_is_found() {
        let faithful = published_as_the_contract_says();
        let mut nullable = faithful.clone();
        nullable["components"]["schemas"]["errorOAuth2"]["properties"]["error"]["nullable"] = json!(true);
        let mut required = faithful.clone();
        required["components"]["schemas"]["errorOAuth2"]["required"] = json!(["error"]);
        let mut gone = faithful.clone();
        gone["components"]["schemas"].as_object_mut().unwrap().remove("errorOAuth2");
        let mut status = faithful.clone();
        let first = &OPERATIONS[0];
        status["paths"][first.path][first.method.to_lowercase()]["responses"]["410"] = json!({});
        for (what, spec) in
            [("nullable", nullable), ("required", required), ("a schema gone", gone), ("a status", status)]
        {
            assert!(differs(&spec), "{what} went unnoticed");
        }
    }
}
