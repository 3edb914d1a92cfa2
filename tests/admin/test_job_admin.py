"""Batch jobs in the admin (issue 16 item 1): read-only pages, params, counts and errors as
tables, every kept error shown, the input and error files downloaded through the admin (not
/media/), and a list that says which file, who, how long and what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from core.jobs.models import BatchJob
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def su_client(client):
    user = make_user(is_superuser=True, is_staff=True, username="opsadmin")
    client.force_login(user)
    client.user = user
    return client


def finished_job(user=None, *, errors: int = 60, message: str = "") -> BatchJob:
    now = timezone.now()
    job = BatchJob.objects.create(
        kind="import",
        status="failed",
        params={
            "table": "products",
            "format": "csv",
            "file_name": "spring-prices.csv",
            "dry_run": False,
            "on_error": "abort",
        },
        counts={"rows_read": 1234, "rows_rejected": errors},
        error_count=errors,
        error_report=[
            {"row": n + 2, "column": "price", "message": f"price -{n} is negative"}
            for n in range(errors)
        ],
        message=message or "Nothing was written: 60 of 1,234 rows have errors (on_error=abort).",
        created_by=user,
        created_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=4, seconds=30),
        finished_at=now - timedelta(minutes=2, seconds=15),
    )
    job.input_file.save("spring-prices.csv", ContentFile(b"sku,price\nA,-1\n"), save=False)
    job.error_file.save("errors.csv", ContentFile(b"sku,price,_error\nA,-1,negative\n"), save=False)
    job.save()
    return job


def test_a_finished_job_is_read_only_with_readable_tables(su_client):
    job = finished_job(su_client.user)
    response = su_client.get(reverse("admin:jobs_batchjob_change", args=[job.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    # params and counts as tables, not JSON
    assert "<th>file_name</th><td>spring-prices.csv</td>" in html.replace("\n", "")
    assert "<th>rows_read</th><td>1,234</td>" in html.replace("\n", "")
    assert '{"table"' not in html and "&quot;table&quot;" not in html
    # every kept error, not only the first 50
    assert "price -59 is negative" in html
    assert "<td>61</td>" in html  # the row of the 60th error


def test_job_files_download_through_the_admin(su_client, client):
    job = finished_job(su_client.user)
    html = su_client.get(reverse("admin:jobs_batchjob_change", args=[job.pk])).content.decode()
    input_url = reverse("admin:jobs_batchjob_file", args=[job.pk, "input"])
    errors_url = reverse("admin:jobs_batchjob_file", args=[job.pk, "errors"])
    assert input_url in html and errors_url in html
    assert "/media/" not in html

    response = su_client.get(input_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"sku,price\nA,-1\n"
    assert "attachment" in response["Content-Disposition"]
    assert "spring-prices.csv" in response["Content-Disposition"]
    assert su_client.get(errors_url).status_code == 200
    assert (
        su_client.get(reverse("admin:jobs_batchjob_file", args=[job.pk, "other"])).status_code
        == 404
    )

    su_client.logout()
    anonymous = su_client.get(input_url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


def test_a_staff_user_without_the_jobs_view_permission_gets_no_file(client):
    job = finished_job()
    clerk = make_user(is_staff=True)
    client.force_login(clerk)
    response = client.get(reverse("admin:jobs_batchjob_file", args=[job.pk, "input"]))
    assert response.status_code == 403


def test_purged_files_are_said_so(su_client):
    job = finished_job(su_client.user)
    job.input_file.delete(save=False)
    job.error_file.delete(save=False)
    job.files_purged_at = timezone.now()
    job.save()
    html = su_client.get(reverse("admin:jobs_batchjob_change", args=[job.pk])).content.decode()
    assert "deleted on" in html
    response = su_client.get(reverse("admin:jobs_batchjob_file", args=[job.pk, "input"]))
    assert response.status_code == 410
    assert b"JOB_FILES_RETENTION_DAYS" in response.content


def test_the_list_shows_file_who_duration_and_message(su_client):
    finished_job(su_client.user)
    html = su_client.get(reverse("admin:jobs_batchjob_changelist")).content.decode()
    assert "spring-prices.csv" in html
    assert "opsadmin" in html
    assert "2 min 15 s" in html  # started 4:30 ago, finished 2:15 ago
    assert "Nothing was written" in html
