//! Compares [`super::contract`] with Hydra's OpenAPI document itself, given as a file. Not part of the
//! ordinary run (the document is not kept in this repository); run it when the contract is written or
//! moved to a newer Hydra.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{OPERATIONS, SCHEMAS, Status, Type};

const GO_DURATION: &str = "^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$";

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

#[test]
#[ignore = "needs HYDRA_OPENAPI_SPEC: the path of spec/api.json from the ory/hydra repository"]
fn the_contract_matches_hydras_published_openapi_document() {
    let path = std::env::var("HYDRA_OPENAPI_SPEC").expect("HYDRA_OPENAPI_SPEC names Hydra's spec/api.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let spec: Value = serde_json::from_str(&text).expect("Hydra's OpenAPI document is JSON");
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.0")), "an OpenAPI 3.0 document");

    let schemas = &spec["components"]["schemas"];
    for (name, schema) in SCHEMAS {
        let published = schemas.get(*name).unwrap_or_else(|| panic!("Hydra publishes no schema {name}"));
        assert_eq!(openapi(schema), normal(published), "schema {name}");
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
