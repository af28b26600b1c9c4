"""The leaders' weekly digest: the first lists what to look at, the next ones what changed."""

import datetime as dt

from django.contrib.auth.models import Group
from django.utils import timezone
import pytest

from core import access
from portal.notifications.digest import leader_digests
from portal.notifications.models import Kind, Notification, PortfolioDigest
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory
from teams.tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def leaders():
    Group.objects.get_or_create(name=access.LEADER)
    return [
        PersonFactory(name=name, user=UserFactory(username=name.lower(), roles=[access.LEADER]))
        for name in ("Lena", "Leo")
    ]


def monday(weeks_ago=0):
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday() + 7 * weeks_ago)


def test_the_first_digest_lists_ownership_gaps_and_comes_on_mondays_to_leaders_only(leaders):
    LeadershipAssignmentFactory(stream=ValueStreamFactory(name="Payments", slug="payments"), person__name="Dora")
    ValueStreamFactory(name="Lending", slug="lending")  # no director
    PersonFactory(name="Not a leader", user=UserFactory(username="nobody"))
    assert leader_digests(monday() + dt.timedelta(days=1)) == 0  # a Tuesday: weekly digests wait
    assert leader_digests(monday()) == 2
    assert sorted(Notification.objects.values_list("recipient__name", flat=True)) == ["Lena", "Leo"]
    note = Notification.objects.filter(kind=Kind.LEADER_DIGEST).first()
    texts = [line["text"] for line in note.lines]
    assert "Lending: No product director" in texts
    assert note.subject.startswith("Portfolio this week:") and "the first digest" in note.figures
    assert "n = 2 streams" in note.figures
    assert leader_digests(monday()) == 0  # the same week: said already
    assert PortfolioDigest.objects.get().week_start == monday()


def test_the_next_digest_says_what_changed_since_last_weeks(leaders):
    payments = ValueStreamFactory(name="Payments", slug="payments")
    LeadershipAssignmentFactory(stream=payments, person__name="Dora")
    lending = ValueStreamFactory(name="Lending", slug="lending")
    leader_digests(monday(1))  # last week: both streams, Lending without a director
    last = PortfolioDigest.objects.get()
    figures = last.figures
    figures["payments"]["health"] = [6, 7]
    figures["payments"]["delivery"]["lead_time"] = "elite"
    PortfolioDigest.objects.filter(pk=last.pk).update(figures=figures)
    LeadershipAssignmentFactory(stream=lending, person__name="Lars")  # the gap is closed
    Notification.objects.all().delete()
    leader_digests(monday())
    note = Notification.objects.filter(recipient=leaders[0]).get()
    texts = [line["text"] for line in note.lines]
    now_health = PortfolioDigest.objects.get(week_start=monday()).figures["payments"]["health"]
    assert f"Payments: flow health {now_health[0]} of {now_health[1]} checks pass (was 6 of 7)" in texts
    assert "Payments: lead time not measured (was elite)" in texts
    assert not any("No product director" in text for text in texts)
    assert any(text.startswith("Lending: Director has no mentor (new)") for text in texts)
    assert f"compared with the week of {monday(1):%Y-%m-%d}" in note.figures
