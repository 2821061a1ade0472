# syntax=docker/dockerfile:1
# Cairn's container image: compiled in a build stage with the dev dependencies (TypeScript), run
# in a slim stage holding only production dependencies, as a non-root user.
#
#   docker build -t cairn .
#   docker run -d -p 5000:5000 -v cairn-data:/var/lib/cairn -e CAIRN_ADMIN_PASSWORD=… cairn
#
# Debian (glibc), not Alpine: the embedded database's data-directory lock loads a prebuilt native
# addon that has no musl build (see README, "One process per embedded data directory").
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1 forwards signals and reaps orphaned children; Cairn itself handles SIGTERM by
# closing its listener and database. Fixed uid/gid so volumes and Kubernetes' runAsUser agree.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cairn \
 && useradd --system --uid 10001 --gid cairn --home-dir /var/lib/cairn --no-create-home --shell /usr/sbin/nologin cairn \
 && mkdir -p /var/lib/cairn \
 && chown cairn:cairn /var/lib/cairn
WORKDIR /opt/cairn
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Production dependencies at the lockfile's versions; none of them needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY migrations ./migrations
COPY --from=build /src/dist/src ./dist/src

# Listen on every interface inside the container. Off loopback Cairn refuses to start without an
# admin: set CAIRN_ADMIN_PASSWORD (or pass --allow-open for a registry open to anyone).
ENV CAIRN_LISTEN=0.0.0.0:5000 \
    CAIRN_DATA_DIR=/var/lib/cairn
VOLUME ["/var/lib/cairn"]
EXPOSE 5000
USER cairn:cairn

# No curl in slim images: node asks /healthz itself, on the port CAIRN_LISTEN names.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const port = (process.env.CAIRN_LISTEN || '').split(':').pop() || '5000'; fetch('http://127.0.0.1:' + port + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/cairn/bin/cairn.js"]
CMD ["serve"]
