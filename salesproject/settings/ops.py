"""Health checks and metrics (``core/ops/health.py``, ``core/ops/metrics.py``)."""

from pathlib import Path

from salesproject.environment import config_error as _config_error
from salesproject.environment import env
from salesproject.environment import env_float as _env_float

# Seconds each readiness check (database, cache, broker) may take before it counts as down.
HEALTH_CHECK_TIMEOUT = _env_float("HEALTH_CHECK_TIMEOUT", 2.0)
# /metrics needs "Authorization: Bearer <METRICS_TOKEN>"; unset: staff sessions only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="").strip()
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise _config_error("METRICS_TOKEN", "it must be at least 16 characters (or unset)")
# Gunicorn with several workers: a directory (empty at start) where every process writes its
# metrics; /metrics aggregates them (prometheus_client reads the variable itself too).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="").strip()
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise _config_error(
        "PROMETHEUS_MULTIPROC_DIR", f"{PROMETHEUS_MULTIPROC_DIR!r} is not a directory"
    )
