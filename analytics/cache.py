"""The analytics read cache: answers stored under ``analytics:g{N}:<hash>`` (docs/architecture.md,
"Analytics: rollups and cache").

``N`` is the generation, a counter kept in the cache under ``analytics:generation``; every sale
write starts a new one after its commit (``analytics.services.analytics_cache_bump``), so an
answer cached before a write is never served after it. Entries expire after
``ANALYTICS_CACHE_SECONDS``; the counter itself has no expiry (when it is lost it restarts at a
number larger than any earlier one). All keys of one generation share the prefix
``analytics:g{N}:``, so stale generations can be purged by pattern (``SCAN`` + ``UNLINK``).

With read replicas, an answer computed on a replica that has not yet replayed the commits of
the generation it read is served but not cached (``core.ops.replicas.may_cache_answer``).

When the cache fails (Redis down), answers are computed as if the cache were off: same
figures, slower; the failure is logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

from analytics.services import COMMIT_POSITION_KEY, GENERATION_KEY, fresh_generation
from core.ops import replicas

logger = logging.getLogger(__name__)
T = TypeVar("T")
_MISSING = object()


def current_generation() -> int | None:
    """The current generation, started if there is none; ``None`` when the cache fails."""
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            added = cache.add(GENERATION_KEY, fresh_generation(), timeout=None)
            if added is None:  # django-redis with IGNORE_EXCEPTIONS: Redis did not answer
                return None
            generation = cache.get(GENERATION_KEY)
    except Exception:
        logger.warning("Analytics cache unavailable; answering uncached", exc_info=True)
        return None
    return generation


def cache_key(generation: int, name: str, params: dict[str, Any]) -> str:
    normalized = json.dumps({"name": name, **params}, sort_keys=True, default=str)
    digest = hashlib.sha256(normalized.encode()).hexdigest()[:32]
    return f"analytics:g{generation}:{digest}"


def cached(name: str, params: dict[str, Any], compute: Callable[[], T]) -> T:
    """``compute()``'s answer, from the cache when this generation has it."""
    if not settings.ANALYTICS_CACHE_ENABLED:
        return compute()
    generation = current_generation()
    if generation is None:
        return compute()
    key = cache_key(generation, name, params)
    try:
        hit = cache.get(key, _MISSING)
    except Exception:
        logger.warning("Analytics cache unavailable; answering uncached", exc_info=True)
        return compute()
    if hit is not _MISSING:
        return hit
    # On a read replica: cached only when it has replayed every write of this generation.
    if not replicas.may_cache_answer(COMMIT_POSITION_KEY):
        return compute()
    value = compute()
    try:
        cache.set(key, value, timeout=settings.ANALYTICS_CACHE_SECONDS)
    except Exception:
        logger.warning("Analytics answer not cached (cache unavailable)", exc_info=True)
    return value
