# One image for every process (web, worker, beat, flower); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BBRELAY_BIND=0.0.0.0:8000

WORKDIR /app
# The locked versions first (their own layer, kept while only the code changes), then the code.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY receiver ./receiver
COPY workers ./workers
COPY shared ./shared
COPY bbrelay ./bbrelay
RUN pip install --no-deps . \
    && useradd --system --create-home --uid 10001 bbrelay \
    && mkdir -p /app/var/spool \
    && chown bbrelay /app/var /app/var/spool \
    && chmod 0700 /app/var/spool

USER bbrelay
EXPOSE 8000
CMD ["gunicorn", "-c", "python:receiver.gunicorn_conf", "receiver.wsgi:app"]
