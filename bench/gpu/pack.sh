#!/usr/bin/env bash
# Packs what a bare, offline GPU host lacks to run bench/gpu on tfjs's webgpu backend, into
# bench/out/gpu-bundle (ignored; ~35 MiB): a Node binary (this machine's, xz), the bench bundled
# into one file (esbuild), Dawn's dawn.node for linux-x64 (xz), the Vulkan loader and glvnd
# libraries from Debian's packages (unpacked), the PyTorch peer with the networks it builds, and
# run.sh. The host needs its GPU
# driver (with its Vulkan ICD) and, for the peer, Python with PyTorch.
#   bash bench/gpu/pack.sh && <copy bench/out/gpu-bundle to the host> && bash gpu-bundle/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out/gpu-bundle
rm -rf "$out"
mkdir -p "$out/lib" "$out/node_modules/webgpu/dist/linux-x64"

xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"

# The bench in one ES module. `webgpu` stays a package beside it: its index.js loads dawn.node by a
# path computed at run time. tfjs-core's gradients are imported statically by the entry (the
# runtime's resolve hook for them has no node_modules to resolve in on the host).
webgpu_dir=$(readlink -f libs/tfjs-runtime/node_modules/webgpu)
cp "$webgpu_dir/package.json" "$webgpu_dir/index.js" "$out/node_modules/webgpu/"
xz -T0 -6 -c "$webgpu_dir/dist/linux-x64/dawn.node" > "$out/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
esbuild=$(readlink -f node_modules/.pnpm/node_modules/.bin/esbuild 2>/dev/null || true)
[ -x "$esbuild" ] || esbuild=$(ls node_modules/.pnpm/esbuild@*/node_modules/esbuild/bin/esbuild | head -1)
"$esbuild" bench/gpu/webgpu-bench.ts --bundle --ignore-annotations --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --outfile="$out/bench.mjs"
"$esbuild" bench/gpu/profile-bench.ts --bundle --ignore-annotations --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=error \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --outfile="$out/profile.mjs"
"$esbuild" bench/gpu/summary.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/summary.mjs"
# The networks for the PyTorch peer, from the one list both sides use (full size: the peer runs on CUDA).
node_modules/.bin/tsx -e "import('./bench/gpu/networks.ts').then((m) => console.log(JSON.stringify(m.inferenceNetworks(true), null, 1)))" > "$out/networks.json"

# Vulkan loader + glvnd (the NVIDIA ICD's libGLX_nvidia needs them), from this machine's Debian.
debs=$(mktemp -d)
vk_debs="libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2"
# shellcheck disable=SC2086
if ! (cd "$debs" && apt-get download -q $vk_debs >/dev/null 2>&1); then
  # No package lists yet on this machine: fetch them once.
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  (cd "$debs" && apt-get download -q $vk_debs >/dev/null)
fi
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$debs/root"; done
cp -L "$debs"/root/usr/lib/x86_64-linux-gnu/*.so* "$out/lib/"
rm -rf "$debs"

# The peer, and bench/learning's GN+WS networks it trains.
cp bench/gpu/run.sh bench/gpu/torch_peer.py bench/learning/pytorch_retinanet.py bench/learning/pytorch_faster_rcnn.py "$out/"
du -sh "$out"
