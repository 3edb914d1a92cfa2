"""Login lockout: failed logins counted in the cache (Redis), on every login form at once.

Every login (the admin's, the browsable API's ``/api-auth/login/``, ``POST /api/auth/token/``,
and any other caller of ``django.contrib.auth.authenticate``) goes through the authentication
backend (``accounts.backends``), which asks here first. Failures are counted per

- (username, client IP): ``LOGIN_FAILURE_LIMIT`` (default 5) locks that pair out: one client
  guessing one account's password;
- username, from any client: ``LOGIN_USERNAME_FAILURE_LIMIT`` (default 20, and more than the
  pair's limit) locks the account out for everyone: guessing spread over many addresses. As
  attempts are not counted while a pair is locked, one client can bring an account at most
  ``LOGIN_FAILURE_LIMIT`` failures closer to this lock per cool-off: locking someone else out
  takes ``LOGIN_USERNAME_FAILURE_LIMIT / LOGIN_FAILURE_LIMIT`` addresses, not one;
- client IP, whatever the username: ``LOGIN_IP_FAILURE_LIMIT`` (default 50) locks the client out:
  one password tried against many accounts.

Failures are counted over ``LOGIN_LOCKOUT_SECONDS`` (default 900) from the first, and a lock
lasts that long. While locked even the right password is refused, with a message saying when to
try again (a 429 with ``Retry-After`` on the token endpoint). A successful login clears the
counts of its username and its (username, IP) pair (not the IP's: an attacker's own account
must not wipe their spraying count). A limit of 0 turns that count off.

The client IP is the one DRF's throttles use (``THROTTLE_NUM_PROXIES``). Usernames are compared
case-folded and stored hashed. If the cache is down, logins are allowed and not counted (fail
open, like the throttles: ``core/api/throttling.py``), with a warning logged.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_LOCKED_ATTR = "_login_locked_for"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_ip(request) -> str:
    """The client address, as the throttles see it ("" without a request)."""
    if request is None or not hasattr(request, "META"):
        return ""
    return BaseThrottle().get_ident(request) or ""


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed login attempts: this login is locked for now. "
        f"Try again in {minutes} {unit}."
    )


def mark_locked(request, seconds: int) -> None:
    """Remember on the request (and a DRF request's Django request) that it was locked out."""
    for target in (request, getattr(request, "_request", None)):
        if target is not None:
            setattr(target, _LOCKED_ATTR, seconds)


def locked_for(request) -> int | None:
    """Seconds the login attempt of this request is locked for, if it was locked out."""
    return getattr(request, _LOCKED_ATTR, None) if request is not None else None


@dataclass(frozen=True)
class _Count:
    name: str
    limit: int


@dataclass
class LoginAttempt:
    """One login attempt: a username from a client."""

    username: str
    ip: str

    @classmethod
    def of(cls, request, username: str) -> LoginAttempt:
        return cls(username=str(username).strip().casefold(), ip=client_ip(request))

    def _counts(self) -> list[_Count]:
        user = _digest(self.username)
        counts = [
            _Count(f"u:{user}", settings.LOGIN_USERNAME_FAILURE_LIMIT),
        ]
        if self.ip:
            pair = _digest(f"{self.username}|{self.ip}")
            counts.append(_Count(f"ui:{pair}", settings.LOGIN_FAILURE_LIMIT))
            counts.append(_Count(f"i:{_digest(self.ip)}", settings.LOGIN_IP_FAILURE_LIMIT))
        else:  # no client known (e.g. a script calling authenticate): the pair is the username
            counts.append(_Count(f"ui:{user}", settings.LOGIN_FAILURE_LIMIT))
        return [count for count in counts if count.limit > 0]

    def locked_for(self) -> int:
        """Seconds left on the longest lock that applies (0: not locked)."""
        keys = [f"login:lock:{count.name}" for count in self._counts()]
        if not keys:
            return 0
        try:
            locks = cache.get_many(keys) or {}
        except Exception as exc:  # the cache is down: fail open
            logger.warning("login lockout not checked, the cache is unavailable: %s", exc)
            return 0
        now = time.time()
        left = max((float(until) - now for until in locks.values() if until), default=0.0)
        return math.ceil(left) if left > 0 else 0

    def failed(self) -> int:
        """Count a failure; returns the seconds of the lock it set off (0: none)."""
        window = settings.LOGIN_LOCKOUT_SECONDS
        locked = 0
        try:
            for count in self._counts():
                key = f"login:fail:{count.name}"
                cache.add(key, 0, timeout=window)  # the window starts at the first failure
                try:
                    failures = cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.set(key, 1, timeout=window)
                    failures = 1
                if failures is not None and failures >= count.limit:
                    cache.set(f"login:lock:{count.name}", time.time() + window, timeout=window)
                    cache.delete(key)
                    locked = window
        except Exception as exc:  # the cache is down: fail open
            logger.warning("login failure not counted, the cache is unavailable: %s", exc)
            return 0
        return locked

    def succeeded(self) -> None:
        keys = [
            f"login:fail:{count.name}"
            for count in self._counts()
            if not count.name.startswith("i:")
        ]
        try:
            cache.delete_many(keys)
        except Exception as exc:
            logger.warning("login failures not cleared, the cache is unavailable: %s", exc)
