# syntax=docker/dockerfile:1
# Production image: runs against an external PostgreSQL (DATABASE_URL) and needs
# SYNAPSE_SECRET_KEY; it never starts the embedded database.
FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY synapse_gql ./synapse_gql
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SYNAPSE_HOST=0.0.0.0 \
    SYNAPSE_PORT=8000 \
    SYNAPSE_ALEMBIC_DIR=/app/alembic
RUN groupadd --system --gid 10001 synapse \
 && useradd --system --uid 10001 --gid synapse --home-dir /app synapse
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic ./alembic
COPY alembic.ini schema.graphql ./
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["synapse-gql", "serve", "--workers", "2"]
