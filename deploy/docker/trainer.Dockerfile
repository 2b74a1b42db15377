# syntax=docker/dockerfile:1.7
# trainer: trains candidates on the CPU (wasm + oneDNN convolutions) (@sm-nas/trainer).
# Build from the repository root (proto/, libs/ and the lockfile are needed):
#   docker build -f deploy/docker/trainer.Dockerfile -t sm-nas/trainer:dev .
# Stage 1 installs the workspace from the lockfile and `pnpm deploy`s @sm-nas/trainer with its production
# dependencies into /out; the runtime stage has only that, runs as uid 10001 and works on a
# read-only root filesystem (it writes only to /tmp, an emptyDir in deploy/k8s).
ARG NODE_IMAGE=node:20.19-bookworm-slim
FROM ${NODE_IMAGE} AS build
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH
RUN corepack enable \
 && apt-get update && apt-get install -y --no-install-recommends libdnnl-dev g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
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
RUN pnpm --filter "${PACKAGE}" deploy --legacy --prod /out
# tsx runs the TypeScript sources as the workspace does (no build step); kept apart from /out so
# npm never touches the deployed pnpm tree.
RUN npm install --prefix /opt/tsx --no-save --no-package-lock tsx@4.20

FROM ${NODE_IMAGE} AS runtime
# oneDNN's OpenMP threads sleep between kernels instead of spinning (a training step is thousands of
# small kernels; spinning threads on shared cores were 5x slower). libgomp reads it when it loads.
ENV NODE_ENV=production TRAINER_HOST=0.0.0.0 TRAINER_PORT=50054 OMP_WAIT_POLICY=passive
RUN apt-get update && apt-get install -y --no-install-recommends libdnnl2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build --chown=0:0 /out /app
COPY --from=build --chown=0:0 /opt/tsx /opt/tsx
USER 10001:10001
EXPOSE 50054
# gRPC health is served by the process itself (grpc.health.v1); kubelet probes it directly.
ENTRYPOINT ["node", "--import", "/opt/tsx/node_modules/tsx/dist/loader.mjs", "src/main.ts"]
