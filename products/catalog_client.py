"""HTTP client for a remote Product Catalog API (the contract in docs/catalog.md).

- ``GET {base}/products/{id}/`` → product JSON (``id``, ``name``, ``price``, ``stock_quantity``);
- ``POST {base}/products/{id}/purchase/`` ``{"quantity": n}`` with ``Authorization: Api-Key``;
- ``POST {base}/products/{id}/restock/`` (our own API), else ``PATCH {base}/products/{id}/``
  setting ``stock_quantity`` (read-modify-write: not atomic on the remote side).

Every call has a connect and a read timeout. Only idempotent calls (GET) are retried
automatically; a POST or PATCH is sent once. Failures become the exceptions below, which carry
the API status and code our clients see (503 ``catalog_unavailable``, 502 ``catalog_auth_failed``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions

from core.errors import ApplicationError
from core.ops import metrics

logger = logging.getLogger("catalog")

RETRY_AFTER_SECONDS = 5
GET_RETRY_BACKOFF = 0.1  # seconds before the first retry of a read, doubled for each next one
_RETRY_STATUSES = frozenset({502, 503, 504})
LIST_MAX_PAGES = 1000  # list_products follows at most this many pages
_AVAILABLE = re.compile(r"Only (\d+) available")


class CatalogUnavailableError(ApplicationError):
    """The remote catalog is down, timing out, answering 5xx or nonsense (503)."""

    status_code = 503
    code = "catalog_unavailable"
    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, message: str, *, maybe_applied: bool = False) -> None:
        super().__init__(message)
        # True when a write was sent but its answer never came (read timeout, reset): the
        # remote may or may not have applied it.
        self.maybe_applied = maybe_applied


class CatalogAuthError(ApplicationError):
    """The remote rejected our API key: an operator problem (502)."""

    status_code = 502
    code = "catalog_auth_failed"


class RemoteInsufficientStockError(Exception):
    def __init__(self, product_id: int, requested: int, available: int | None) -> None:
        super().__init__(f"Not enough stock for product {product_id}")
        self.product_id = product_id
        self.requested = requested
        self.available = available


class RemoteProductNotFoundError(Exception):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"Product {product_id} does not exist in the remote catalog")
        self.product_id = product_id


class RestockNotSupportedError(Exception):
    """The remote has no ``restock/`` endpoint (405, or 404 for a product that exists)."""


@dataclass(frozen=True)
class RemoteProduct:
    id: int
    name: str
    price: Decimal
    stock_quantity: int
    sku: str | None = None
    is_active: bool = True


def parse_remote_product(body: Any, expected_id: int | None) -> RemoteProduct:
    """Validate a product JSON from the remote; anything malformed is ``CatalogUnavailable``."""
    try:
        if not isinstance(body, dict):
            raise TypeError("not an object")
        product_id = int(body["id"])
        price = Decimal(str(body["price"]))
        stock = body["stock_quantity"]
        if isinstance(stock, bool) or not isinstance(stock, int):
            raise TypeError("stock_quantity is not an integer")
        if product_id != expected_id or price < 0 or not price.is_finite():
            raise ValueError("unexpected id or price")
        return RemoteProduct(
            id=product_id,
            name=str(body.get("name") or f"Product {product_id}")[:200],
            price=price.quantize(Decimal("0.01")),
            stock_quantity=stock,
            sku=(str(body["sku"])[:64] if body.get("sku") else None),
            is_active=bool(body.get("is_active", True)),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise CatalogUnavailableError(
            f"The catalog answered an invalid product for {expected_id}: {exc}."
        ) from exc


class ProductCatalogClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        get_retries: int = 2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.read_timeout = timeout
        self.connect_timeout = connect_timeout
        self.get_retries = get_retries
        # A time.monotonic() instant after which no call is made and a call in flight gives up
        # (one sale's budget for all its catalog calls, set by HttpCatalog); None: no deadline.
        self.deadline: float | None = None
        self.session = requests.Session()
        # No retries inside urllib3: reads are retried by get_product, within the deadline.
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Accept"] = "application/json"
        self.supports_restock_endpoint: bool | None = None

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def time_left(self) -> float | None:
        """Seconds until the deadline (``None`` without one)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _call_timeout(self, method: str, url: str) -> tuple[float, float]:
        """Each call's timeouts: the configured ones, cut to the time left before the deadline.
        With no time left the call is not made (nothing was sent: nothing to undo)."""
        left = self.time_left()
        if left is None:
            return self.timeout
        if left <= 0:
            metrics.catalog_error("timeout")
            logger.warning(
                "catalog call %s %s not made: the deadline has passed",
                method,
                urlsplit(url).path,
            )
            raise CatalogUnavailableError(
                "The catalog did not answer within this request's time budget "
                "(CATALOG_SALE_DEADLINE)."
            )
        return (min(self.connect_timeout, left), min(self.read_timeout, left))

    @classmethod
    def from_settings(cls) -> ProductCatalogClient:
        from django.conf import settings

        return cls(
            settings.CATALOG_API_URL,
            settings.CATALOG_API_KEY,
            timeout=settings.CATALOG_TIMEOUT,
            connect_timeout=settings.CATALOG_CONNECT_TIMEOUT,
        )

    # --- plumbing -----------------------------------------------------------------------

    def _url(self, product_id: int, action: str = "") -> str:
        return f"{self.base_url}/products/{int(product_id)}/{action + '/' if action else ''}"

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        timeout = self._call_timeout(method, url)
        started = time.monotonic()
        outcome, status = "connection_error", "error"
        try:
            response = self.session.request(method, url, timeout=timeout, **kwargs)
            status = str(response.status_code)
            # 4xx answers of the contract (404, 400 not enough stock) are answers, not errors.
            failed = response.status_code >= 500 or response.status_code in (401, 403)
            outcome = "http_error" if failed else "ok"
            return response
        except requests.ConnectTimeout as exc:
            outcome, status = "timeout", "connect_timeout"
            raise CatalogUnavailableError(
                f"The catalog did not accept a connection: {exc}."
            ) from exc
        except requests.ReadTimeout as exc:
            outcome, status = "timeout", "read_timeout"
            raise CatalogUnavailableError(
                "The catalog did not answer in time.", maybe_applied=method != "GET"
            ) from exc
        except requests.ConnectionError as exc:
            # A refused connection (or an unknown host) never reached the remote; a reset or a
            # timeout after sending may have.
            sent = not _is_connect_failure(exc)
            # Retried GETs end as a ConnectionError wrapping urllib3's last (timeout) error.
            outcome = "timeout" if sent and _is_timeout(exc) else "connection_error"
            raise CatalogUnavailableError(
                f"The catalog could not be reached: {exc.__class__.__name__}.",
                maybe_applied=sent and method != "GET",
            ) from exc
        except requests.RequestException as exc:
            raise CatalogUnavailableError(f"The catalog call failed: {exc}.") from exc
        finally:
            latency_ms = round((time.monotonic() - started) * 1000, 1)
            path = urlsplit(url).path
            if outcome != "ok":
                metrics.catalog_error(outcome)
            logger.log(
                logging.INFO if outcome == "ok" else logging.WARNING,
                "catalog call %s %s -> %s (%s) in %.1f ms",
                method,
                path,
                status,
                outcome,
                latency_ms,
                extra={
                    "catalog_method": method,
                    "catalog_path": path,
                    "catalog_status": status,
                    "catalog_outcome": outcome,
                    "latency_ms": latency_ms,
                },
            )

    def _auth_headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Api-Key {self.api_key}"}
        if idempotency_key:
            # Our extension of the contract: a remote that honours it applies a repeat once;
            # one that does not simply ignores the header.
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _raise_for_common(self, response: requests.Response, product_id: int) -> None:
        if response.status_code in (401, 403):
            logger.error(
                "The remote catalog rejected our API key (HTTP %s at %s): check CATALOG_API_KEY",
                response.status_code,
                response.url,
            )
            raise CatalogAuthError(
                "The product catalog rejected this service's credentials; an operator has to "
                "fix CATALOG_API_KEY."
            )
        if response.status_code >= 500:
            raise CatalogUnavailableError(
                f"The catalog answered HTTP {response.status_code} for product {product_id}."
            )

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise CatalogUnavailableError(
                f"The catalog answered HTTP {response.status_code} without JSON."
            ) from None

    # --- the contract -----------------------------------------------------------------------

    def _get(self, url: str) -> requests.Response:
        """A GET (idempotent), tried again after a timeout, a dropped connection or a 502/503/
        504, up to ``get_retries`` times and only while time is left before the deadline."""
        for attempt in range(self.get_retries + 1):
            last = attempt == self.get_retries
            try:
                response = self._send("GET", url)
            except CatalogUnavailableError:
                if last or not self._time_for_another_try(attempt):
                    raise
                continue
            if response.status_code not in _RETRY_STATUSES or last:
                return response
            if not self._time_for_another_try(attempt):
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _time_for_another_try(self, attempt: int) -> bool:
        pause = GET_RETRY_BACKOFF * (2**attempt)
        left = self.time_left()
        if left is not None and left <= pause:
            return False
        time.sleep(pause)
        return True

    def get_product(self, product_id: int) -> RemoteProduct | None:
        response = self._get(self._url(product_id))
        if response.status_code == 404:
            return None
        self._raise_for_common(response, product_id)
        if response.status_code != 200:
            raise CatalogUnavailableError(
                f"The catalog answered HTTP {response.status_code} for product {product_id}."
            )
        return parse_remote_product(self._json(response), product_id)

    def list_products(self) -> list[RemoteProduct]:
        """Every product of the remote: ``GET {base}/products/``, which the contract answers as
        a plain list; a paginated answer (``{"results", "next"}``, e.g. another deployment of
        this project) is followed page by page, at most ``LIST_MAX_PAGES`` pages, on the same
        host only."""
        url = f"{self.base_url}/products/"
        origin = urlsplit(self.base_url)[:2]
        products: list[RemoteProduct] = []
        for _page in range(LIST_MAX_PAGES):
            response = self._get(url)
            self._raise_for_common(response, 0)
            if response.status_code != 200:
                raise CatalogUnavailableError(
                    f"The catalog answered HTTP {response.status_code} to the product list."
                )
            body = self._json(response)
            rows = body.get("results") if isinstance(body, dict) else body
            if not isinstance(rows, list):
                raise CatalogUnavailableError("The catalog's product list is not a list.")
            for row in rows:
                row_id = row.get("id") if isinstance(row, dict) else None
                products.append(parse_remote_product(row, _int_or_none(row_id)))
            next_url = body.get("next") if isinstance(body, dict) else None
            if not next_url:
                return products
            if urlsplit(next_url)[:2] != origin:
                raise CatalogUnavailableError(
                    f"The catalog's product list points to another host: {next_url!r}."
                )
            url = next_url
        raise CatalogUnavailableError(
            f"The catalog's product list has more than {LIST_MAX_PAGES} pages."
        )

    def purchase(
        self, product_id: int, quantity: int, *, idempotency_key: str | None = None
    ) -> RemoteProduct:
        response = self._send(
            "POST",
            self._url(product_id, "purchase"),
            json={"quantity": quantity},
            headers=self._auth_headers(idempotency_key),
        )
        self._raise_for_common(response, product_id)
        if response.status_code == 200:
            try:
                return parse_remote_product(self._json(response), product_id)
            except CatalogUnavailableError as exc:
                exc.maybe_applied = True  # the remote took the units (200): they must go back
                raise
        if response.status_code == 404:
            raise RemoteProductNotFoundError(product_id)
        if response.status_code == 400:
            body = self._json(response)
            detail = str(body.get("detail", "") if isinstance(body, dict) else body)
            match = _AVAILABLE.search(detail)
            if match or "stock" in detail.lower():
                raise RemoteInsufficientStockError(
                    product_id, quantity, int(match.group(1)) if match else None
                )
        raise CatalogUnavailableError(
            f"The catalog refused a purchase of {quantity} x product {product_id} "
            f"(HTTP {response.status_code})."
        )

    def restock(
        self, product_id: int, quantity: int, *, idempotency_key: str | None = None
    ) -> RemoteProduct:
        """Add ``quantity`` units: ``restock/`` when the remote has it, else PATCH."""
        if self.supports_restock_endpoint is not False:
            try:
                product = self._restock_endpoint(product_id, quantity, idempotency_key)
                self.supports_restock_endpoint = True
                return product
            except RestockNotSupportedError:
                self.supports_restock_endpoint = False
                logger.warning("The catalog has no restock/ endpoint; falling back to PATCH")
        return self._restock_by_patch(product_id, quantity)

    def _restock_endpoint(
        self, product_id: int, quantity: int, idempotency_key: str | None
    ) -> RemoteProduct:
        response = self._send(
            "POST",
            self._url(product_id, "restock"),
            json={"quantity": quantity},
            headers=self._auth_headers(idempotency_key),
        )
        self._raise_for_common(response, product_id)
        if response.status_code == 200:
            return parse_remote_product(self._json(response), product_id)
        if response.status_code == 405:
            raise RestockNotSupportedError()
        if response.status_code == 404:
            if self.get_product(product_id) is None:
                raise RemoteProductNotFoundError(product_id)
            raise RestockNotSupportedError()
        raise CatalogUnavailableError(
            f"The catalog refused a restock of {quantity} x product {product_id} "
            f"(HTTP {response.status_code})."
        )

    def _restock_by_patch(self, product_id: int, quantity: int) -> RemoteProduct:
        """Read-modify-write: another writer between our GET and PATCH can be overwritten.
        Only used against a remote without ``restock/`` (documented in docs/stock.md)."""
        current = self.get_product(product_id)
        if current is None:
            raise RemoteProductNotFoundError(product_id)
        response = self._send(
            "PATCH",
            self._url(product_id),
            json={"stock_quantity": current.stock_quantity + quantity},
            headers=self._auth_headers(),
        )
        self._raise_for_common(response, product_id)
        if response.status_code != 200:
            raise CatalogUnavailableError(
                f"The catalog refused a stock update of product {product_id} "
                f"(HTTP {response.status_code})."
            )
        return parse_remote_product(self._json(response), product_id)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests puts urllib3's error in ``args[0]``, urllib3's
    ``MaxRetryError`` its cause in ``reason``, Python chains ``__cause__``/``__context__``."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [
            getattr(current, "reason", None),
            current.args[0] if current.args else None,
            current.__cause__,
            current.__context__,
        ]
        pending.extend(item for item in linked if isinstance(item, BaseException))


def _is_connect_failure(exc: requests.ConnectionError) -> bool:
    """No connection was made (refused, unknown host): the request was never sent."""
    return any(
        isinstance(cause, urllib3_exceptions.NewConnectionError | ConnectionRefusedError)
        for cause in _causes(exc)
    )


def _is_timeout(exc: requests.ConnectionError) -> bool:
    return any(
        isinstance(cause, urllib3_exceptions.TimeoutError | TimeoutError) for cause in _causes(exc)
    )
