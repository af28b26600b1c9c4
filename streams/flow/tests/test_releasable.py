"""The releasable forecast on hand-built histories whose answer is known: a fixed daily
throughput gives a known date, a criterion with a fixed lead time adds exactly it, a steady
release cadence adds a uniform wait; too little history is refused, saying why."""

import datetime as dt
import math

from django.test import Client
from django.utils import timezone
import pytest

from streams.backlog.services import item_change_state, item_create
from streams.delivery.records import deployment_record
from streams.flow.releasable import releasable_forecast, releasable_forecasts
from streams.models import ReadinessCheck
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory, state
from streams.tests.flow_history import bulk_items
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = NOW.astimezone(dt.UTC).date()
MIDNIGHT = dt.datetime.combine(TODAY, dt.time(), dt.UTC)


def steady(stream, finished_per_day=1):
    """One item finished at noon on each of the last 84 complete days."""
    specs = []
    for k in range(1, 85):
        noon = MIDNIGHT - dt.timedelta(days=k) + dt.timedelta(hours=12)
        specs += [
            (noon - dt.timedelta(days=3), [("In progress", noon - dt.timedelta(days=2)), ("Done", noon)])
        ] * finished_per_day
    bulk_items(stream, specs)


@pytest.fixture
def epic():
    """An epic in progress with three children not started, in a stream finishing one a day."""
    stream = ValueStreamFactory(name="Payments")
    steady(stream)
    parent = item_create(stream_id=stream.pk, title="One-click checkout", flow_type="feature", created_at=NOW)
    item_change_state(item=parent, to_state=state(stream, "In progress"), at=NOW)
    for n in range(3):
        item_create(stream_id=stream.pk, title=f"Story {n}", flow_type="feature", created_at=NOW, parent=parent)
    parent.refresh_from_db()
    return parent


def signed_off(criterion, item, days, n):
    """n checks of the criterion met `days` after they were created, within the last weeks."""
    for k in range(n):
        check, _ = ReadinessCheck.objects.get_or_create(item=item if k == 0 else _another(item, k), criterion=criterion)
        ReadinessCheck.objects.filter(pk=check.pk).update(
            status="met",
            created_at=MIDNIGHT - dt.timedelta(days=20 + k + days),
            signed_off_at=MIDNIGHT - dt.timedelta(days=20 + k),
        )


def _another(item, k):
    return item_create(stream_id=item.stream_id, title=f"Signed {k} {item.pk}", flow_type="feature", created_at=NOW)


def test_a_fixed_daily_throughput_gives_a_known_date(epic):
    forecast = releasable_forecast(epic, NOW)
    assert not forecast.refused
    assert forecast.p50 == forecast.p85 == TODAY + dt.timedelta(days=3)  # three children, one a day
    assert forecast.parts[0].label == "development" and forecast.parts[0].p50 == 3
    assert forecast.remaining == 3 and forecast.sample_days == 84 and forecast.sample_items == 84
    assert "not counted" in forecast.parts[-1].note  # no deployments: no cadence to read


def test_a_criterion_with_a_fixed_lead_time_adds_exactly_it(epic):
    legal = TeamFactory(name="Legal")
    terms = ReadinessCriterionFactory(name="Terms approved", owner_team=legal)
    signed_off(terms, _another(epic, 99), days=5, n=6)
    ReadinessCheck.objects.update_or_create(item=epic, criterion=terms, defaults={"status": "pending"})
    forecast = releasable_forecast(epic, NOW)
    assert forecast.p50 == forecast.p85 == TODAY + dt.timedelta(days=8)
    assert forecast.breakdown == "development 3 days, Terms approved 5 days"


def test_a_criterion_with_little_history_borrows_its_teams_and_says_so(epic):
    legal = TeamFactory(name="Legal")
    terms = ReadinessCriterionFactory(name="Terms approved", owner_team=legal)
    privacy = ReadinessCriterionFactory(name="Privacy review", owner_team=legal)
    signed_off(privacy, _another(epic, 50), days=2, n=6)
    ReadinessCheck.objects.update_or_create(item=epic, criterion=terms, defaults={"status": "pending"})
    forecast = releasable_forecast(epic, NOW)
    part = next(p for p in forecast.parts if p.label == "Terms approved")
    assert part.p50 == 2 and "Legal's sign-offs stand in" in part.note
    assert forecast.p50 == TODAY + dt.timedelta(days=5)


