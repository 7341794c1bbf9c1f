#
# One image recipe for every app of the monorepo, selected by the build arg APP:
#
#   docker build --build-arg APP=filter -t dataflow-filter .
#
# APP is one of: generator | filter | db-writer | mongo-writer.
# docker-compose.yml builds all four from this file.
#
# Everything that does not depend on APP comes first and is shared by the four images: one
# `npm ci` with dev dependencies, one build of all four apps, one `npm ci --omit=dev`, and a
# runtime stage holding the production dependencies. `ARG APP` is declared only after those
# layers, so building the second, third and fourth image reuses them from the build cache and
# the four images share every layer except the app's compiled code.
#
# NODE_IMAGE must be a Debian-based Node.js 24 image with npm and a `node` user (uid 1000). Where
# Docker Hub cannot be reached, deploy/container-check.sh builds one locally and passes it here.
#
# No `# syntax=` line: BuildKit would fetch that frontend from Docker Hub; the built-in Dockerfile
# frontend supports every instruction used here.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------- dependencies (all of them)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The optional `npm_ca` secret is a CA bundle for registries reached through a TLS-inspecting
# proxy; it is used for the install only and never stored in a layer.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npm_ca,target=/run/secrets/npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --no-audit --no-fund

# ---------------------------------------------------------------- build (all four apps, once)
FROM deps AS build
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
RUN npm run build

# ---------------------------------------------------------------- production dependencies
# --omit=optional as well: the lock marks packages that are dev dependencies here and optional
# peers of a production package as "devOptional" (typescript, ts-node and mongodb through
# typeorm), and npm keeps those unless both kinds are omitted; the only other optional package
# is pg-cloudflare, for Cloudflare Workers. About 35 MB less in every image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npm_ca,target=/run/secrets/npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --omit=optional --no-audit --no-fund

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Code and dependencies stay owned by root: the app runs as `node` and must not be able to
# change them.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY deploy/docker/healthcheck.cjs ./healthcheck.cjs

# The only places the apps write: the filter's file sink and the generator's seq state. They are
# created here, owned by `node`, so a fresh named volume mounted on them inherits that ownership.
RUN mkdir -p /app/data/filtered /app/data/generator \
 && chown -R node:node /app/data
ENV FILTER_OUTPUT_DIR=/app/data/filtered \
    GENERATOR_STATE_DIR=/app/data/generator

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
# The semi-space cap is the apps' memory policy (libs/config/src/heap-policy.ts).
CMD ["sh", "-c", "exec node --max-semi-space-size=8 dist/apps/${APP}/main.js"]

USER node

# ---------------------------------------------------------------- the one app (the only per-app layers)
ARG APP
# Fail with one clear line rather than with a COPY of a path that does not exist.
RUN case "${APP}" in \
      generator|filter|db-writer|mongo-writer) ;; \
      *) echo "build arg APP must be generator, filter, db-writer or mongo-writer (got '${APP}')" >&2; exit 1 ;; \
    esac
ENV APP=${APP}
COPY --from=build /app/dist/apps/${APP} ./dist/apps/${APP}
