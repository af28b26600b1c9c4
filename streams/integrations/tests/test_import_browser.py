"""In a real browser: upload a Jira export, confirm the mapping, read the summary; progress polls in place."""

from django.contrib.auth.models import Group
import pytest

from core import access
from portal.tests.browser import log_in
from streams.integrations.tests.test_toolchain import FIXTURES
from streams.models import BacklogItem, ImportJob
from teams.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_as_admin(page, live_server):
    Group.objects.get_or_create(name=access.VIEWER)
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    log_in(page, live_server, "ada")


def test_upload_map_and_import_a_jira_export(live_server, page, screenshot):
    log_in_as_admin(page, live_server)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Imports").click()
    page.get_by_label("From").select_option("jira")
    page.get_by_label("Into value stream").fill("payments")
    page.get_by_label("Export (JSON)").set_input_files(str(FIXTURES / "jira_search.json"))
    page.get_by_role("button", name="Upload and read").click()

    form = page.get_by_test_id("mapping-form")
    form.wait_for()
    assert "13 issues" in page.get_by_test_id("import-status").inner_text()
    assert form.get_by_label("Category of Won't Do").input_value() == "removed"
    form.get_by_label("State for Waiting for QA").fill("QA queue")
    form.get_by_label("WIP limit for Waiting for QA", exact=True).fill("4")
    screenshot("imports-mapping")
    form.get_by_role("button", name="Import with this mapping").click()

    summary = page.get_by_test_id("import-summary")
    summary.wait_for()
    assert "13 new, 0 changed, 0 unchanged" in summary.inner_text()
    from streams.models import WorkflowState

    assert WorkflowState.objects.get(stream__slug="payments", name="QA queue").wip_limit == 4
    screenshot("imports-summary")
    assert BacklogItem.objects.get(external_key="PAY-5").state.name == "QA queue"
    page.get_by_role("link", name="Imports").first.click()
    assert "Imported" in page.get_by_test_id("import-jobs").inner_text()


def test_the_progress_bar_follows_the_job_without_a_reload(live_server, page, screenshot):
    job = ImportJob.objects.create(source="jira", stream_slug="payments", status="running", progress_total=400)
    ImportJob.objects.filter(pk=job.pk).update(progress_done=100, phase="Read and checked 25,000 issues")
    log_in_as_admin(page, live_server)
    page.goto(f"{live_server.url}/imports/{job.pk}/")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    assert page.get_by_label("Import progress").get_attribute("value") == "25"
    screenshot("imports-progress")
    ImportJob.objects.filter(pk=job.pk).update(progress_done=300, phase="Writing 100,000 items and 600,000 moves")
    page.get_by_text("Writing 100,000 items").wait_for(timeout=5000)
    assert page.get_by_label("Import progress").get_attribute("value") == "75"
    ImportJob.objects.filter(pk=job.pk).update(status="succeeded", result={"items_created": 100000})
    page.get_by_test_id("import-summary").wait_for(timeout=5000)
    assert page.evaluate("window.loadedOnce") is True
