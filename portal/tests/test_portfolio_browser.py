"""The portfolio on a laptop: at 1440 px every column of each view fits its card (no sideways
scroll), the stream column and the header stay in view, and the views switch."""

from django.contrib.auth.models import Group
from django.core.management import call_command
import pytest

from core import access
from portal.tests.browser import PASSWORD, axe_violations, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FITS = """() => {
  const box = document.querySelector('.table-scroll');
  const headers = [...document.querySelectorAll('table.portfolio thead th')];
  const right = box.getBoundingClientRect().right;
  return {
    overflow: box.scrollWidth - box.clientWidth,
    page: document.documentElement.scrollWidth - window.innerWidth,
    hidden: headers.filter(th => th.getBoundingClientRect().right > right + 1).map(th => th.innerText),
  };
}"""


def test_every_column_of_each_view_fits_at_1440_px(live_server, page, screenshot, settings):
    for role in access.ROLES:  # a transactional test before this one flushed the migration's groups
        Group.objects.get_or_create(name=role)
    settings.DEMO_PASSWORD = PASSWORD  # the demo's logins, with the password log_in types
    call_command("seed_demo", "--force", verbosity=0)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server, "leader")
    for view in ("flow", "delivery"):
        page.goto(f"{live_server.url}/?view={view}")
        fit = page.evaluate(FITS)
        assert fit == {"overflow": 0, "page": 0, "hidden": []}, (view, fit)
        assert axe_violations(page) == []
        screenshot(f"portfolio-1440-{view}")
    headers = page.locator("table.portfolio thead th").all_inner_texts()
    assert [h.rstrip(" ▲▼") for h in headers] == [
        "Stream",
        "Product director",
        "Flow health",
        "Deploys /week",
        "Lead time for changes",
        "Change failure",
        "Time to restore",
    ]
