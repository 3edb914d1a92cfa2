"""A small Product Catalog API (the contract of docs/catalog.md) on a loopback port, for fault
cases.

It is a real HTTP server (``ThreadingHTTPServer`` in a thread, one thread per request), so the
client under test goes through sockets, timeouts and status codes exactly as with a real remote.
Products live in memory. Faults are switched on per route (``get``, ``purchase``, ``restock``,
``patch``) and optionally per product:

- ``fail(route, status, times=K)``: answer ``status`` (500, 503, 403, ...) without applying;
- ``delay(route, seconds, apply_first=True)``: apply the change, then sleep before answering (a
  remote that did the work but answered too late), or sleep first and apply afterwards;
- ``drop(route, apply_first=True)``: close the connection without answering, after applying the
  change or without applying it (a crash or a reset once the request was sent);
- ``garble(route, body)``: apply the change, then answer 200 with a body that is not product
  JSON; ``garble(route, body, status=400)``: answer that status and body, applying nothing;
- ``restock_endpoint = 404 | 405``: no ``restock/`` route, so the client must fall back to
  ``PATCH {base}/products/{id}/``.

Every request is counted in :attr:`FakeCatalog.calls` as ``(route, product_id)``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTES = ("get", "purchase", "restock", "patch")
_PATH = re.compile(r"^/api/products/(\d+)/(?:(purchase|restock)/)?$")
# Far from any id a local test creates, and spaced: a mirror moves the local id sequence past
# its id, so local products made afterwards in a shared database (the fault tests') take the
# next few ids, which must not be the fake's next product.
_ids = itertools.count(500_001, 1_000)


@dataclass
class Fault:
    route: str
    product_id: int | None = None
    status: int | None = None  # answer this status instead of doing the work
    delay: float = 0.0  # seconds before answering
    apply_first: bool = True  # with a delay: apply before sleeping (else after); with drop: apply
    drop: bool = False  # close the connection without an answer
    garbage: str | None = None  # apply, then answer 200 with this (not product JSON)
    times: int | None = None  # how many requests it hits; None = until cleared

    def matches(self, route: str, product_id: int) -> bool:
        return (
            self.route == route
            and self.product_id in (None, product_id)
            and (self.times is None or self.times > 0)
        )


class FakeCatalog:
    def __init__(self, api_key: str = "fake-catalog-key") -> None:
        self.api_key = api_key
        self.products: dict[int, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, int]] = []
        self.restock_endpoint: int | None = None  # 404 or 405: the route does not exist
        # Honour the Idempotency-Key header of purchase/restock like our own app does (a
        # third-party remote following only the contract ignores it).
        self.honour_idempotency_keys = False
        self.idempotency_answers: dict[str, tuple[int, Any]] = {}
        self.idempotency_keys_seen: list[str | None] = []
        self.lock = threading.Lock()
        self._in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> FakeCatalog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (a delayed answer has finished)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self._in_flight == 0:
                    return
            time.sleep(0.02)
        raise AssertionError("the fake catalog is still handling a request")

    # --- data and faults ------------------------------------------------------------------

    def add_product(self, *, price: str = "10.00", stock: int = 10, name: str = "") -> int:
        product_id = next(_ids)
        with self.lock:
            self.products[product_id] = {
                "id": product_id,
                "name": name or f"Fake product {product_id}",
                "price": str(Decimal(price).quantize(Decimal("0.01"))),
                "stock_quantity": stock,
                "is_active": True,
            }
        return product_id

    def stock(self, product_id: int) -> int:
        with self.lock:
            return self.products[product_id]["stock_quantity"]

    def fail(
        self, route: str, status: int, *, product_id: int | None = None, times: int | None = None
    ) -> Fault:
        return self._add(Fault(route, product_id, status=status, times=times))

    def delay(
        self,
        route: str,
        seconds: float,
        *,
        apply_first: bool = True,
        product_id: int | None = None,
        times: int | None = None,
    ) -> Fault:
        return self._add(
            Fault(route, product_id, delay=seconds, apply_first=apply_first, times=times)
        )

    def drop(
        self,
        route: str,
        *,
        apply_first: bool = True,
        product_id: int | None = None,
        times: int | None = None,
    ) -> Fault:
        return self._add(Fault(route, product_id, drop=True, apply_first=apply_first, times=times))

    def garble(
        self,
        route: str,
        body: str = "<html>Bad gateway</html>",
        *,
        status: int | None = None,
        times: int | None = None,
    ) -> Fault:
        """Apply, then answer 200 with ``body``; with ``status``: answer it, without applying."""
        return self._add(Fault(route, status=status, garbage=body, times=times))

    def heal(self) -> None:
        with self.lock:
            self.faults.clear()
            self.restock_endpoint = None

    def count(self, route: str, product_id: int | None = None) -> int:
        with self.lock:
            return sum(1 for r, pid in self.calls if r == route and product_id in (None, pid))

    def _add(self, fault: Fault) -> Fault:
        assert fault.route in ROUTES, fault.route
        with self.lock:
            self.faults.append(fault)
        return fault

    # --- request handling (called from the server's threads) ------------------------------

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, Any, Fault | None]:
        """Returns ``(status, json_body, fault)``; the handler applies the fault's delay. Status
        0 means "apply after the delay", -1 "close without answering"."""
        match = _PATH.match(path)
        if match is None:
            return 404, {"detail": "Not found."}, None
        product_id, action = int(match.group(1)), match.group(2)
        route = {
            ("GET", None): "get",
            ("POST", "purchase"): "purchase",
            ("POST", "restock"): "restock",
            ("PATCH", None): "patch",
        }.get((method, action))
        if route is None:
            return 405, {"detail": f'Method "{method}" not allowed.'}, None
        with self.lock:
            self.calls.append((route, product_id))
            if route == "restock" and self.restock_endpoint:
                return self.restock_endpoint, {"detail": "Not found."}, None
            fault = next((f for f in self.faults if f.matches(route, product_id)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
            if fault is not None and fault.garbage is not None:
                if fault.status is None:  # a success, with a useless answer
                    self._apply(
                        route,
                        product_id,
                        headers.get("Authorization"),
                        body,
                        headers.get("Idempotency-Key"),
                    )
                return fault.status or 200, fault.garbage, fault
            if fault is not None and fault.status is not None:
                return fault.status, {"detail": f"Injected HTTP {fault.status}."}, fault
            if fault is not None and fault.drop:
                if fault.apply_first:
                    self._apply(
                        route,
                        product_id,
                        headers.get("Authorization"),
                        body,
                        headers.get("Idempotency-Key"),
                    )
                return -1, None, fault
            if fault is not None and fault.delay and not fault.apply_first:
                return (
                    0,
                    (
                        route,
                        product_id,
                        headers.get("Authorization"),
                        body,
                        headers.get("Idempotency-Key"),
                    ),
                    fault,
                )
            return (
                *self._apply(
                    route,
                    product_id,
                    headers.get("Authorization"),
                    body,
                    headers.get("Idempotency-Key"),
                ),
                fault,
            )

    def apply_late(self, pending: tuple) -> tuple[int, Any]:
        with self.lock:
            return self._apply(*pending)

    def _apply(
        self, route: str, product_id: int, auth: str | None, body: bytes, key: str | None = None
    ):
        """The contract (and, if switched on, the Idempotency-Key extension); the caller holds
        the lock."""
        if route in ("purchase", "restock"):
            self.idempotency_keys_seen.append(key)
            if self.honour_idempotency_keys and key in self.idempotency_answers:
                return self.idempotency_answers[key]
            answer = self._apply_contract(route, product_id, auth, body)
            if self.honour_idempotency_keys and key and answer[0] == 200:
                self.idempotency_answers[key] = answer
            return answer
        return self._apply_contract(route, product_id, auth, body)

    def _apply_contract(self, route: str, product_id: int, auth: str | None, body: bytes):
        if route != "get" and auth != f"Api-Key {self.api_key}":
            return 403, {"detail": "Invalid or missing API key."}
        product = self.products.get(product_id)
        if product is None:
            return 404, {"detail": "Not found."}
        if route == "get":
            return 200, dict(product)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return 400, {"detail": "JSON parse error."}
        if route == "patch":
            stock = data.get("stock_quantity")
            if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
                return 400, {"detail": "stock_quantity must be an integer >= 0."}
            product["stock_quantity"] = stock
            return 200, dict(product)
        quantity = data.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            return 400, {"detail": "quantity must be a positive integer."}
        if route == "purchase":
            if product["stock_quantity"] < quantity:
                return 400, {
                    "detail": f"Not enough stock. Only {product['stock_quantity']} available."
                }
            product["stock_quantity"] -= quantity
        else:
            product["stock_quantity"] += quantity
        return 200, dict(product)


def _handler_for(catalog: FakeCatalog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            with catalog.lock:
                catalog._in_flight += 1
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, fault = catalog.handle(self.command, self.path, self.headers, body)
                if status == -1:  # drop: no answer at all
                    self.close_connection = True
                    return
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                    if status == 0:  # sleep first, then apply
                        status, payload = catalog.apply_late(payload)
                self._answer(status, payload)
            finally:
                with catalog.lock:
                    catalog._in_flight -= 1

        def _answer(self, status: int, payload: Any) -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout case)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format, *args):  # keep the test output clean
            pass

    return Handler
