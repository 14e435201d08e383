# runofshow as a container: `runofshow worker` by default (team mode, several replicas on one
# PostgreSQL), `runofshow serve` with other arguments. The database URL comes from RUNOFSHOW_STATE.
# Built in two stages: the wheel is built from this checkout, and only the wheel is installed.
#
#   docker build -t runofshow:0.1.0 .
#   docker run -e RUNOFSHOW_STATE=postgresql://runofshow@db/runofshow runofshow:0.1.0
#
# Not built on the project's own machines (no container engine there): the tests parse this file.

# The base image pinned by digest (a tag can be pushed again; a digest cannot). This digest of
# python:3.11.11-slim-bookworm was not resolved here (no container engine or registry client on the
# project's machines): it is the one published for that tag that many public repositories pin in
# their Dockerfiles (found with a code search, December 2026; 3.11.11 is no longer rebuilt upstream,
# so it stays its last). Check it once with `docker buildx imagetools inspect
# python:3.11.11-slim-bookworm`, and let Renovate (dockerfile manager) or Dependabot (docker
# ecosystem) keep tag and digest current from then on.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --disable-pip-version-check "pip>=24" "build>=1.2" \
 && python -m build --wheel --outdir /dist .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --disable-pip-version-check /tmp/dist/*.whl \
 && rm -rf /tmp/dist \
 && groupadd --system --gid 10001 runofshow \
 && useradd --system --uid 10001 --gid runofshow --home-dir /home/runofshow --create-home runofshow
USER 10001:10001
WORKDIR /home/runofshow
EXPOSE 8700
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["runofshow", "worker-alive", "/tmp/runofshow-worker.alive", "--max-age", "30"]
ENTRYPOINT ["runofshow"]
CMD ["worker", "--heartbeat-file", "/tmp/runofshow-worker.alive"]
