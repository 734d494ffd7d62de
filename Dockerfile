# sharkfin-mcp container image: MCP server for the Sharkfin messaging daemon.
#
# Build:   docker build -t ghcr.io/work-fort/sharkfin-mcp:0.1.0 .
# stdio (the default; -i keeps stdin open, which is the MCP channel):
#          docker run -i --rm -e SHARKFIN_URL=wss://sharkfin.example.com/ws -e SHARKFIN_API_KEY \
#            ghcr.io/work-fort/sharkfin-mcp:0.1.0
# HTTP (streamable HTTP at /mcp; a non-loopback --host requires an access token, which clients
# send as "Authorization: Bearer <token>"):
#          docker run --rm -p 8765:8765 -e SHARKFIN_URL=... -e SHARKFIN_API_KEY -e SHARKFIN_MCP_TOKEN \
#            ghcr.io/work-fort/sharkfin-mcp:0.1.0 --transport http --host 0.0.0.0 --port 8765
#
# No HEALTHCHECK: in stdio mode there is nothing to probe from outside (the MCP channel is the
# process's stdin/stdout), and in HTTP mode every /mcp request needs the bearer token. Orchestrators
# probe the TCP port instead (see manifests/kubernetes/deployment.yaml); with plain Docker add
#   --health-cmd 'python -c "import socket; socket.create_connection((\"127.0.0.1\", 8765), 2)"'
# to `docker run` in HTTP mode.
#
# Reproducible inputs: the base image is pinned by tag and digest, uv and the build backend by
# version, and every runtime dependency by the hashes in uv.lock (exported and installed with
# --require-hashes). The digest is that of the multi-arch python:3.11.11-slim-bookworm index as
# published; re-check or refresh it with
#   docker buildx imagetools inspect python:3.11.11-slim-bookworm
# or override it: docker build --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<digest> .
# Needs BuildKit (the default builder since Docker 23) for RUN --mount.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

# ---------------------------------------------------------------------------------------------
# Stage 1: build the wheel and a wheelhouse of the locked, hash-checked dependencies.
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    SOURCE_DATE_EPOCH=315532800

RUN pip install uv==0.13.9

WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY sharkfin_mcp ./sharkfin_mcp

RUN echo "hatchling==1.33.0" > /tmp/build-constraints.txt \
 && uv build --wheel --build-constraint /tmp/build-constraints.txt --out-dir /dist \
 && uv export --frozen --no-dev --no-emit-project --format requirements-txt --output-file /dist/requirements.txt \
 && pip wheel --require-hashes --no-deps --wheel-dir /dist -r /dist/requirements.txt

# ---------------------------------------------------------------------------------------------
# Stage 2: the runtime image: the wheel and its dependencies, no build tools, a non-root user.
FROM ${PYTHON_IMAGE} AS runtime

LABEL io.modelcontextprotocol.server.name="io.github.work-fort/sharkfin-mcp" \
      org.opencontainers.image.title="sharkfin-mcp" \
      org.opencontainers.image.description="MCP server that lets AI agents talk on a Sharkfin chat daemon" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.source="https://github.com/work-fort/sharkfin-mcp" \
      org.opencontainers.image.url="https://github.com/work-fort/sharkfin-mcp" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="sharkfin-mcp developers" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.11-slim-bookworm"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# The wheels are bind-mounted from the build stage, so none of them ends up in a layer.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    pip install --no-index --find-links /dist --require-hashes -r /dist/requirements.txt \
 && pip install --no-index --no-deps /dist/sharkfin_mcp-*.whl \
 && pip check \
 && groupadd --system --gid 10001 sharkfin \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin sharkfin

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /tmp

# Used only with --transport http; stdio needs no port.
EXPOSE 8765

# SIGTERM (Docker's default stop signal) makes the server close the daemon sockets and exit.
ENTRYPOINT ["sharkfin-mcp"]
CMD []
