#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine with Node 20: pnpm (the version pinned in
# package.json), the Debian packages the mesh and the tests use, then the workspace's packages.
# Every step is skipped when what it installs is already there, so `npm start` / `npm test` stay fast.
set -euo pipefail
cd "$(dirname "$0")/.."

pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$pnpm_version" ]; then
  echo "setup: installing pnpm $pnpm_version" >&2
  npm install --global --loglevel=error "pnpm@$pnpm_version" >&2
fi

# nats-server: the message bus; protoc + grpc_python_plugin + python3-grpcio: the cross-language
# client test generates a Python client from proto/.
apt_packages=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || apt_packages+=(nats-server)
command -v protoc >/dev/null 2>&1 || apt_packages+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null 2>&1 || apt_packages+=(protobuf-compiler-grpc)
/usr/bin/python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1 || apt_packages+=(python3-grpcio python3-protobuf)
# protoc's well-known types (google/protobuf/timestamp.proto): only a Recommends of protobuf-compiler,
# which --no-install-recommends leaves out.
[ -f /usr/include/google/protobuf/timestamp.proto ] || apt_packages+=(libprotobuf-dev)
# oneDNN + a C++ toolchain: libs/native-kernels compiles its native convolutions at install (the trainer
# falls back to the wasm kernels without them, ~3x slower).
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || apt_packages+=(libdnnl-dev)
command -v g++ >/dev/null 2>&1 || apt_packages+=(g++)
command -v make >/dev/null 2>&1 || apt_packages+=(make)
# openssl: the security tests make a throw-away CA and certificates with it.
command -v openssl >/dev/null 2>&1 || apt_packages+=(openssl)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${apt_packages[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >&2
fi

if [ ! -d node_modules/.pnpm ] || [ pnpm-lock.yaml -nt node_modules/.pnpm/lock.yaml ] || [ -n "${CI:-}" ]; then
  # append-only + warn: quiet on success, but a failing install says why (silent hid it).
  pnpm install --frozen-lockfile --reporter=append-only --loglevel=warn >&2
fi
# oneDNN installed after the workspace: build the addon now rather than at the next install.
if [ -f /usr/include/oneapi/dnnl/dnnl.hpp ] && grep -q '"built": false' libs/native-kernels/build/status.json 2>/dev/null \
  && ! grep -q 'SM_NAS_NATIVE' libs/native-kernels/build/status.json; then
  node libs/native-kernels/scripts/build.mjs >&2
fi
# Mesa 25's lavapipe: the WebGPU backend's tests run on it where there is no GPU (see the script).
bash scripts/setup-lavapipe.sh
# kubectl with kustomize: the deploy/k8s test renders every overlay with it (see the script).
bash scripts/install-kubectl.sh >/dev/null
