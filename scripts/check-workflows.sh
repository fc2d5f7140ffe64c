#!/usr/bin/env bash
# Static checks of the GitHub Actions workflows (.github/workflows), part of `make test`:
#
# 1. actionlint: workflow syntax, expression types, the inputs of the actions used, runner labels, and
#    ShellCheck on every `run:` script;
# 2. zizmor, offline: the security audits (template injection, token permissions, actions not pinned to a
#    commit, credentials persisted by checkout, cache poisoning, dangerous triggers, ...), at its default
#    persona.
#
# Any finding fails. The checkers come from PyPI into target/workflow-tools, pinned by version and hash in
# .github/workflow-tools.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/workflow-tools
step() { printf '\n--> %s\n' "$*"; }

if ! cmp -s .github/workflow-tools.txt "$tools/workflow-tools.txt" 2>/dev/null; then
  step "installing the checkers (.github/workflow-tools.txt)"
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
    -r .github/workflow-tools.txt
  cp .github/workflow-tools.txt "$tools/workflow-tools.txt"
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)

actionlint_version=$("$tools/bin/actionlint" -version | head -n 1 | awk '{print $NF}')
shellcheck_version=$("$tools/bin/shellcheck" --version | awk '/^version:/ {print $2}')
step "actionlint $actionlint_version with ShellCheck $shellcheck_version"
# Only the pinned ShellCheck, and no pyflakes: the result must not depend on what else the machine has.
"$tools/bin/actionlint" -no-color -shellcheck "$tools/bin/shellcheck" -pyflakes= "${workflows[@]}"
echo "ok -- ${workflows[*]}"

step "zizmor $("$tools/bin/zizmor" --version | awk '{print $2}') (offline)"
"$tools/bin/zizmor" --offline --no-progress --color=never .github/workflows
