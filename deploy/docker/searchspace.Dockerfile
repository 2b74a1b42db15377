# syntax=docker/dockerfile:1.7
# searchspace: stateless search-space service (@sm-nas/searchspace).
# Build from the repository root (proto/, libs/ and the lockfile are needed):
#   docker build -f deploy/docker/searchspace.Dockerfile -t sm-nas/searchspace:dev .
# Stage 1 installs the workspace from the lockfile and `pnpm deploy`s @sm-nas/searchspace with its production
# dependencies into /out; the runtime stage has only that, runs as uid 10001 and works on a
# read-only root filesystem (it writes only to /tmp, an emptyDir in deploy/k8s).
ARG NODE_IMAGE=node:20.19-bookworm-slim
FROM ${NODE_IMAGE} AS build
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH
RUN corepack enable
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
ARG PACKAGE=@sm-nas/searchspace
RUN pnpm --filter "${PACKAGE}" deploy --legacy --prod /out
# tsx runs the TypeScript sources as the workspace does (no build step); kept apart from /out so
# npm never touches the deployed pnpm tree.
RUN npm install --prefix /opt/tsx --no-save --no-package-lock tsx@4.20

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production SEARCHSPACE_HOST=0.0.0.0 SEARCHSPACE_PORT=50051
WORKDIR /app
COPY --from=build --chown=0:0 /out /app
COPY --from=build --chown=0:0 /opt/tsx /opt/tsx
USER 10001:10001
EXPOSE 50051
# gRPC health is served by the process itself (grpc.health.v1); kubelet probes it directly.
ENTRYPOINT ["node", "--import", "/opt/tsx/node_modules/tsx/dist/loader.mjs", "src/main.ts"]
