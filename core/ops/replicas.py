"""Read replicas: the heavy reads go to PostgreSQL streaming replicas, everything else stays on
the primary (docs/scaling.md, "Read replicas" in docs/deployment.md).

``DATABASE_REPLICA_URL`` (one URL or several, comma-separated) adds the aliases ``replica_0``,
``replica_1``… (``salesproject/settings/database.py``), this module's :class:`ReplicaRouter` and its
:class:`ReadYourWritesMiddleware`. Without it nothing here is installed: every query goes to
``default`` as before.

Which reads go to a replica: only those of a code path that allows it, with
:class:`ReplicaReadsMixin` on a DRF view (its ``replica_read_actions``: the sales and stock
ledger lists, exports, analytics) or :func:`replica_reads` around a plain view (the dashboard)
or a job. Everything else (writes, the sale path, reads of a service, anything inside
``transaction.atomic`` on the primary, hence anything under a lock) reads the primary. The
allowance is a context variable, so it never leaks to another request or thread.

Read your own writes: a request that wrote (an unsafe method answered 2xx) marks its client for
``REPLICA_READ_YOUR_WRITES_SECONDS``: the cache key ``ryw:<user id>`` for a signed-in user, a
signed cookie for any client; a marked client reads the primary, so what it just wrote is
there whatever the replicas' lag.

Replica trouble: before a replica serves a request, its state is checked (at most every
``REPLICA_HEALTH_CHECK_SECONDS`` per process and replica): down (no connection within its
``connect_timeout`` of 1 s) or lagging more than ``REPLICA_MAX_LAG_SECONDS`` and it is skipped
until the next check; with no usable replica the primary answers. Lag is
``now() - pg_last_xact_replay_timestamp()`` while the replica has received WAL it has not
replayed, 0 when it has replayed all it received (an idle primary commits nothing, so the last
replayed commit gets old without any lag).
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

PREFIX = "replica_"
RYW_COOKIE = "ryw"
_RYW_SALT = "core.ops.replicas.ryw"
OK, DOWN, LAGGING = "ok", "down", "lagging"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# The lag, in seconds, and whether it has replayed everything it received, in one query.
STATE_SQL = (
    "SELECT pg_is_in_recovery(), "
    "COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), true), "
    "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), "
    "pg_last_wal_replay_lsn() - '0/0'::pg_lsn"
)


def replica_aliases() -> list[str]:
    """The configured replicas' aliases (none when ``DATABASE_REPLICA_URL`` is unset)."""
    return [alias for alias in settings.DATABASES if alias.startswith(PREFIX)]


def enabled() -> bool:
    return bool(replica_aliases())


# --- Replica state (per process) ---------------------------------------------------------------


@dataclass
class ReplicaState:
    alias: str
    status: str
    lag_seconds: float | None = None
    replay_lsn: int | None = None
    error: str = ""
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def usable(self) -> bool:
        return self.status == OK

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"status": self.status, "lag_seconds": self.lag_seconds}
        if self.error:
            result["error"] = self.error
        return result


_states: dict[str, ReplicaState] = {}
_states_lock = threading.Lock()


def _measure(alias: str) -> ReplicaState:
    from core.ops.health import safe_message
    from core.ops.metrics import replica_lag

    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(STATE_SQL)
            in_recovery, caught_up, age, replay_lsn = cursor.fetchone()
    except Exception as exc:
        connection.close()  # the next check opens a fresh one
        replica_lag(alias, None)
        return ReplicaState(alias, DOWN, error=safe_message(exc))
    if not in_recovery:
        # A promoted replica (or a URL pointing at a primary) is not kept in sync any more.
        replica_lag(alias, None)
        return ReplicaState(alias, DOWN, error="not a replica (pg_is_in_recovery() is false)")
    lag = 0.0 if caught_up or age is None else max(float(age), 0.0)
    replica_lag(alias, lag)
    status = OK if lag <= settings.REPLICA_MAX_LAG_SECONDS else LAGGING
    lsn = int(replay_lsn) if replay_lsn is not None else None
    return ReplicaState(alias, status, lag_seconds=round(lag, 3), replay_lsn=lsn)


def replica_state(alias: str, *, fresh: bool = False) -> ReplicaState:
    """``alias``'s state, measured at most every ``REPLICA_HEALTH_CHECK_SECONDS`` (per
    process; ``fresh`` measures now)."""
    now = time.monotonic()
    with _states_lock:
        state = _states.get(alias)
    if fresh or state is None or now - state.checked_at >= settings.REPLICA_HEALTH_CHECK_SECONDS:
        state = _measure(alias)
        with _states_lock:
            _states[alias] = state
    return state


