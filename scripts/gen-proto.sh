#!/usr/bin/env bash
# Generates libs/proto/src/gen from proto/ (ts-proto for nice-grpc) and the protoset used for server
# reflection. With --check, generates into a temporary folder and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
buf="node_modules/.bin/buf"
out="libs/proto/src/gen"
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$buf" generate --template buf.gen.yaml -o "$tmp"
  "$buf" build -o "$tmp/$out/protoset.binpb"
  if ! diff -r "$out" "$tmp/$out" >/dev/null; then
    diff -r "$out" "$tmp/$out" | head -40 >&2 || true
    echo "gen:check: libs/proto/src/gen is out of date with proto/; run 'pnpm gen' and commit" >&2
    exit 1
  fi
  exit 0
fi
rm -rf "$out"
"$buf" generate --template buf.gen.yaml
"$buf" build -o "$out/protoset.binpb"
