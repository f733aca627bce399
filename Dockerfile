# mlwarden as a container image: `docker build -t mlwarden .` then
#   docker run --rm -v "$PWD/out:/work/out" mlwarden scan --demo --out out --fail-on none
# Credentials come from the environment at run time (workload identity, managed identity or
# AZURE_* variables); nothing secret is copied into any layer (see .dockerignore).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a wheel from the source tree, installed with its extras into a virtual environment
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m pip install "build>=1.2"
COPY pyproject.toml README.md ./
COPY scanner ./scanner
COPY checks ./checks
COPY frameworks ./frameworks
COPY reports ./reports
RUN python -m build --wheel --outdir /dist . \
 && python -m venv /opt/mlwarden \
 && wheel="$(ls /dist/mlwarden-*.whl)" \
 && /opt/mlwarden/bin/pip install "${wheel}[pdf,postgres]"

# --- runtime: the virtual environment, the system libraries the pdf extra needs, no build tools
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /work --create-home --shell /usr/sbin/nologin mlwarden
COPY --from=build /opt/mlwarden /opt/mlwarden
ENV PATH="/opt/mlwarden/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["mlwarden"]
CMD ["--help"]