def replica_states(*, fresh: bool = False) -> dict[str, ReplicaState]:
    return {alias: replica_state(alias, fresh=fresh) for alias in replica_aliases()}


def forget_states() -> None:
    with _states_lock:
        _states.clear()


def replay_lsn(alias: str) -> int | None:
    """The WAL position ``alias`` has replayed (bytes from 0/0), measured now."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
        value = cursor.fetchone()[0]
    return None if value is None else int(value)


def primary_lsn() -> int:
    """The primary's current WAL insert position (bytes from 0/0): any commit already made is
    before it (the insert position, not the write one: an asynchronous commit may not be
    written out yet)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


# --- Which reads may go to a replica ---------------------------------------------------------


@dataclass
class _Scope:
    allowed: bool = False
    alias: str | None = None  # chosen on the first read, kept for the rest of the scope


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "replica_reads", default=None
)


def _connected(alias: str) -> bool:
    """``alias``'s connection answers now (opened, or checked as Django's health check does
    for a kept one); when it does not, the replica is marked down until its next check."""
    connection = connections[alias]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
        return True
    except Exception as exc:
        from core.ops.health import safe_message

        connection.close()
        with _states_lock:
            _states[alias] = ReplicaState(alias, DOWN, error=safe_message(exc))
        return False


def _choose() -> str:
    usable = [alias for alias in replica_aliases() if replica_state(alias).usable]
    random.shuffle(usable)
    for alias in usable:  # a replica that went down since its last check is skipped now
        if _connected(alias):
            return alias
    return DEFAULT_DB_ALIAS


def read_alias() -> str:
    """The database the reads of this context go to now: a replica when this code path allows
    it, no transaction is open on the primary and a replica is usable; else ``default``. One
    scope keeps the replica it chose (a list's count and page read the same one)."""
    scope = _scope.get()
    if scope is None or not scope.allowed or not enabled():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS  # a transaction (and any lock) on the primary reads the primary
    if scope.alias is None or not replica_state(scope.alias).usable:
        scope.alias = _choose()
    return scope.alias


def read_connection() -> Any:
    """The connection of :func:`read_alias`: for the raw SQL of a read path."""
    return connections[read_alias()]


def on_replica() -> bool:
    return read_alias() != DEFAULT_DB_ALIAS


@contextmanager
def replica_reads(allowed: bool = True) -> Iterator[None]:
    """Reads inside may go to a replica (``allowed``), or must not (``allowed=False``)."""
    token = _scope.set(_Scope(allowed=allowed and enabled()))
    try:
        yield
    finally:
        _scope.reset(token)


def in_scope(iterable: Iterable[T]) -> Iterator[T]:
    """``iterable`` iterated in this scope (its replica choice included), wherever it is
    consumed later: a streamed export's generator runs after the view has returned."""
    scope = _scope.get()
    iterator = iter(iterable)
    if scope is None or not scope.allowed:
        return iterator

    def generate() -> Iterator[T]:
        while True:
            token = _scope.set(scope)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                _scope.reset(token)
            yield item

    return generate()


