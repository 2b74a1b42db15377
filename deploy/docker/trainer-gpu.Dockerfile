# syntax=docker/dockerfile:1.7
# trainer-gpu: trains candidates on a GPU (@sm-nas/trainer on tfjs's webgpu backend: Dawn through Vulkan).
# Build from the repository root:
#   docker build -f deploy/docker/trainer-gpu.Dockerfile -t sm-nas/trainer-gpu:dev .
# Vulkan needs no CUDA: the image is Node 20 on Debian with the Vulkan loader and the glvnd libraries,
# and the GPU's Vulkan driver comes from the node. On NVIDIA the container toolkit mounts it
# (nvidia_icd.json, libGLX_nvidia and the rest) only for the `graphics` driver capability, hence the
# default below; AMD and Intel GPUs are driven by Mesa's RADV and ANV from this image through the
# render node their device plugin passes in. Stage 1 deploys the package with its production
# dependencies (Dawn's prebuilt dawn.node among them); the runtime stage runs as uid 10001 on a
# read-only root filesystem (writes to /tmp only).
#
# The CUDA variant runs native TensorFlow instead: @tensorflow/tfjs-node-gpu 4.22 binds libtensorflow
# 2.9, which wants CUDA 11.2 and cuDNN 8, and its install step downloads libtensorflow (the build
# needs network access). Dawn's dawn.node needs glibc 2.34 and Ubuntu 20.04 has 2.31, so that image
# runs tensorflow only, and deploy/k8s's GPU components, which set SM_NAS_TFJS_BACKEND=webgpu on the
# pod, must say tensorflow for it:
#   docker build -f deploy/docker/trainer-gpu.Dockerfile -t sm-nas/trainer-gpu:dev-cuda \
#     --build-arg BASE_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 --build-arg TFJS_BACKEND=tensorflow .
ARG NODE_IMAGE=node:20.19-bookworm-slim
ARG BASE_IMAGE=${NODE_IMAGE}
ARG TFJS_BACKEND=webgpu
FROM ${NODE_IMAGE} AS node

FROM ${BASE_IMAGE} AS build
ARG TFJS_BACKEND
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH
# Node from the official image whatever the base (a CUDA base has none); the C++ toolchain only for
# tfjs-node-gpu, whose install falls back to node-gyp when no prebuilt binding fits.
COPY --from=node /usr/local /usr/local
RUN if [ "${TFJS_BACKEND}" = tensorflow ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates g++ make python3 \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && corepack enable
WORKDIR /src
# Manifests first so the dependency layer is cached across source edits.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --ignore-scripts
COPY proto proto
COPY libs libs
COPY services services
COPY tests/package.json tests/package.json
COPY bench/package.json bench/package.json
RUN pnpm install --frozen-lockfile --offline
ARG PACKAGE=@sm-nas/trainer
# tfjs-node-gpu pinned to the workspace's @tensorflow/tfjs-core, so that its `tensorflow` backend
# registers with ours.
RUN if [ "${TFJS_BACKEND}" = tensorflow ]; then \
      pnpm --filter "${PACKAGE}" add --allow-build=@tensorflow/tfjs-node-gpu @tensorflow/tfjs-node-gpu@4.22.0; \
    fi \
 && pnpm --filter "${PACKAGE}" deploy --legacy --prod /out
# tsx runs the TypeScript sources as the workspace does (no build step); kept apart from /out so
# npm never touches the deployed pnpm tree.
RUN npm install --prefix /opt/tsx --no-save --no-package-lock tsx@4.20

FROM ${BASE_IMAGE} AS runtime
ARG TFJS_BACKEND
# The backend is forced rather than `auto`: a trainer on a node whose GPU it cannot reach fails its
# jobs saying what is missing (for webgpu: which Vulkan piece) instead of training them on the CPU.
# NVIDIA_VISIBLE_DEVICES serves `docker run` with the NVIDIA runtime; in Kubernetes the device plugin
# replaces it with the GPU it allocated. The drivers' shader caches are off: the root filesystem is
# read-only, /tmp is a small emptyDir that dies with the pod, and Dawn keeps its compiled pipelines in
# memory for the life of the process anyway.
ENV NODE_ENV=production TRAINER_HOST=0.0.0.0 TRAINER_PORT=50054 SM_NAS_TFJS_BACKEND=${TFJS_BACKEND} \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    MESA_SHADER_CACHE_DISABLE=true __GL_SHADER_DISK_CACHE=0
# Mesa's lavapipe (a CPU rasteriser) goes: a GPU image that finds no GPU must fail, not run on it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 mesa-vulkan-drivers \
 && rm -f /usr/share/vulkan/icd.d/lvp_icd.*.json \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build --chown=0:0 /out /app
COPY --from=build --chown=0:0 /opt/tsx /opt/tsx
USER 10001:10001
EXPOSE 50054
# gRPC health is served by the process itself (grpc.health.v1); kubelet probes it directly.
ENTRYPOINT ["node", "--import", "/opt/tsx/node_modules/tsx/dist/loader.mjs", "src/main.ts"]
