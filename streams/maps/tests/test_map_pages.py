"""Map and experiment pages: what they show, in-place edits, bad input, who may write, query counts."""

import datetime as dt
from decimal import Decimal

from django.test import Client
from django.urls import reverse
import pytest

from streams.models import ImprovementExperiment, ProcessBlock, ValueStreamMap
from streams.templatetags.humanize_days import duration
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from streams.tests.flow_history import bulk_items
from teams.tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
WINDOW = {"start": "2026-03-02", "end": "2026-03-15"}
HTMX = {"HTTP_HX_REQUEST": "true"}


def d(days):
    return T0 + dt.timedelta(days=days)


def add_block(vsm, order, activity, process, lead, pca, states=()):
    block = ProcessBlock.objects.create(
        map=vsm,
        order=order,
        activity=activity,
        process_time_hours=Decimal(process),
        lead_time_hours=Decimal(lead),
        percent_complete_accurate=pca,
    )
    block.states.set(states)
    return block


@pytest.fixture
def org():
    stream = ValueStreamFactory(name="Claims", slug="claims")
    other = ValueStreamFactory(name="Quotes", slug="quotes")
    director = PersonFactory(name="Dana Director", user=UserFactory(username="dana", roles=["product director"]))
    LeadershipAssignmentFactory(person=director, stream=stream)
    bulk_items(
        stream,
        [
            (d(0), [("In progress", d(1)), ("Waiting for review", d(3)), ("Review", d(4)), ("Done", d(6))]),
            (d(0), [("In progress", d(1)), ("Done", d(2))]),
            (d(0), [("In progress", d(2)), ("Waiting for review", d(3)), ("Review", d(7)), ("Done", d(8))]),
        ],
    )
    current = ValueStreamMap.objects.create(stream=stream, name="Today", kind="current", as_of=dt.date(2026, 3, 1))
    add_block(current, 1, "Build", 6, 24, 90, [state(stream, "In progress")])
    add_block(current, 2, "Review", 2, 12, 80, [state(stream, "Waiting for review"), state(stream, "Review")])
    future = ValueStreamMap.objects.create(stream=stream, name="Next year", kind="future", as_of=dt.date(2026, 3, 1))
    add_block(future, 1, "Build", 6, 12, 95)
    add_block(future, 2, "Pair review", 1, 2, 95)
    return {"stream": stream, "other": other, "current": current, "future": future, "director": director.user}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def maps_url(stream, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("streams:stream-maps", args=[stream.slug]) + (f"?{query}" if query else "")


def test_maps_page_sets_current_beside_future_and_beside_the_data(viewer_client, org):
    response = viewer_client.get(maps_url(org["stream"], **WINDOW))
    assert response.status_code == 200
    html = response.content.decode()
    rows = {row["label"]: row for row in response.context["totals_change"].rows}
    assert rows["Total lead time"]["current"] == pytest.approx(1.5)  # 36 hours
    assert rows["Rolled %C&A"]["current"] == pytest.approx(72.0)
    assert rows["Rolled %C&A"]["future"] == pytest.approx(90.25)
    assert [(c.activity, c.status) for c in response.context["block_changes"]] == [
        ("Build", "kept"),
        ("Pair review", "added"),
        ("Review", "removed"),
    ]
    measured = response.context["measured"]
    assert measured.items == 3
    assert [c.block.activity for c in measured.highlighted] == ["Review"]
    assert 'class="highlight" data-activity="Review"' in html
    assert "Belief and data disagree most at:" in html and "Data says 8.0× the drawn time" in html
    assert "rolled %C&amp;A = the product" in html  # the page explains its numbers
    assert "New map" not in html  # a viewer may not draw


def test_maps_page_query_count_does_not_grow_with_maps_and_blocks(viewer_client, org, django_assert_max_num_queries):
    with django_assert_max_num_queries(60) as few:
        viewer_client.get(maps_url(org["stream"], **WINDOW))
    for n in range(5):
        extra = ValueStreamMap.objects.create(
            stream=org["stream"], name=f"Old {n}", kind="current", as_of=dt.date(2025, 1, 1 + n)
        )
        for k in range(4):
            add_block(extra, k, f"Step {k}", 1, 2, 90, [state(org["stream"], "Review")])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer_client.get(maps_url(org["stream"], **WINDOW))
    assert len(response.context["maps"]) == 7


def test_a_director_draws_a_map_and_edits_its_activities_in_place(org):
    client = login(org["director"])
    stream = org["stream"]
    response = client.post(
        maps_url(stream), {"name": "Workshop", "kind": "current", "as_of": "2026-03-10", "notes": ""}
    )
    vsm = ValueStreamMap.objects.get(name="Workshop")
    assert response.status_code == 302 and response["Location"] == reverse(
        "streams:map-detail", args=["claims", vsm.pk]
    )
    add = reverse("streams:block-add", args=["claims", vsm.pk])
    block = {
        "activity": "Intake",
        "people": 2,
        "process_time_hours": "2",
        "lead_time_hours": "10",
        "queue_before": 5,
        "percent_complete_accurate": 80,
        "states": [state(stream, "In progress").pk],
        "wastes": ["waiting", "motion", "extra_processing"],
        "barriers": "Re-keying",
    }
    response = client.post(add, block, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "streams/partials/_map_blocks.html"
    html = response.content.decode()
    assert '<span class="tag">Extra processing</span>' in html  # labels, not stored values
    # The map drawn beside its table: one box per activity with its times, the queue before it.
    drawing = html.split('data-testid="vsm-drawing"')[1].split("</svg>")[0]
    assert drawing.count('<g class="activity">') == 1 and "1. Intake" in drawing
    assert "PT 2 h · LT 10 h" in drawing and "%C&amp;A 80%" in drawing and "5 queued" in drawing
    response = client.post(
        add,
        block
        | {"activity": "Build", "process_time_hours": "3", "lead_time_hours": "30", "percent_complete_accurate": 50},
        **HTMX,
    )
    drawing = response.content.decode().split('data-testid="vsm-drawing"')[1].split("</svg>")[0]
    assert drawing.count('<g class="activity">') == 2 and "Lead 40 h" in drawing and "ratio 12.5%" in drawing
    totals = response.context["totals"]
    assert (totals.lead_hours, totals.process_hours, totals.rolled_pca) == (40, 5, pytest.approx(40.0))
    html = response.content.decode()
    assert 'data-total="ratio">12.5%' in html and 'data-total="pca">40.0%' in html
    intake, build = vsm.blocks.order_by("order")
    assert intake.wastes == ["waiting", "motion", "extra_processing"]
    assert [s.name for s in intake.states.all()] == ["In progress"]

    # Reorder, edit, delete: each answers with the whole fragment, totals included.
    client.post(reverse("streams:block-move", args=["claims", vsm.pk, build.pk]), {"direction": "up"}, **HTMX)
    assert list(vsm.blocks.order_by("order").values_list("activity", flat=True)) == ["Build", "Intake"]
    edit = reverse("streams:block-edit", args=["claims", vsm.pk, intake.pk])
    form = client.get(edit, **HTMX)
    assert form.context["editing"] == intake.pk and 'value="Intake"' in form.content.decode()
    client.post(edit, block | {"lead_time_hours": "20"}, **HTMX)
    intake.refresh_from_db()
    assert intake.lead_time_hours == 20
    response = client.post(reverse("streams:block-delete", args=["claims", vsm.pk, build.pk]), **HTMX)
    assert response.context["totals"].lead_hours == 20
    assert list(vsm.blocks.values_list("activity", "order")) == [("Intake", 1)]


def test_bad_activities_are_refused_precisely_and_nothing_is_saved(org):
    client = login(org["director"])
    vsm = org["current"]
    add = reverse("streams:block-add", args=["claims", vsm.pk])
    base = {"activity": "Test", "people": 1, "queue_before": 0, "percent_complete_accurate": 90}
    response = client.post(add, base | {"process_time_hours": "12", "lead_time_hours": "4"}, **HTMX)
    assert response.status_code == 422
    assert "Process time (12 h) cannot be longer than the lead time (4 h)." in response.content.decode()
    response = client.post(
        add,
        base | {"process_time_hours": "1", "lead_time_hours": "4", "states": [state(org["other"], "Done").pk]},
        **HTMX,
    )
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    response = client.post(
        add, base | {"process_time_hours": "1", "lead_time_hours": "4", "percent_complete_accurate": 140}, **HTMX
    )
    assert response.status_code == 422 and "less than or equal to 100" in response.content.decode()
    response = client.post(
        reverse("streams:block-move", args=["claims", vsm.pk, vsm.blocks.first().pk]), {"direction": "sideways"}, **HTMX
    )
    assert response.status_code == 422
    assert not ProcessBlock.objects.filter(activity="Test").exists()
    assert list(vsm.blocks.values_list("activity", flat=True)) == ["Build", "Review"]


def test_only_the_streams_director_may_change_its_maps(viewer_client, org):
    vsm = org["current"]
    block = vsm.blocks.first()
    other_director = PersonFactory(user=UserFactory(username="olga", roles=["product director"]))
    LeadershipAssignmentFactory(person=other_director, stream=org["other"])
    for client in (viewer_client, login(other_director.user)):
        assert (
            client.post(maps_url(org["stream"]), {"name": "X", "kind": "current", "as_of": "2026-03-10"}).status_code
            == 403
        )
        assert client.post(reverse("streams:block-add", args=["claims", vsm.pk]), {}).status_code == 403
        assert (
            client.post(
                reverse("streams:block-move", args=["claims", vsm.pk, block.pk]), {"direction": "down"}
            ).status_code
            == 403
        )
        assert client.post(reverse("streams:block-delete", args=["claims", vsm.pk, block.pk])).status_code == 403
        assert client.post(reverse("streams:map-detail", args=["claims", vsm.pk]), {"delete": "map"}).status_code == 403
    assert ValueStreamMap.objects.filter(stream=org["stream"]).count() == 2 and vsm.blocks.count() == 2
    # A map of another stream is not found under this stream's address.
    assert viewer_client.get(reverse("streams:map-detail", args=["quotes", vsm.pk])).status_code == 404


def test_map_detail_shows_totals_and_the_director_may_delete_the_map(org):
    client = login(org["director"])
    url = reverse("streams:map-detail", args=["claims", org["current"].pk])
    html = client.get(url).content.decode()
    assert 'data-total="lead">36 h' in html and 'data-total="pca">72.0%' in html
    assert "Add an activity" in html
    response = client.post(url, {"delete": "map"})
    assert response.status_code == 302
    assert not ValueStreamMap.objects.filter(pk=org["current"].pk).exists()
    assert not ProcessBlock.objects.filter(map_id=org["current"].pk).exists()


# --- Experiments -----------------------------------------------------------------------------------


def hypothesis(**fields):
    return {
        "title": "Pairing on reviews",
        "hypothesis": "If reviewers pair, flow time falls by 20%.",
        "change": "Pair review",
        "target_metric": "flow_time",
        "flow_type": "",
        "expected_direction": "decrease",
        "expected_size_percent": 20,
        "start_date": "2026-03-09",
        "review_date": "2026-03-30",
    } | fields


def test_a_hypothesis_with_a_short_or_backwards_period_is_refused(org):
    client = login(org["director"])
    url = reverse("streams:experiments", args=["claims"])
    response = client.post(url, hypothesis(review_date="2026-03-16"))
    assert response.status_code == 422
    assert "Review at least 14 days after the start (2026-03-23 or later)" in response.content.decode()
    response = client.post(url, hypothesis(review_date="2026-03-01", expected_size_percent=0))
    html = response.content.decode()
    assert response.status_code == 422 and "Say how large a change you expect" in html
    assert not ImprovementExperiment.objects.exists()


def test_a_past_experiment_is_judged_at_once_and_its_evidence_shown(org):
    client = login(org["director"])
    response = client.post(reverse("streams:experiments", args=["claims"]), hypothesis())
    experiment = ImprovementExperiment.objects.get()
    assert response.status_code == 302
    assert experiment.verdict == "no_evidence" and experiment.result["too_few"]
    html = client.get(response["Location"]).content.decode()
    assert "No evidence" in html and "Too few items to judge" in html
    assert "2026-02-16 to 2026-03-08 (21 days)" in html  # the before period, the same length as the after one


def test_a_future_experiment_waits_for_its_review_and_lists_everywhere(org, viewer_client):
    login(org["director"]).post(
        reverse("streams:experiments", args=["claims"]),
        hypothesis(title="Smaller batches", start_date="2099-01-01", review_date="2099-02-01"),
    )
    experiment = ImprovementExperiment.objects.get(title="Smaller batches")
    assert experiment.verdict == "pending" and experiment.baseline is None
    page = viewer_client.get(reverse("streams:experiment-detail", args=["claims", experiment.pk])).content.decode()
    assert "Not judged yet" in page and "2099-02-01" in page
    for url in (
        reverse("streams:experiments", args=["claims"]),
        reverse("streams:stream-detail", args=["claims"]),
        reverse("home"),
        reverse("streams:maps"),
    ):
        html = viewer_client.get(url).content.decode()
        assert f'data-experiment="{experiment.pk}"' in html, url
        assert "Judged on 2099-02-01" in html, url


def test_a_viewer_sees_experiments_but_cannot_add_one(viewer_client, org):
    url = reverse("streams:experiments", args=["claims"])
    assert "New hypothesis" not in viewer_client.get(url).content.decode()
    assert viewer_client.post(url, hypothesis()).status_code == 403
    assert not ImprovementExperiment.objects.exists()


def test_the_drawing_escapes_what_people_typed():
    from types import SimpleNamespace

    from streams.templatetags.vsm_drawing import vsm_svg

    block = SimpleNamespace(
        activity='<script>alert("x")</script>',
        process_time_hours=1,
        lead_time_hours=2.5,
        percent_complete_accurate=90,
        people=1,
        queue_before=0,
        waste_labels=["Waiting & <b>"],
    )
    svg = str(vsm_svg([block], None, 'Map "A" <now>'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Waiting &amp; &lt;b&gt;" in svg
    assert 'aria-label="Map &quot;A&quot; &lt;now&gt;"' in svg and "LT 2.5 h" in svg


@pytest.mark.parametrize(
    ("hours", "shown"),
    [
        (None, "—"),
        (Decimal("0.25"), "15 min"),
        (2, "2 h"),
        (Decimal("2.5"), "2.5 h"),
        (36, "36 h"),
        (48, "2 days"),
        (84, "3.5 days"),
    ],
)
def test_map_times_always_name_their_unit(hours, shown):
    assert duration(hours) == shown
