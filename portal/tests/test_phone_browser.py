"""The daily pages on a phone (390 px wide): the page never scrolls sideways; a data table too
wide for the screen scrolls within itself and says so."""

from django.core.management import call_command
import pytest

from portal.tests.browser import PASSWORD, log_in
from streams.models import ValueStream

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDEST = """() => {
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1
                  && !el.closest('.table-scroll, table.data'))
    .map(el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''));
  return {page: document.documentElement.scrollWidth - window.innerWidth, wide: [...new Set(wide)].slice(0, 8)};
}"""


def test_the_daily_pages_fit_a_phone(live_server, page, screenshot, settings):
    settings.DEMO_PASSWORD = PASSWORD
    call_command("seed_demo", "--force", verbosity=0)
    stream = ValueStream.objects.order_by("name").first()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "owner")
    pages = {
        "portfolio": "/",
        "stream": f"/streams/{stream.slug}/",
        "okrs": "/okrs/",
        "backlog": "/streams/backlog/",
        "readiness": "/readiness/",
    }
    misfits = {}
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        fit = page.evaluate(WIDEST)
        if fit["page"] > 0:
            misfits[name] = fit
        screenshot(f"phone-{name}")
    assert misfits == {}
    page.goto(f"{live_server.url}/")
    assert page.locator(".scroll-note").first.is_visible()  # the wide table says it scrolls
