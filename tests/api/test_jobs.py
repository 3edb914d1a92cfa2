"""/api/jobs/: who sees which batch jobs, what a job shows (status, progress, counts, errors),
cancelling, and the errors CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from core.jobs.models import BatchJob
from core.jobs.services import batch_job_progress
from core.jobs.tasks import run_batch_job_task
from tests.api import assert_error, ids

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/jobs/"
PARAMS = {
    "table": "categories",
    "format": "csv",
    "file_name": "categories.csv",
    "dry_run": False,
    "on_error": "abort",
    "apply_stock": False,
}


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def detail(job) -> str:
    return f"{URL}{job.pk}/"


def make_job(user=None, **fields) -> BatchJob:
    return BatchJob.objects.create(kind="import", params=dict(PARAMS), created_by=user, **fields)


def finished_job(user, status="succeeded", **fields) -> BatchJob:
    return make_job(user, status=status, finished_at=timezone.now(), **fields)


def test_anonymous_gets_401(client_for, db):
    job = make_job()
    anonymous = client_for(None)
    assert_error(anonymous.get(URL), 401)
    assert_error(anonymous.get(detail(job)), 401)
    assert_error(anonymous.post(f"{detail(job)}cancel/"), 401)
    assert_error(anonymous.get(f"{detail(job)}errors/"), 401)
    assert BatchJob.objects.get(pk=job.pk).status == "queued"


@pytest.mark.parametrize("role", ["norole", "analyst", "sales"])
def test_users_see_only_their_own_jobs(client_for, role):
    client = client_for(role)
    other = client_for("analyst")
    mine = [make_job(client.user), finished_job(client.user)]
    theirs = [make_job(other.user), make_job(None)]

    listed = client.get(URL)

    assert listed.status_code == 200
    assert sorted(ids(listed)) == sorted(job.pk for job in mine)
    assert listed.json()["count"] == 2
    for job in theirs:
        assert_error(client.get(detail(job)), 404, "not_found")


@pytest.mark.parametrize("role", ["manager", "superuser"])
def test_managers_and_superusers_see_everyones_jobs(client_for, role):
    client = client_for(role)
    jobs = [make_job(client_for("analyst").user), make_job(None), make_job(client.user)]

    listed = client.get(URL)

    assert sorted(ids(listed)) == sorted(job.pk for job in jobs)
    assert client.get(detail(jobs[0])).status_code == 200


def test_list_is_newest_first_and_filters_by_status(manager_client):
    old = finished_job(manager_client.user, status="failed")
    new = make_job(manager_client.user)

    assert ids(manager_client.get(URL)) == [new.pk, old.pk]
    assert ids(manager_client.get(f"{URL}?status=failed")) == [old.pk]
    assert ids(manager_client.get(f"{URL}?status=queued&kind=import")) == [new.pk]


def test_detail_fields(client_for):
    client = client_for("analyst")
    job = finished_job(
        client.user,
        status="failed",
        progress_done=50,
        progress_total=200,
        counts={"rows": 3, "created": 0, "updated": 0, "unchanged": 0, "rejected": 1},
        error_count=1,
        error_report=[{"row": 3, "column": "name", "message": "name is required."}],
        message="categories: 3 rows read; … Nothing was written: 1 of 3 rows have errors.",
    )

    response = client.get(detail(job))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id",
        "url",
        "kind",
        "status",
        "params",
        "progress",
        "counts",
        "error_count",
        "error_report",
        "errors_url",
        "message",
        "cancel_requested",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "files_purged_at",
    }
    assert body["id"] == job.pk
    assert body["url"] == f"http://testserver{detail(job)}"
    assert (body["kind"], body["status"]) == ("import", "failed")
    assert body["params"] == PARAMS
    assert body["progress"] == {"done": 50, "total": 200, "unit": "rows", "percent": 25.0}
    assert body["counts"]["rejected"] == 1
    assert body["error_count"] == 1
    assert body["error_report"] == [{"row": 3, "column": "name", "message": "name is required."}]
    assert body["errors_url"] is None  # no errors file
    assert body["message"].startswith("categories: 3 rows read")
    assert body["cancel_requested"] is False
    assert body["created_by"] == client.user.username
    assert body["created_at"] and body["finished_at"]
    assert body["started_at"] is None


def test_progress_of_a_queued_job_without_total(manager_client):
    body = manager_client.get(detail(make_job(manager_client.user))).json()
    assert body["status"] == "queued"
    assert body["progress"] == {"done": 0, "total": None, "unit": "rows", "percent": None}
    assert body["created_by"] == manager_client.user.username


def test_a_running_job_shows_its_live_progress(manager_client):
    job = make_job(manager_client.user, status="running", started_at=timezone.now())
    batch_job_progress(job=job, done=300, total=1200)  # the cache, not the row

    body = manager_client.get(detail(job)).json()

    assert body["status"] == "running"
    assert body["progress"]["done"] == 300
    assert body["progress"]["total"] == 1200
    assert body["progress"]["percent"] == 25.0
    assert BatchJob.objects.get(pk=job.pk).progress_done == 0


def test_a_jobs_creator_left_is_shown_as_null(manager_client):
    body = manager_client.get(detail(make_job(None))).json()
    assert body["created_by"] is None


def test_cancel_a_queued_job(client_for):
    client = client_for("sales")
    job = make_job(client.user)

    response = client.post(f"{detail(job)}cancel/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancel_requested"] is True
    assert body["finished_at"]
    assert body["message"] == "Cancelled before it started."
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == ("cancelled", True)

    run_batch_job_task(job.pk)  # the queued task arrives later: it does nothing
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.started_at is None


def test_cancel_a_running_job_asks_it_to_stop(manager_client):
    job = make_job(manager_client.user, status="running", started_at=timezone.now())

    response = manager_client.post(f"{detail(job)}cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested"] is True
    assert BatchJob.objects.get(pk=job.pk).cancel_requested is True


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_cancel_a_finished_job_is_409(manager_client, status):
    job = finished_job(manager_client.user, status=status)

    error = assert_error(manager_client.post(f"{detail(job)}cancel/"), 409, "job_finished")

    assert f"({status})" in error["message"]
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == (status, False)


def test_cancel_another_users_job_is_404(client_for):
    owner, intruder = client_for("analyst"), client_for("sales")
    job = make_job(owner.user)

    assert_error(intruder.post(f"{detail(job)}cancel/"), 404, "not_found")

    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == ("queued", False)


def test_a_manager_may_cancel_anyones_job(client_for):
    job = make_job(client_for("analyst").user)
    response = client_for("manager").post(f"{detail(job)}cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_unknown_job_is_404(manager_client, db):
    assert_error(manager_client.get(f"{URL}999999/"), 404, "not_found")
    assert_error(manager_client.post(f"{URL}999999/cancel/"), 404, "not_found")


def test_jobs_are_read_only(manager_client):
    job = make_job(manager_client.user)
    assert_error(manager_client.post(URL, {"kind": "import"}, format="json"), 405)
    assert_error(manager_client.delete(detail(job)), 405)
    assert_error(manager_client.patch(detail(job), {"status": "succeeded"}, format="json"), 405)
    assert BatchJob.objects.get(pk=job.pk).status == "queued"


def test_errors_without_an_error_file_is_404(manager_client):
    job = finished_job(manager_client.user, status="succeeded")
    error = assert_error(manager_client.get(f"{detail(job)}errors/"), 404, "not_found")
    assert "no error report" in error["message"]


def test_errors_csv_of_a_job(client_for):
    client = client_for("analyst")
    job = finished_job(client.user, status="failed", error_count=1)
    job.error_file.save(
        "errors.csv",
        ContentFile(b"name,description,error_row,error_column,error\r\n,x,2,name,required\r\n"),
    )

    body = client.get(detail(job)).json()
    assert body["errors_url"] == f"http://testserver{detail(job)}errors/"
    response = client.get(body["errors_url"])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.pk}-errors.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["name", "description", "error_row", "error_column", "error"],
        ["", "x", "2", "name", "required"],
    ]

    other = client_for("sales")
    assert_error(other.get(body["errors_url"]), 404, "not_found")


@pytest.mark.embedded
def test_job_lifecycle_through_the_task(manager_client):
    """A queued import job with its file, run by the task (as a worker would): succeeded, with
    counts, visible through the API."""
    job = make_job(manager_client.user)
    job.input_file.save("categories.csv", ContentFile(b"name,description\nGarden,Outside\n"))

    run_batch_job_task(job.pk)

    body = manager_client.get(detail(job)).json()
    assert body["status"] == "succeeded", body["message"]
    assert body["counts"]["created"] == 1
    assert body["progress"]["unit"] == "bytes"
    assert body["progress"]["percent"] == 100.0
    assert body["started_at"] and body["finished_at"]
    assert_error(manager_client.post(f"{detail(job)}cancel/"), 409, "job_finished")


def test_a_failed_job_can_be_run_again_and_a_finished_one_cannot(manager_client, jobs_in_process):
    from products.models import Product
    from tests.factories import make_product

    make_product(sku="RETRY-1", price="10.00")
    job = BatchJob.objects.create(
        kind="price_update",
        params={"selection": {"skus": ["RETRY-1"]}, "percent": None, "amount": "1.00"},
        status="failed",
        finished_at=timezone.now(),
        message="The worker stopped.",
        created_by=manager_client.user,
    )

    response = manager_client.post(f"/api/jobs/{job.pk}/retry/")

    assert response.status_code == 200, response.json()
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert Product.objects.get(sku="RETRY-1").price == Decimal("11.00")
    again = manager_client.post(f"/api/jobs/{job.pk}/retry/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_not_failed"
    assert Product.objects.get(sku="RETRY-1").price == Decimal("11.00")


def test_fail_stale_jobs_command_marks_a_silent_running_job_failed(db, settings):
    from django.core.management import call_command

    stale = timezone.now() - timezone.timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT + 5)
    silent = BatchJob.objects.create(
        kind="import", params={}, status="running", started_at=stale, heartbeat_at=stale
    )
    alive = BatchJob.objects.create(
        kind="import", params={}, status="running", started_at=stale, heartbeat_at=timezone.now()
    )
    out = io.StringIO()

    call_command("fail_stale_jobs", stdout=out)

    assert "1 stale job(s) marked failed" in out.getvalue()
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert (silent.status, alive.status) == ("failed", "running")
    assert "rolled back" in silent.message and f"/api/jobs/{silent.pk}/retry/" in silent.message


def test_a_price_update_cancelled_before_it_runs_changes_nothing(db, jobs_in_process):
    from products.models import Product
    from tests.factories import make_product

    make_product(sku="CANCEL-1", price="10.00")
    job = BatchJob.objects.create(
        kind="price_update",
        params={"selection": {"skus": ["CANCEL-1"]}, "percent": "50", "amount": None},
        cancel_requested=True,
        status="running",
        started_at=timezone.now(),
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )

    run_batch_job_task(job.pk)  # takes over the silent job, sees the cancellation

    job.refresh_from_db()
    assert job.status == "cancelled"
    assert Product.objects.get(sku="CANCEL-1").price == Decimal("10.00")