def test_a_steady_release_cadence_adds_a_uniform_wait(epic):
    for k in range(1, 20):
        at = MIDNIGHT - dt.timedelta(days=4 * k)
        deployment_record(
            data={
                "stream": epic.stream,
                "service": "pay",
                "environment": "Production",
                "started_at": at - dt.timedelta(minutes=5),
                "finished_at": at,
                "external_id": f"d{k}",
            },
            source="test",
        )
    forecast = releasable_forecast(epic, NOW)
    release = forecast.parts[-1]
    assert release.label == "next release"
    assert release.p50 == pytest.approx(2.0, abs=0.1) and release.p85 == pytest.approx(3.4, abs=0.1)
    # Development takes exactly 3 days in every trial, so the total's percentiles are 3 + the wait's.
    assert forecast.p50 == TODAY + dt.timedelta(days=math.ceil(3 + release.p50))
    assert forecast.p85 == TODAY + dt.timedelta(days=math.ceil(3 + release.p85))


def test_a_target_date_the_85th_percentile_misses_is_flagged(epic):
    epic.target_date = TODAY + dt.timedelta(days=2)
    assert releasable_forecast(epic, NOW).misses_target
    epic.target_date = TODAY + dt.timedelta(days=3)
    assert not releasable_forecast(epic, NOW).misses_target


def test_too_little_history_is_refused_saying_why():
    stream = ValueStreamFactory(name="New")
    bulk_items(
        stream,
        [
            (
                MIDNIGHT - dt.timedelta(days=5),
                [("In progress", MIDNIGHT - dt.timedelta(days=4)), ("Done", MIDNIGHT - dt.timedelta(days=2))],
            )
        ]
        * 2,
    )
    parent = item_create(stream_id=stream.pk, title="Epic", flow_type="feature", created_at=NOW)
    item_change_state(item=parent, to_state=state(stream, "In progress"), at=NOW)
    item_create(stream_id=stream.pk, title="Story", flow_type="feature", created_at=NOW, parent=parent)
    forecast = releasable_forecast(parent, NOW)
    assert forecast.refused.startswith("Too little history: the stream finished 2 items in the last 12 weeks")
    assert forecast.p50 is None


def test_work_not_in_progress_has_no_releasable_date(epic):
    child = epic.children.first()
    assert "not in progress" in releasable_forecast(child, NOW).refused


def test_the_item_page_and_the_api_show_the_same_forecast(epic, admin_user):
    epic.target_date = TODAY + dt.timedelta(days=2)
    epic.save(update_fields=["target_date"])
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/items/{epic.pk}/").content.decode()
    when = TODAY + dt.timedelta(days=3)
    assert "When can it go live?" in page and f"{when:%-d %b %Y}" in page and "misses its target date" in page
    answer = client.get(f"/api/v1/items/{epic.pk}/releasable/").json()
    assert answer["p50"] == answer["p85"] == when.isoformat() and answer["misses_target"] is True
    assert answer["breakdown"] == "development 3 days" and answer["refused"] is None


def test_sign_offs_of_several_criteria_run_side_by_side(epic):
    legal, security = TeamFactory(name="Legal"), TeamFactory(name="Security")
    terms = ReadinessCriterionFactory(name="Terms approved", owner_team=legal)
    pentest = ReadinessCriterionFactory(name="Pen test", owner_team=security)
    signed_off(terms, _another(epic, 70), days=5, n=6)
    signed_off(pentest, _another(epic, 80), days=2, n=6)
    for criterion in (terms, pentest):
        ReadinessCheck.objects.update_or_create(item=epic, criterion=criterion, defaults={"status": "pending"})
    forecast = releasable_forecast(epic, NOW)
    assert forecast.p50 == forecast.p85 == TODAY + dt.timedelta(days=8)  # 3 of development, then the longer, 5
    assert forecast.breakdown == "development 3 days, 2 sign-offs side by side 5 days"


def test_the_backlog_shows_each_rows_date_in_queries_that_do_not_grow_with_rows(
    epic, admin_user, django_assert_max_num_queries
):
    legal = TeamFactory(name="Legal")
    terms = ReadinessCriterionFactory(name="Terms approved", owner_team=legal)
    signed_off(terms, _another(epic, 99), days=5, n=6)
    ReadinessCheck.objects.update_or_create(item=epic, criterion=terms, defaults={"status": "pending"})
    client = Client()
    client.force_login(admin_user)
    url = f"/streams/{epic.stream.slug}/backlog/?view=all"
    with django_assert_max_num_queries(60) as few:
        page = client.get(url).content.decode()
    assert f"{TODAY + dt.timedelta(days=8):%-d %b %Y}</a>" in page
    for n in range(3):
        more = item_create(stream_id=epic.stream_id, title=f"Epic {n}", flow_type="feature", created_at=NOW)
        item_change_state(item=more, to_state=state(epic.stream, "In progress"), at=NOW)
        item_create(stream_id=epic.stream_id, title=f"Part of {n}", flow_type="feature", created_at=NOW, parent=more)
        ReadinessCheck.objects.update_or_create(item=more, criterion=terms, defaults={"status": "pending"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)
    batched = releasable_forecasts(list(epic.stream.items.select_related("state")))
    assert batched[epic.pk].p85 == releasable_forecast(epic, NOW).p85
