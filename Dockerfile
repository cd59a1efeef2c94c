# syntax=docker/dockerfile:1
# pit-guard in a container, for CI systems that run images:
#
#   docker build -t pit-guard .
#   docker run --rm -v "$PWD:/src" pit-guard scan --staged          # or: audit, scan ., ci, ...
#
# The repository to scan is mounted at /src (the working directory). It belongs to another user
# than the container's, so git's ownership check (safe.directory) is relaxed in the image's system
# git config: the container only ever sees what it is given.
#
# Base: the official Python 3.12 slim image on Debian 12 (bookworm), pinned by the digest of
# python:3.12.13-slim-bookworm (multi-platform index; see CONTRIBUTING.md to update it).
ARG PYTHON_IMAGE=python:3.12.13-slim-bookworm@sha256:4766d8b510c428e595d74b9cc5bbb2fae8e26316fffb4adc89908d79aacd58a2

FROM ${PYTHON_IMAGE} AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY pit_guard ./pit_guard
# The wheel of pit-guard and of each dependency: the runtime stage installs them without a compiler.
RUN python -m pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# git is how pit-guard reads staged changes, ranges and history. Its version comes from the
# bookworm archive of the pinned base (security updates included), hence no version pin here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'
COPY --from=build /wheels /tmp/wheels
# Only the wheels built above (--no-index): nothing is resolved again here.
RUN python -m pip install --no-index --find-links /tmp/wheels /tmp/wheels/pit_guard-*.whl \
    && rm -rf /tmp/wheels \
    && groupadd --gid 10001 pit-guard \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin pit-guard
# Not root: a numeric id, so `docker run --user` and Kubernetes runAsNonRoot can check it.
USER 10001:10001
WORKDIR /src
ENTRYPOINT ["pit-guard"]
CMD ["--help"]
