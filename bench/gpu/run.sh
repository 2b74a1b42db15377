#!/usr/bin/env bash
# Runs the GPU bench from its bundle (bench/gpu/pack.sh) on a host with only a GPU driver: unpacks
# Node and dawn.node into a temporary folder, points Vulkan at the driver's own ICD, runs the tfjs
# webgpu bench, then the PyTorch peer when python3 has torch with CUDA. Results go to $OUT (or
# ./gpu-results): webgpu.json, torch.json, and the logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results=${OUT:-$here/../gpu-results}
mkdir -p "$results"
work=$(mktemp -d)
# xz, or Python's lzma where the host has no xz.
unxz_to() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
unxz_to "$here/node.xz" "$work/node" && chmod +x "$work/node"
cp -a "$here/node_modules" "$here/bench.mjs" "$work/"
unxz_to "$work/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$work/node_modules/webgpu/dist/linux-x64/dawn.node"

# The NVIDIA driver's Vulkan ICD: where the driver installed it, unless the loader's own paths have one.
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  icd=$(ls /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json 2>/dev/null | head -1)
  [ -n "$icd" ] || icd=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'nvidia_icd*.json' -print 2>/dev/null | head -1)
  [ -n "$icd" ] && export VK_DRIVER_FILES="$icd"
fi
glx=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libGLX_nvidia.so.0' -print 2>/dev/null | head -1)
export LD_LIBRARY_PATH="$here/lib${glx:+:$(dirname "$glx")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
  echo "host: $(uname -srm); $(nproc) CPUs; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} libGLX_nvidia=${glx:-none}"
} | tee "$results/host.txt"

cp "$here/profile.mjs" "$work/"
# BENCH_GPU_PARTS: which of `bench` (kernels, table rows, training steps) and `profile` (the
# profiler on the ten inference networks, and its repeatability) run; both by default. The three
# time limits (with the peer's) keep the whole run under 8 minutes; each part keeps the rows it
# measured before its limit.
parts=${BENCH_GPU_PARTS:-bench,profile}
if [[ ",$parts," == *,bench,* ]]; then
  (cd "$work" && timeout "${BENCH_GPU_SECONDS:-200}" ./node bench.mjs "$results/webgpu.json") 2>&1 | tee "$results/webgpu.log"
fi
if [[ ",$parts," == *,profile,* ]]; then
  (cd "$work" && timeout "${BENCH_PROFILE_TIMEOUT:-170}" ./node profile.mjs "$results/profile.json") 2>&1 | tee "$results/profile.log"
fi
if [ "${BENCH_TORCH:-1}" != 0 ] && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  timeout "${BENCH_TORCH_SECONDS:-100}" python3 "$here/torch_peer.py" "$results/torch.json" 2>&1 | tee "$results/torch.log"
fi
# One table: ours against the peer, and the goals.
"$work/node" "$here/summary.mjs" "$results" | tee "$results/summary.md"
rm -rf "$work"
