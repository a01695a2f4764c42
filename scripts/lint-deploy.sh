#!/usr/bin/env bash
# Lints deploy/ as far as a machine without a Docker engine or a cluster
# allows (docs/deploy.md): YAML syntax and style (yamllint), the Kustomize
# build (kubectl kustomize), and every Kubernetes object against the
# published schemas (kubernetes-validate; KEDA's CRD has no bundled schema).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v yamllint >/dev/null || pip install -q yamllint
command -v kubernetes-validate >/dev/null || pip install -q kubernetes-validate
yamllint -d '{extends: relaxed, rules: {line-length: {max: 120}}}' deploy/k8s deploy/compose.yaml
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if command -v kubectl >/dev/null; then
  kubectl kustomize deploy/k8s >"$out"
else
  cat deploy/k8s/{config,redis,api,worker,autoscaler}.yaml >"$out"
fi
kubernetes-validate -k 1.30.0 "$out"
python3 - <<'PY'
import yaml
compose = yaml.safe_load(open("deploy/compose.yaml"))
for name in ("postgres", "redis", "migrate", "api", "worker"):
    assert name in compose["services"], name
for name in ("api", "worker"):
    env = compose["services"][name]["environment"]
    assert "DATABASE_URL" in env and "REDIS_URL" in env, name
print("compose: services and environment resolve")
PY
