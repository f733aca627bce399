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

# --- runtime: the virtual environment, the system libraries the pdf extra needs, no build tools.
# Fonts: DejaVu for Latin, Greek, Cyrillic, Hebrew and Arabic; Noto Sans CJK for Chinese, Japanese
# and Korean names and Noto Color Emoji for emoji, which the PDF otherwise prints as empty boxes.
# The serif CJK faces are removed (the report uses sans-serif only): +50 MB instead of +100 MB.
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
      fontconfig fonts-noto-cjk fonts-noto-color-emoji \
 && rm -f /usr/share/fonts/opentype/noto/NotoSerifCJK-*.ttc \
 && fc-cache -f \
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
