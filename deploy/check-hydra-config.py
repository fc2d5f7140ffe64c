#!/usr/bin/env python3
"""Validates Hydra's configuration files against Hydra's own configuration schema, offline.

    deploy/check-hydra-config.py SCHEMA_DIR HYDRA_YML...

SCHEMA_DIR holds Hydra's published schemas for the release deploy/compose.yaml runs (Ory Hydra v2.3.0,
Apache-2.0): `config.schema.json` (spec/config.json of ory/hydra) and `tracing-config.schema.json` (otelx's
config.schema.json of the ory/x version Hydra's go.mod names), which the first refers to as
`ory://tracing-config`. References resolve to these two files only: nothing is fetched, and a reference to
anything else fails. Hydra refuses to start with a configuration its schema refuses; this finds a misspelt key
(the schema allows no unknown ones), a value of the wrong type or outside its enum, or a malformed URL (the
`uri` and `uri-reference` formats are checked, as Hydra checks them) before a container is ever started.

Run by scripts/check-deploy.sh (part of `make test`); needs PyYAML, jsonschema and rfc3986-validator.
"""

import json
import sys
from pathlib import Path

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

TRACING = "ory://tracing-config"


def refuse(uri):
    raise NoSuchResource(ref=uri)


def validator(schema_dir):
    schema = json.loads((schema_dir / "config.schema.json").read_text())
    tracing = json.loads((schema_dir / "tracing-config.schema.json").read_text())
    Draft7Validator.check_schema(schema)
    registry = Registry(retrieve=refuse).with_resource(TRACING, Resource.from_contents(tracing))
    return Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def main():
    schema_dir, files = Path(sys.argv[1]), [Path(f) for f in sys.argv[2:]]
    checker = validator(schema_dir)
    for required in ("uri", "uri-reference"):
        if required not in checker.format_checker.checkers:
            sys.exit(f"jsonschema cannot check the {required} format here: install rfc3986-validator (deploy/tools.txt)")
    failed = False
    for path in files:
        config = yaml.safe_load(path.read_text())
        errors = sorted(checker.iter_errors(config), key=lambda e: list(e.absolute_path))
        for error in errors:
            where = ".".join(str(p) for p in error.absolute_path) or "(top)"
            print(f"FAIL {path}: {where}: {error.message}")
        failed |= bool(errors)
        if not errors:
            print(f"ok -- {path} against {schema_dir / 'config.schema.json'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
