# syntax=docker/dockerfile:1
# Co-op WebServers: one ring server per container.
#   docker build -t coop-webservers .
#   docker run -d -v coop-data:/data -p 127.0.0.1:4043:4043 coop-webservers
# See docs/deploy.md; compose.yaml starts a ring of three.

# Build: every dependency (the compiler included), then the programs into dist/,
# then the dev dependencies removed, so the runtime stage copies production ones only.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts run below, once the sources are in (`prepare` would compile them now).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm rebuild \
 && npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime: Node, dist/src and the production dependencies; runs as the image's
# unprivileged user `node` (uid 1000), which owns only /data.
FROM node:20-slim
ENV NODE_ENV=production \
    WEBSERVER_DATA=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
RUN printf '#!/bin/sh\nexec node /app/dist/src/cli/webserver.js "$@"\n' > /usr/local/bin/webserver \
 && printf '#!/bin/sh\nexec node /app/dist/src/cli/webclient.js "$@"\n' > /usr/local/bin/webclient \
 && chmod 755 /usr/local/bin/webserver /usr/local/bin/webclient \
 && mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4043
# Without options the server listens on the address the container's host name
# resolves to (its address on the container network), port 4043; so does this check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://' + require('os').hostname() + ':4043/_health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/src/cli/webserver.js"]
CMD []
