# The Nightshift image: the `nightshift` CLI and its TypeScript sources, run through tsx (no
# build step). docker-compose.yml runs it as the scheduler, the workers and the HTTP server.
#
#   docker build -t nightshift:local .
#   docker run --rm nightshift:local dags list
FROM node:20-slim

WORKDIR /app

# Dependencies first, so that editing the sources does not reinstall them. Runtime
# dependencies only (tsx is one). The optional TensorFlow native backends are peer
# dependencies and are not installed (the wasm backend is the default); should onnxruntime-node
# be added, these variables stop its install script from downloading CUDA binaries.
COPY package.json package-lock.json ./
RUN ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
    npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

COPY . .

# Everything Nightshift writes goes under /var/lib/nightshift (a volume in docker-compose.yml).
# It belongs to the base image's unprivileged `node` user, so a new named volume mounted there
# starts owned by it too.
RUN mkdir -p /var/lib/nightshift/datasets && chown -R node:node /var/lib/nightshift
ENV NIGHTSHIFT_HOME=/var/lib/nightshift \
    NIGHTSHIFT_DATA=/var/lib/nightshift/datasets \
    NIGHTSHIFT_DAGS=/app/dags \
    NIGHTSHIFT_LOG_FORMAT=json
USER node

# Exec form, so that node itself receives SIGTERM (`docker stop`): the scheduler, workers and
# server then hand back their work and stop.
ENTRYPOINT ["node", "bin/nightshift.js"]
CMD ["--help"]
