"""Operator commands of the sales issue: clear errors on bad input."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from products.management.commands.sync_catalog import parse_ids
from sales.models import IdempotencyKey
from tests.factories import make_user


def test_parse_ids_accepts_lists_and_ranges():
    assert parse_ids("1, 2,10-12") == [1, 2, 10, 11, 12]


@pytest.mark.parametrize(
    ("text", "problem"),
    [("a", "not an id"), ("5-2", "backwards"), (",", "no id"), ("1-x", "range")],
)
def test_parse_ids_names_the_problem(text, problem):
    with pytest.raises(CommandError, match=problem):
        parse_ids(text)


@pytest.mark.django_db
def test_sync_catalog_refuses_with_the_local_catalog():
    with pytest.raises(CommandError, match="CATALOG_BACKEND=http"):
        call_command("sync_catalog")


@pytest.mark.django_db
def test_retry_catalog_outbox_with_nothing_pending_makes_no_call():
    out = StringIO()
    call_command("retry_catalog_outbox", "--now", stdout=out)
    assert "Sent 0, failed 0; 0 still pending." in out.getvalue()


@pytest.mark.django_db
def test_purge_idempotency_keys_deletes_only_expired(django_user_model):
    from datetime import timedelta

    from django.utils import timezone

    user = make_user()
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=user, key="old", request_fingerprint="x", expires_at=now - timedelta(seconds=1)
    )
    IdempotencyKey.objects.create(
        user=user, key="live", request_fingerprint="x", expires_at=now + timedelta(hours=1)
    )
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 1 expired" in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["live"]
