# syntax=docker/dockerfile:1
# frames gateway: `docker build -t frames-gateway .` then `docker run -p 4000:4000 frames-gateway` (embedded engine),
# or with MAVI_API_KEY + MAVI_WEBHOOK_SECRET set for memories.ai. compose.yaml runs two instances over one Redis.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Compiling needs only TypeScript and the type packages: no install scripts (the ffmpeg binaries are not used here).
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The demo app at /: npm run build bundles it into dist/web with esbuild (scripts/build-web.ts).
COPY web ./web
COPY scripts/build-web.ts ./scripts/build-web.ts
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data \
    MEDIA_CACHE_DIR=/data/media-cache
WORKDIR /app
COPY package.json package-lock.json ./
# The installers' postinstall makes ffmpeg/ffprobe executable for their owner only (root here): open them to the
# non-root user the gateway runs as.
RUN npm ci --omit=dev \
 && npm cache clean --force \
 && find node_modules/@ffmpeg-installer node_modules/@ffprobe-installer -type f \( -name ffmpeg -o -name ffprobe \) -exec chmod 0755 {} + \
 && mkdir -p /data \
 && chown node:node /data
COPY --from=build /app/dist ./dist
# Engine index and uploads, media cache, webhook spool: keep them across restarts.
VOLUME /data
USER node
EXPOSE 4000
# No curl in slim images: Node's own fetch does the probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 (no npm wrapper): SIGTERM reaches the gateway, which drains within SHUTDOWN_TIMEOUT_MS.
CMD ["node", "dist/main.js"]