def replica_reads_view(view: F) -> F:
    """Decorator of a plain Django view whose reads may go to a replica (unless its user has
    just written)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with replica_reads(allowed=not wrote_recently(request)):
            return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class ReplicaReadsMixin:
    """For a DRF view(set): the actions in ``replica_read_actions`` read from a replica, once
    the request is authenticated and allowed (its user has not just written)."""

    replica_read_actions: frozenset[str] = frozenset({"list"})

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        token = _scope.set(_Scope())
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        finally:
            _scope.reset(token)

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        scope = _scope.get()
        if (
            scope is not None
            and enabled()
            and request.method in ("GET", "HEAD")
            and getattr(self, "action", None) in self.replica_read_actions
            and not wrote_recently(request)
        ):
            scope.allowed = True


# --- Read your own writes ------------------------------------------------------------------


def _ryw_key(user_id: Any) -> str:
    return f"ryw:{user_id}"


def _user_id(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def wrote_recently(request: HttpRequest) -> bool:
    """This client wrote within ``REPLICA_READ_YOUR_WRITES_SECONDS`` (its cookie, or its user's
    cache key); when the cache cannot tell, it did (the primary is always right)."""
    window = settings.REPLICA_READ_YOUR_WRITES_SECONDS
    if window <= 0:
        return False
    try:
        request.get_signed_cookie(RYW_COOKIE, salt=_RYW_SALT, max_age=window)
        return True
    except (KeyError, signing.BadSignature):
        pass
    user_id = _user_id(request)
    if user_id is None:
        return False
    try:
        return cache.get(_ryw_key(user_id)) is not None
    except Exception:
        logger.warning("Read-your-writes mark unreadable; reading the primary", exc_info=True)
        return True


def mark_wrote(request: HttpRequest, response: HttpResponse) -> None:
    window = settings.REPLICA_READ_YOUR_WRITES_SECONDS
    if window <= 0:
        return
    response.set_signed_cookie(
        RYW_COOKIE,
        "1",
        salt=_RYW_SALT,
        max_age=window,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,  # HTTPS only where the session cookie is
    )
    user_id = _user_id(request)
    if user_id is not None:
        try:
            cache.set(_ryw_key(user_id), 1, timeout=window)
        except Exception:
            logger.warning("Read-your-writes mark not stored (cache unavailable)", exc_info=True)


class ReadYourWritesMiddleware:
    """After a write (an unsafe method answered 2xx), its client reads the primary for
    ``REPLICA_READ_YOUR_WRITES_SECONDS`` (installed with the replicas only)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and (
            200 <= response.status_code < 300
        ):
            mark_wrote(request, response)
        return response


# --- The router -----------------------------------------------------------------------------


class ReplicaRouter:
    """Reads go where :func:`read_alias` says; writes, relations and migrations are the
    primary's (a replica replays the primary's schema)."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        # Explicit: without it Django would write an instance read from a replica back there.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same data, wherever it was read

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db.startswith(PREFIX) else None


# --- Caching what a replica answered --------------------------------------------------------
#
# A cache generation is bumped after a write commits on the primary; an answer read on a replica
# that has not replayed that commit yet must not be stored under the new generation. The bump
# first records the primary's WAL position under a key (:func:`record_commit_position`, kept as
# the highest position ever recorded: an atomic max), then starts the generation. A reader reads
# the generation, then that position (so it covers every bump up to its generation), then the
# replica's replay position, BEFORE its query: when the replica has replayed up to the recorded
# position, the query's snapshot holds every write of the generation, and the answer may be
# cached (:func:`may_cache_answer`); otherwise it is served, not cached.

_MAX_SCRIPT = (
    "local current = tonumber(redis.call('GET', KEYS[1]) or '-1') "
    "if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end "
    "return redis.call('GET', KEYS[1])"
)
_local_max_lock = threading.Lock()


def _raw_redis() -> Any:
    get_client = getattr(getattr(cache, "client", None), "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _position_max(key: str, position: int) -> None:
    redis = _raw_redis()
    if redis is not None:
        redis.eval(_MAX_SCRIPT, 1, cache.make_key(key), position)
        return
    with _local_max_lock:  # a per-process cache (local memory): a lock makes it atomic
        current = cache.get(key)
        if current is None or position > int(current):
            cache.set(key, position, timeout=None)


def _position_get(key: str) -> int | None:
    redis = _raw_redis()
    value = redis.get(cache.make_key(key)) if redis is not None else cache.get(key)
    return None if value is None else int(value)


def record_commit_position(key: str) -> None:
    """Before a cache generation bump that follows a commit: the primary's WAL position, which
    is past that commit, kept under ``key`` (never lowered). A no-op without replicas."""
    if not enabled():
        return
    try:
        _position_max(key, primary_lsn())
    except Exception:
        # Without it the readers fall back to the position they read themselves (see below).
        logger.warning("Commit position not recorded for %s", key, exc_info=True)


def may_cache_answer(key: str) -> bool:
    """Called before computing an answer to be cached under the generation just read: may it
    be cached? Always on the primary; on a replica only when it has replayed up to the position
    recorded under ``key`` (when there is none, the primary's position now is recorded)."""
    if not on_replica():
        return True
    alias = read_alias()
    try:
        required = _position_get(key)
        if required is None:
            required = primary_lsn()
            _position_max(key, required)
        replayed = replay_lsn(alias)
    except Exception:
        logger.warning("Replica position unknown; answer not cached", exc_info=True)
        return False
    return replayed is not None and replayed >= required
