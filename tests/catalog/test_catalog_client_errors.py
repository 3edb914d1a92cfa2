"""The catalog client tells failures apart by their exception types (the requests/urllib3
chain), not by the text of their ``repr``: whether a write may have reached the remote decides
whether a purchase is given back."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, ReadTimeoutError

from products.catalog_client import (
    CatalogUnavailableError,
    ProductCatalogClient,
    _is_connect_failure,
    _is_timeout,
)
from tests.app_instances import free_port


def test_an_unknown_host_was_never_reached_so_a_purchase_needs_no_compensation():
    # Its error text names neither "NewConnectionError" nor "Connection refused": only its type
    # (urllib3's NameResolutionError, a NewConnectionError) says nothing was sent.
    client = ProductCatalogClient("http://catalog.invalid/api", "key", timeout=2)

    with pytest.raises(CatalogUnavailableError) as caught:
        client.purchase(1, 1)

    assert caught.value.maybe_applied is False


def test_a_refused_connection_was_never_reached():
    client = ProductCatalogClient(f"http://127.0.0.1:{free_port()}/api", "key", timeout=2)

    with pytest.raises(CatalogUnavailableError) as caught:
        client.purchase(1, 1)

    assert caught.value.maybe_applied is False


@pytest.fixture
def hangs_up_after_reading():
    """A server that reads the request and closes the connection without answering."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api"
    stop.set()
    thread.join()
    server.close()


def test_a_connection_dropped_after_sending_may_have_applied_a_purchase(hangs_up_after_reading):
    client = ProductCatalogClient(hangs_up_after_reading, "key", timeout=2)

    with pytest.raises(CatalogUnavailableError) as caught:
        client.purchase(1, 1)

    assert caught.value.maybe_applied is True


def test_the_kind_is_read_from_the_chain_not_from_the_text():
    name_error = NameResolutionError("catalog.invalid", None, socket.gaierror("unknown"))
    unresolved = requests.ConnectionError(MaxRetryError(None, "/p/", reason=name_error))
    read_timeout = requests.ConnectionError(
        MaxRetryError(None, "/p/", reason=ReadTimeoutError(None, "/p/", "read timed out"))
    )
    try:
        try:
            raise TimeoutError("slow")
        except TimeoutError as inner:
            raise requests.ConnectionError("wrapped") from inner
    except requests.ConnectionError as chained:
        timed_out_cause = chained

    assert _is_connect_failure(unresolved) and not _is_connect_failure(read_timeout)
    assert _is_timeout(read_timeout) and _is_timeout(timed_out_cause)
    assert not _is_connect_failure(timed_out_cause)
