# The gateway as a container. PostgreSQL comes from DATABASE_URL (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY gateway gateway
COPY providers providers
COPY storage storage
COPY migrations migrations
RUN pip install . && useradd --system --uid 10001 multichat \
    && mkdir /data && chown multichat /data

# DATA_DIR: where the first client key is kept (docs/security.md); mount a volume there.
ENV DATA_DIR=/data

USER multichat
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health').status != 200)"
CMD ["multichat", "serve"]
