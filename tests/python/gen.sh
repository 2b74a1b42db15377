#!/usr/bin/env bash
# Generates a Python client from proto/ with Debian's protoc and grpc_python_plugin
# (packages protobuf-compiler, protobuf-compiler-grpc; runtime: python3-grpcio, python3-protobuf).
# Usage: gen.sh OUT_DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
mkdir -p "$out"
protos=$(cd "$root/proto" && find nas -name '*.proto' | sort)
protoc -I "$root/proto" -I /usr/include \
  --python_out="$out" --grpc_out="$out" --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  $protos
# protoc's Python output imports packages by path (nas.common.v1...); make them packages.
find "$out/nas" -type d -exec touch {}/__init__.py \;
