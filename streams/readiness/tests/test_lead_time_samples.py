"""The sign-off lead times forecasts draw from: each criterion's most recent sign-offs in the
window, at most LEAD_TIME_SAMPLE_MAX of them, so a forecast's cost does not grow with the
organisation (1.3 million sign-offs at ten times the DESIGN.md scale made the backlog's
"Releasable by" column take 4 s)."""

import datetime as dt

import pytest

from streams.models import ReadinessCheck
from streams.readiness import selectors
from streams.readiness.selectors import READINESS_WINDOW_DAYS, lead_time_samples
from streams.tests.factories import BacklogItemFactory, ReadinessCheckFactory, ReadinessCriterionFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def signed_off(criterion, *, days_ago: float, took_days: float, status=ReadinessCheck.Status.MET):
    at = NOW - dt.timedelta(days=days_ago)
    reason = "Not needed here" if status == ReadinessCheck.Status.WAIVED else ""
    check = ReadinessCheckFactory(
        item=BacklogItemFactory(), criterion=criterion, status=status, signed_off_at=at, reason=reason
    )
    ReadinessCheck.objects.filter(pk=check.pk).update(created_at=at - dt.timedelta(days=took_days))


def test_each_criterion_gives_its_most_recent_sign_offs_in_the_window_at_most_the_cap(monkeypatch):
    monkeypatch.setattr(selectors, "LEAD_TIME_SAMPLE_MAX", 3)
    legal, support, unused = (ReadinessCriterionFactory(name=name) for name in ("Legal", "Support", "Unused"))
    for days_ago, took in ((1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)):
        signed_off(legal, days_ago=days_ago, took_days=took)
    signed_off(legal, days_ago=0.5, took_days=9.0, status=ReadinessCheck.Status.WAIVED)  # not met
    signed_off(support, days_ago=READINESS_WINDOW_DAYS + 1, took_days=7.0)  # before the window
    signed_off(support, days_ago=10, took_days=0.5)
    samples = lead_time_samples([legal.pk, support.pk, unused.pk], NOW)
    assert sorted(samples[legal.pk]) == pytest.approx([1.0, 2.0, 3.0])  # the three most recent
    assert samples[support.pk] == pytest.approx([0.5])
    assert unused.pk not in samples
