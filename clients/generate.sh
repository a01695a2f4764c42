#!/usr/bin/env bash
# Regenerates the low-level code of both client packages from
# docs/openapi.json, with pinned generators:
#
#   clients/python/thumbforge/_api/       openapi-python-client (PyPI)
#   clients/typescript/src/generated/     openapi-typescript (npm, pinned in
#                                         clients/typescript/package.json)
#
# The generated files are checked in; never edit them by hand. The
# hand-written layers (thumbforge/client.py, src/client.ts) sit on top.
#
#   bash clients/generate.sh           rewrite the generated files
#   bash clients/generate.sh --check   fail if they differ from what the
#                                      spec generates now (scripts/clients.sh)
#
# openapi-python-client and ruff (its formatter) live in a venv under
# $HOME/.cache/thumbforge, made on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
RUFF_VERSION=0.17.6

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: bash clients/generate.sh [--check]" >&2; exit 2 ;;
esac

spec="$PWD/docs/openapi.json"
venv="$HOME/.cache/thumbforge/openapi-python-client-$OPENAPI_PYTHON_CLIENT_VERSION"
if ! "$venv/bin/openapi-python-client" --version 2>/dev/null | grep -q "$OPENAPI_PYTHON_CLIENT_VERSION" \
  || ! "$venv/bin/ruff" --version 2>/dev/null | grep -q "$RUFF_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION" "ruff==$RUFF_VERSION"
fi
if [ ! -x clients/typescript/node_modules/.bin/openapi-typescript ]; then
  (cd clients/typescript && npm ci --no-audit --no-fund --silent --ignore-scripts)
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Python: the package only (--meta none); the generator's ruff hooks format
# it with the settings in clients/python/pyproject.toml, so generate inside
# a copy of that project.
cp clients/python/pyproject.toml "$out/"
(
  cd "$out"
  PATH="$venv/bin:$PATH" openapi-python-client generate --path "$spec" --meta none \
    --config "$OLDPWD/clients/python/openapi-python-client.yaml" --output-path _api >generator.log 2>&1 \
    || { cat generator.log >&2; exit 1; }
  # Anything the generator could not type is a warning; it must stay empty.
  if grep -q "WARNING" generator.log; then cat generator.log >&2; exit 1; fi
)

# TypeScript: types only; openapi-fetch reads them.
mkdir -p "$out/ts"
(cd clients/typescript && npx --no-install openapi-typescript "$spec" --output "$out/ts/schema.ts" >/dev/null)

if $check; then
  stale=0
  diff -r -x __pycache__ clients/python/thumbforge/_api "$out/_api" >/dev/null || stale=1
  diff clients/typescript/src/generated/schema.ts "$out/ts/schema.ts" >/dev/null || stale=1
  if [ "$stale" = 1 ]; then
    echo "generated client code is stale: run bash clients/generate.sh and commit the result" >&2
    diff -r -x __pycache__ clients/python/thumbforge/_api "$out/_api" | head -20 >&2 || true
    diff clients/typescript/src/generated/schema.ts "$out/ts/schema.ts" | head -20 >&2 || true
    exit 1
  fi
  echo "generated client code matches docs/openapi.json"
else
  rm -rf clients/python/thumbforge/_api
  cp -r "$out/_api" clients/python/thumbforge/_api
  mkdir -p clients/typescript/src/generated
  cp "$out/ts/schema.ts" clients/typescript/src/generated/schema.ts
  echo "regenerated clients/python/thumbforge/_api and clients/typescript/src/generated/schema.ts"
fi
