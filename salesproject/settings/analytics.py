"""The analytics read cache."""

from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_int as _env_int
from salesproject.settings.cache import CACHE_TIMEOUT

# Analytics answers are cached (keys analytics:g{generation}:..., see analytics/cache.py); a sale
# write starts a new generation. Off: every answer is computed (benchmarks, debugging).
ANALYTICS_CACHE_ENABLED = _env_bool("ANALYTICS_CACHE_ENABLED", default=True)
ANALYTICS_CACHE_SECONDS = _env_int("ANALYTICS_CACHE_SECONDS", CACHE_TIMEOUT, minimum=1)
