"""The investment panel and its API and CSV: the same figures as `okrs.investment` on the same
scope and window, every door; query counts that do not grow with streams or key results."""

import csv
import io

from django.test import Client
from django.urls import reverse
import pytest

from okrs.investment import UNALIGNED, investment_report
from okrs.models import Objective
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.flow.engine import Scope
from streams.flow.tests.test_investment import WINDOW, payments  # noqa: F401 (a fixture)
from streams.tests.factories import ValueStreamFactory
from streams.tests.flow_history import d, make
from teams.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

QUERY = {"start": "2026-03-02", "end": "2026-03-15"}


@pytest.fixture
def viewer():
    client = Client()
    client.force_login(UserFactory(roles=["viewer"]))
    return client


def test_the_page_the_api_and_the_csv_give_the_reports_figures(payments, viewer):  # noqa: F811
    stream, _ = payments
    objective = ObjectiveFactory(title="Faster payments", level=Objective.Level.STREAM, stream=stream, period="2026-Q1")
    KeyResultFactory(objective=objective, title="Refunds in a day").items.add(stream.items.get(title="A"))
    expected = investment_report(Scope.stream(stream), WINDOW)

    page = viewer.get(reverse("investment"), {"stream": stream.slug, **QUERY})
    html = page.content.decode()
    assert page.status_code == 200 and "Investment by effort · Payments" in html
    assert "12.0 days of active time on 4 items" in html and "Faster payments" in html and UNALIGNED in html

    api = viewer.get(reverse("api:metrics-investment"), {"stream": stream.slug, **QUERY}).json()
    by = {(row["dimension"], row["label"]): row for row in api["rows"]}
    assert api["effort_days"] == pytest.approx(expected.flow.effort_days)
    assert by["flow_type", "Feature"]["effort_share"] == round(expected.flow.by_type[0].effort_share, 4)
    assert by["key_result", "Refunds in a day"]["effort_days"] == pytest.approx(4)
    assert by["key_result", UNALIGNED]["effort_share"] == pytest.approx(8 / 12, abs=1e-4)

    response = viewer.get(reverse("api:metrics-investment"), {"stream": stream.slug, "format": "csv", **QUERY})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["dimension"], r["label"]) for r in rows] == [(r["dimension"], r["label"]) for r in api["rows"]]


def test_the_stream_page_and_the_portfolio_load_the_panel(payments, viewer):  # noqa: F811
    stream, _ = payments
    assert (
        f'hx-get="{reverse("investment")}?stream={stream.slug}"'
        in viewer.get(stream.get_absolute_url()).content.decode()
    )
    assert f'hx-get="{reverse("investment")}"' in viewer.get(reverse("home")).content.decode()
    fragment = viewer.get(reverse("investment"), QUERY, headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith("<section") or "<section" in fragment.content.decode()[:400]
    assert "<html" not in fragment.content.decode()


def test_a_scope_that_does_not_exist_is_not_found(viewer):
    assert viewer.get(reverse("investment"), {"stream": "nope"}).status_code == 404


def test_the_query_count_does_not_grow_with_streams_or_key_results(payments, viewer, django_assert_max_num_queries):  # noqa: F811
    stream, _ = payments
    first = ObjectiveFactory(level=Objective.Level.STREAM, stream=stream, period="2026-Q1")
    KeyResultFactory(objective=first).items.add(stream.items.get(title="A"))
    with django_assert_max_num_queries(40) as few:
        viewer.get(reverse("investment"), QUERY)
    for n in range(5):
        stream = ValueStreamFactory(name=f"More {n}")
        item = make(stream, f"M{n}", "feature", [("In progress", d(2)), ("Done", d(5))])
        objective = ObjectiveFactory(level=Objective.Level.STREAM, stream=stream, period="2026-Q1")
        KeyResultFactory(objective=objective).items.add(item)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer.get(reverse("investment"), QUERY)
    assert len(response.context["flow"].by_stream) == 7
