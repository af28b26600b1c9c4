"""The import pages and jobs: upload, mapping step, progress fragment, outcome, retry, rights."""

import json

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
import pytest

from core import access
from streams.integrations.jobs import import_job_run
from streams.integrations.tests.test_imports import ITEMS, STATES, TRANSITIONS
from streams.integrations.tests.test_toolchain import FIXTURES, issue, jira
from streams.models import BacklogItem, ImportJob, ImportMapping, ValueStream
from teams.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def upload(client, source="jira", stream="payments", **files):
    if source != "csv" and not files:
        files = {"export": SimpleUploadedFile("search.json", (FIXTURES / "jira_search.json").read_bytes())}
    return client.post("/imports/", {"source": source, "stream": stream, "stream_name": "", **files})


def test_jira_upload_is_scanned_mapped_imported_and_summarised(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == f"/imports/{job.pk}/"
    assert job.status == "mapping" and job.found["issues"] == 13
    assert job.found["statuses"]["In Progress"] == 5  # issues resting there now
    page = admin_client.get(response.url)
    html = page.content.decode()
    assert 'data-testid="mapping-form"' in html and "Waiting for QA" in html
    assert not BacklogItem.objects.exists()  # nothing is written before the mapping is confirmed
    form = page.context["mapping_form"]
    data = {name: form[name].value() or "" for name in form.fields}  # the suggestions, as the browser sends them
    status_index = form.statuses.index("Waiting for QA")
    data[f"status_{status_index}_state"] = "QA queue"
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = admin_client.post(response.url, data)
    assert confirmed.status_code == 302
    job.refresh_from_db()
    assert job.status == "succeeded", job.errors
    assert job.result["items_created"] == 13 and job.percent == 100
    assert BacklogItem.objects.get(external_key="PAY-5").state.name == "QA queue"
    assert ImportMapping.objects.get(kind="status", value="Waiting for QA").state_name == "QA queue"
    assert not any(default_storage.exists(name) for name in job.files.values())  # the upload is gone
    summary = admin_client.get(response.url).content.decode()
    assert 'data-testid="import-summary"' in summary and "13 new" in summary
    listing = admin_client.get("/imports/").content.decode()
    assert "Imported" in listing and "search.json" in listing


def test_a_mapping_without_categories_is_sent_back_with_the_reason(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    response = admin_client.post(f"/imports/{job.pk}/", {})
    assert response.status_code == 422
    assert "Choose what &#x27;To Do&#x27; means for flow." in response.content.decode()
    job.refresh_from_db()
    assert job.status == "mapping" and not BacklogItem.objects.exists()


def test_the_progress_fragment_polls_while_the_job_is_active(admin_client):
    job = ImportJob.objects.create(source="jira", stream_slug="payments", status="running", progress_total=200)
    ImportJob.objects.filter(pk=job.pk).update(progress_done=50, phase="Read and checked 1,000 issues")
    fragment = admin_client.get(f"/imports/{job.pk}/", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert fragment.templates[0].name == "streams/partials/_import_status.html"
    assert 'hx-trigger="every 1s"' in html and 'value="25"' in html and "1,000 issues" in html
    ImportJob.objects.filter(pk=job.pk).update(status="succeeded")
    assert "hx-trigger" not in admin_client.get(f"/imports/{job.pk}/", headers={"HX-Request": "true"}).content.decode()


def test_csv_upload_runs_straight_away(admin_client, django_capture_on_commit_callbacks):
    TeamFactory(name="Checkout", slug="checkout")
    files = {
        role: SimpleUploadedFile(f"{role}.csv", "\n".join(line.strip() for line in text.splitlines()).encode())
        for role, text in (("states", STATES), ("items", ITEMS), ("transitions", TRANSITIONS))
    }
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, source="csv", **files)
    job = ImportJob.objects.get()
    assert job.status == "succeeded", job.errors
    assert BacklogItem.objects.filter(stream__slug="payments").count() == 4


def test_a_refused_file_lists_its_problems_and_writes_nothing(admin_client, django_capture_on_commit_callbacks):
    data = jira()
    issue(data, "PAY-2")["fields"]["created"] = "2026-02-02T14:00:00"
    export = SimpleUploadedFile("bad.json", json.dumps(data).encode())
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, export=export)
    job = ImportJob.objects.get()
    assert job.status == "mapping"  # the names are readable; the bad date shows when importing
    ImportJob.objects.filter(pk=job.pk).update(status="queued")  # the suggested mapping, confirmed
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "refused"
    assert job.errors[0]["file"] == "issue PAY-2" and "no UTC offset" in job.errors[0]["message"]
    html = admin_client.get(f"/imports/{job.pk}/").content.decode()
    assert "Nothing was written" in html and "no UTC offset" in html
    assert not BacklogItem.objects.exists() and not ValueStream.objects.exists()


def test_a_truncated_upload_is_refused_while_scanning(admin_client, django_capture_on_commit_callbacks):
    text = (FIXTURES / "jira_search.json").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, export=SimpleUploadedFile("cut.json", text[: len(text) // 2]))
    job = ImportJob.objects.get()
    assert job.status == "refused" and "truncated" in job.errors[0]["message"]


def test_a_failed_job_is_retried_and_completes(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    # The job broke (say, its worker ran out of memory) after the mapping was confirmed.
    ImportJob.objects.filter(pk=job.pk).update(
        status="failed", errors=[{"file": "the job", "line": 0, "field": "", "message": "boom"}]
    )
    page = admin_client.get(f"/imports/{job.pk}/").content.decode()
    assert "Run it again" in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/imports/{job.pk}/retry/")
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2
    assert BacklogItem.objects.count() == 13
    # A finished job delivered again (a worker died after committing) changes nothing.
    assert import_job_run(job_id=job.pk).status == "succeeded"
    assert BacklogItem.objects.count() == 13
    refused = admin_client.post(f"/imports/{job.pk}/retry/", follow=True)
    assert "only a failed or stalled one is retried" in refused.content.decode()


def test_only_the_streams_director_or_an_administrator_may_import(client, django_capture_on_commit_callbacks):
    ValueStream.objects.create(slug="payments", name="Payments")
    viewer = UserFactory(username="viewer", roles=[access.VIEWER])
    client.force_login(viewer)
    response = upload(client)
    assert response.status_code == 422 and "product director or an administrator" in response.content.decode()
    new_stream = upload(client, stream="brand-new")
    assert "Only an administrator may create a value stream" in new_stream.content.decode()
    assert not ImportJob.objects.exists()


def test_the_upload_form_names_missing_files_and_bad_slugs(admin_client):
    response = admin_client.post("/imports/", {"source": "csv", "stream": "Not a slug"})
    html = response.content.decode()
    assert response.status_code == 422
    assert "Choose this file." in html and "Enter a valid “slug”" in html
    assert not ImportJob.objects.exists()


def test_the_job_page_issues_few_queries(
    admin_client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    with django_assert_max_num_queries(20) as few:
        admin_client.get(f"/imports/{job.pk}/")
    for n in range(30):
        ImportJob.objects.create(source="jira", stream_slug=f"s{n}", status="succeeded")
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(f"/imports/{job.pk}/")
    with django_assert_max_num_queries(20) as listing:
        admin_client.get("/imports/")
    for n in range(30):
        ImportJob.objects.create(source="github", stream_slug=f"t{n}", status="refused")
    with django_assert_max_num_queries(len(listing.captured_queries)):
        admin_client.get("/imports/")


def test_the_mapping_step_sets_wip_limits_and_refuses_ones_that_make_no_sense(
    admin_client, django_capture_on_commit_callbacks
):
    from streams.models import WorkflowState

    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client)
    job = ImportJob.objects.get()
    form = admin_client.get(f"/imports/{job.pk}/").context["mapping_form"]
    data = {name: form[name].value() or "" for name in form.fields}
    todo, review, qa = (form.statuses.index(s) for s in ("To Do", "In Review", "Waiting for QA"))
    data[f"status_{todo}_wip"] = "5"
    refused = admin_client.post(f"/imports/{job.pk}/", data)
    assert refused.status_code == 422 and not BacklogItem.objects.exists()
    assert "Only an active or waiting state takes a WIP limit" in refused.content.decode()
    data[f"status_{todo}_wip"] = ""
    data[f"status_{review}_wip"], data[f"status_{qa}_wip"] = "3", "4"
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = admin_client.post(f"/imports/{job.pk}/", data)
    assert confirmed.status_code == 302
    job.refresh_from_db()
    assert job.status == "succeeded", job.errors
    limits = dict(WorkflowState.objects.filter(stream__slug="payments").values_list("name", "wip_limit"))
    review_state = form[f"status_{review}_state"].value()
    qa_state = form[f"status_{qa}_state"].value()
    assert limits[review_state] == 3 and limits[qa_state] == 4


def test_the_upload_form_is_offered_only_to_those_who_may_import(admin_user):
    from django.contrib.auth.models import Group
    from django.test import Client

    Group.objects.get_or_create(name=access.VIEWER)
    viewer, admin = Client(), Client()
    viewer.force_login(UserFactory(username="vera", roles=[access.VIEWER]))
    admin.force_login(admin_user)
    page = viewer.get("/imports/").content.decode()
    assert 'data-testid="upload-form"' not in page and "product director or an administrator" in page
    assert 'data-testid="upload-form"' in admin.get("/imports/").content.decode()
