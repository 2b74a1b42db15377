# syntax=docker/dockerfile:1.7
# trainer-gpu: trains candidates on an NVIDIA GPU (@sm-nas/trainer + @tensorflow/tfjs-node-gpu).
# Build from the repository root:
#   docker build -f deploy/docker/trainer-gpu.Dockerfile -t sm-nas/trainer-gpu:dev .
# @tensorflow/tfjs-node-gpu 4.22 binds libtensorflow 2.9 (CUDA 11.2, cuDNN 8), hence the CUDA base.
# The install step of tfjs-node-gpu downloads libtensorflow: the build needs network access.
# Stage 1 adds tfjs-node-gpu (same @tensorflow/tfjs-core as the workspace, so its `tensorflow`
# backend registers with ours) and deploys the package; the runtime stage is CUDA + Node 20 + /app,
# uid 10001, read-only root filesystem (writes to /tmp only). The GPU comes from the NVIDIA device
# plugin (resources: nvidia.com/gpu in deploy/k8s).
ARG NODE_IMAGE=node:20.19-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE} AS build
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH DEBIAN_FRONTEND=noninteractive
COPY --from=node /usr/local /usr/local
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates g++ make python3 \
 && rm -rf /var/lib/apt/lists/* && corepack enable
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --ignore-scripts
COPY proto proto
COPY libs libs
COPY services services
COPY tests/package.json tests/package.json
COPY bench/package.json bench/package.json
RUN pnpm install --frozen-lockfile --offline
ARG PACKAGE=@sm-nas/trainer
RUN pnpm --filter "${PACKAGE}" add --allow-build=@tensorflow/tfjs-node-gpu @tensorflow/tfjs-node-gpu@4.22.0 \
 && pnpm --filter "${PACKAGE}" deploy --legacy --prod /out
# tsx runs the TypeScript sources as the workspace does (no build step); kept apart from /out so
# npm never touches the deployed pnpm tree.
RUN npm install --prefix /opt/tsx --no-save --no-package-lock tsx@4.20

FROM ${CUDA_IMAGE} AS runtime
ENV NODE_ENV=production TRAINER_HOST=0.0.0.0 TRAINER_PORT=50054 SM_NAS_TFJS_BACKEND=tensorflow
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build --chown=0:0 /out /app
COPY --from=build --chown=0:0 /opt/tsx /opt/tsx
USER 10001:10001
EXPOSE 50054
ENTRYPOINT ["node", "--import", "/opt/tsx/node_modules/tsx/dist/loader.mjs", "src/main.ts"]
