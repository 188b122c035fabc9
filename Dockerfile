# okr-sync in a container: the daemon by default; `python /app/run.py sync` for one-shot jobs.
# No secrets are baked in: tokens and the database URL come from the environment or from
# files in /run/secrets/okrsync (named like the settings: jira__token, github__token, ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 okrsync \
 && useradd --system --uid 10001 --gid okrsync --home-dir /data --shell /usr/sbin/nologin okrsync \
 && mkdir -p /data /config \
 && chown okrsync:okrsync /data

# Only what a deployment runs: the three packages the wheel holds and run.py (the commands
# below and in deploy/ name /app/run.py). The sandbox and the benchmark stay in the checkout.
WORKDIR /app
COPY pyproject.toml README.md run.py ./
COPY config ./config
COPY connectors ./connectors
COPY sync ./sync
RUN pip install --no-compile .

# Runtime: the default SQLite store lands in /data (a volume); use PostgreSQL for replicas.
# The health port answers /healthz and /metrics only; OKRSYNC_DAEMON__HEALTH_SERVES_DASHBOARD=true
# adds the dashboard there (then set OKRSYNC_DASHBOARD__TOKEN: the port listens on 0.0.0.0).
ENV OKRSYNC_CONFIG=/config/okrs.yaml \
    OKRSYNC_LOG_FORMAT=json \
    OKRSYNC_DAEMON__HEALTH_HOST=0.0.0.0 \
    OKRSYNC_DAEMON__HEALTH_PORT=9464
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 9464

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "sync.health"]
CMD ["python", "/app/run.py", "daemon"]
