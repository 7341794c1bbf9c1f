# syntax=docker/dockerfile:1.7
#
# One image recipe for every app of the monorepo, selected by the build arg APP:
#
#   docker build --build-arg APP=filter -t dataflow-filter .
#
# APP is one of: generator | filter | db-writer | mongo-writer.
# docker-compose.yml builds all four from this file.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
ARG APP
# Fail early with one clear line rather than deep inside `nest build`.
RUN case "${APP}" in \
      generator|filter|db-writer|mongo-writer) ;; \
      *) echo "build arg APP must be generator, filter, db-writer or mongo-writer (got '${APP}')" >&2; exit 1 ;; \
    esac
WORKDIR /app

# Manifests first so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
RUN npx nest build "${APP}"

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
ARG APP
ENV NODE_ENV=production \
    APP=${APP}
WORKDIR /app

# Production dependencies only, from the same lockfile as the build stage.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# Compiled code stays owned by root: the app runs as `node` and must not be able to change it.
COPY --from=build /app/dist/apps/${APP} ./dist/apps/${APP}
COPY deploy/docker/healthcheck.cjs ./healthcheck.cjs

# The only places the apps write: the filter's file sink and the generator's seq state. They are
# created here, owned by `node`, so a fresh named volume mounted on them inherits that ownership.
RUN mkdir -p /app/data/filtered /app/data/generator \
 && chown -R node:node /app/data
ENV FILTER_OUTPUT_DIR=/app/data/filtered \
    GENERATOR_STATE_DIR=/app/data/generator

USER node

# Contract default ports (generator 3001, filter 3002, db-writer 3003, mongo-writer 3004). An image
# holds one app, but EXPOSE cannot depend on a build arg's value, so all four are declared; it is
# documentation only, publishing is done by compose or Kubernetes.
EXPOSE 3001 3002 3003 3004

# Liveness only: readiness depends on other services, and an unhealthy mark must not follow a
# broker outage. The script finds the port from APP and the app's port variable.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/healthcheck.cjs", "/health/live"]

# `exec` makes node PID 1's direct replacement, so SIGTERM reaches it and the app drains
# (Nest's shutdown hooks install the handler; a shell in between would swallow the signal).
CMD ["sh", "-c", "exec node dist/apps/${APP}/apps/${APP}/src/main.js"]
