# chipgate: the GraphQL gateway, compiled with tsc (`npm run build`) and run by plain node.
#
#   docker build -t chipgate .
#   docker run --rm -p 127.0.0.1:4000:4000 chipgate                  # embedded PGlite, seeded
#   docker run --rm -p 127.0.0.1:4000:4000 \
#     -e DATABASE_URL=postgres://user:password@host:5432/chipgate chipgate   # a server, not seeded
#
# docker-compose.yml runs it next to PostgreSQL; test/docker-compose.test.ts checks both files.

# Build stage: every dependency (typescript among them), then `npm run build` into dist/.
FROM node:20-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
# patches/ before the install: `npm ci` applies them (postinstall), e.g. the postgres.js guard.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Runtime dependencies only; drizzle-kit, vitest, biome, typescript and the rest stay out.
# patch-package is a runtime dependency so that this install applies patches/ as well.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev && npm cache clean --force

# The compiled application (with the seed data set), the committed migrations, the SDL contract.
# Owned by root and read-only for the process; only .chipgate (the embedded PGlite directory
# used when DATABASE_URL is unset) is writable by the runtime user. src stays for `npm run`
# commands (db:seed, keys) that the compose file's one-shot services call.
COPY --from=build /app/dist ./dist
COPY src ./src
COPY tsconfig.json ./
COPY drizzle ./drizzle
COPY schema ./schema
# The PGlite template (drizzle/ migrated, the seed loaded) that a new embedded directory is
# copied from: the container's first start opens a ready database instead of running initdb,
# migrations and seed. Built here (npm ci ran before src/ and drizzle/ were in the image),
# owned by root, read by the runtime user; the gateway rebuilds nothing while its key matches.
RUN node dist/cli.js template
RUN mkdir -p /app/.chipgate && chown node:node /app/.chipgate

# Listen on every interface inside the container; publish the port on the host as you see fit.
# Reachable from other machines, so the schema goes to callers with an API key only (the
# default off loopback anyway; said here so that a CHIPGATE_HOST override cannot loosen it).
ENV CHIPGATE_HOST=0.0.0.0 \
    CHIPGATE_PORT=4000 \
    CHIPGATE_INTROSPECTION=keys
# The Federal Register sync runs hourly (at minute 17, off the hour's rush), once across every
# instance on the same database (a job queue in it; see README "Scheduled sync"); set
# CHIPGATE_SYNC_FR_CRON= (empty) to turn it off.
ENV CHIPGATE_SYNC_FR_CRON="17 * * * *"
EXPOSE 4000

# The official image's unprivileged user (uid 1000).
USER node

# Ready = listening, migrated, and the database answers. No curl in slim images: use node.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.CHIPGATE_PORT || 4000) + '/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node is PID 1 (no npm or shell in between), so SIGTERM from `docker stop` reaches the gateway,
# which stops accepting, drains requests in flight (CHIPGATE_SHUTDOWN_TIMEOUT_MS) and exits 0.
# The compiled code, no TypeScript loader at run time.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
