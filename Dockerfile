# One image for all four services; compose picks the service per container
# (`python -m services.<name>`) and runs the one-shot `shuangda migrate`.
#
#   docker build -t shuangda:0.1.0 .
#
# The base is pinned by version tag; bump it deliberately, never float.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/shuangda
ENV PATH=/opt/shuangda/bin:$PATH
WORKDIR /src
# Dependencies first, from the lock only, so code edits reuse this layer.
COPY requirements.lock ./
RUN pip install -r requirements.lock
# Then the project itself, without re-resolving anything.
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
RUN pip install --no-deps . \
 && python -c "import shared, services, deploy.cli"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 shuangda \
 && useradd --system --uid 10001 --gid shuangda --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin shuangda
COPY --from=build /opt/shuangda /opt/shuangda
ENV PATH=/opt/shuangda/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SHUANGDA_DEV=false \
    SHUANGDA_STATE_DIR=/tmp/shuangda
WORKDIR /tmp
USER 10001:10001
EXPOSE 8001 8002 8003 8004
# No default service: each container names its own command.
CMD ["python", "-c", "import sys; sys.exit('choose a command: python -m services.<intake|routing|notify|credit> or shuangda migrate')"]
