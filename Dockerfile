# One slim, non-root image for the three app services of docker-compose.yml: web (gunicorn,
# migrations on start: docker/web-entrypoint.sh), worker and beat (Celery).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Hashed, compressed static file names (whitenoise's manifest storage; needs collectstatic,
    # which runs below). Used only with DEBUG off.
    STATIC_FILES_MANIFEST=true \
    MEDIA_ROOT=/app/media \
    PORT=8000

WORKDIR /app
# requirements.txt is one pinned file, test tools included (pytest, ruff, hypothesis,
# schemathesis, playwright's Python package without its browsers): a bigger image, but the exact
# set the test suite ran against, and the suite can be run inside the image.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files collected at build with production settings (throw-away SECRET_KEY: nothing is
# signed at build), then the unprivileged user that runs everything.
RUN DEBUG=false SECRET_KEY=collectstatic-only-build-time-key-not-used-at-runtime-0123456789 \
        ALLOWED_HOSTS=localhost READ_DOT_ENV=false \
        python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /app/media \
    && chown -R app:app /app/media
USER app

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "docker/healthcheck.py", "web"]
CMD ["docker/web-entrypoint.sh"]
