# smtoolkit base image: Python + smtoolkit in /opt/venv, `smtoolkit` as the entry point.
#
#   docker build -t smtoolkit .                                     # from a checkout of this repository
#   docker build -t smtoolkit --build-arg BASE=local/debian-py:bookworm .   # any Debian-like image with python3 + venv
#
# The platform runs `docker run IMAGE train` (or `serve`, or a processing job's arguments); with
# ENTRYPOINT ["smtoolkit"] in exec form that is `smtoolkit train`, run as PID 1 with no shell in between, so
# SIGTERM from `docker stop` / StopTrainingJob reaches the launcher, which forwards it to the user's code.
# Your image: FROM this one, copy your code outside /opt/ml (the platform mounts over /opt/ml), name it:
#   FROM smtoolkit
#   COPY train.py /opt/program/
#   ENV SAGEMAKER_SUBMIT_DIRECTORY=/opt/program SAGEMAKER_PROGRAM=train.py
ARG BASE=python:3.11-slim-bookworm

# Stage 1: build and install smtoolkit (and its dependencies from PyPI) into a venv. Only pyproject.toml,
# README.md and src/ are in the context (.dockerignore); the build tools stay in this stage. The setuptools
# that a 3.11 venv is seeded with goes (8 MB; pip fetches build backends into an isolated env when it needs one).
FROM ${BASE} AS build
COPY pyproject.toml README.md /build/smtoolkit/
COPY src /build/smtoolkit/src
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check /build/smtoolkit \
    && /opt/venv/bin/pip uninstall --yes --quiet setuptools

# Stage 2: the base image plus the venv. Same BASE, so the venv's python3 link resolves.
FROM ${BASE}
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      org.opencontainers.image.title="smtoolkit" \
      org.opencontainers.image.description="SageMaker container contract: train, serve, process"
COPY --from=build /opt/venv /opt/venv
# An unprivileged user for running where the platform allows it (`docker run --user smtoolkit IMAGE serve`, a
# derived serving image's `USER smtoolkit`). The default stays root: SageMaker creates /opt/ml/model,
# /opt/ml/output and /opt/ml/processing/* owned by root and the training / processing code must write there.
RUN useradd --uid 1000 --user-group --no-log-init --create-home --shell /usr/sbin/nologin smtoolkit
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
EXPOSE 8080
ENTRYPOINT ["smtoolkit"]
CMD ["--help"]
