"""OKR pages: progress, confidence, staleness and linked work on hand-built cases; check-ins;
who may edit what; and a page whose query count does not grow with the objectives."""

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
import pytest

from core.errors import DomainError
from okrs import selectors
from okrs.models import CheckIn, KeyResult, Objective
from okrs.selectors import objective_tree, period_from
from okrs.services import check_in_record
from okrs.templatetags.okr_drawing import progress_bar
from okrs.tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory
from streams.backlog.services import item_change_state, item_create
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PERIOD = period_from(None)
LIST = reverse("okrs:objective-list")


def node_of(tree, objective):
    stack = list(tree)
    while stack:
        node = stack.pop()
        if node.objective.pk == objective.pk:
            return node
        stack.extend(node.children)
    raise AssertionError(f"{objective} not in the tree")


def test_progress_keeps_over_achievement_and_objectives_weight_their_key_results(admin_user):
    objective = ObjectiveFactory(period=PERIOD.label)
    KeyResultFactory(objective=objective, start_value=0, target_value=200, current_value=50, weight=1)  # 25%
    KeyResultFactory(objective=objective, start_value=10, target_value=0, current_value=-2, weight=3)  # 120%
    node = node_of(objective_tree(user=admin_user, period=PERIOD), objective)
    assert [round(row.progress, 4) for row in node.key_results] == [0.25, 1.2]
    assert node.progress == pytest.approx((0.25 * 1 + 1.2 * 3) / 4)


def test_confidence_and_staleness_come_from_the_latest_check_in(admin_user):
    objective = ObjectiveFactory(period=PERIOD.label)
    fresh, old, never = (KeyResultFactory(objective=objective, order=n) for n in range(3))
    CheckInFactory(key_result=fresh, confidence=Decimal("0.2"), date=TODAY - dt.timedelta(days=20))
    CheckInFactory(key_result=fresh, confidence=Decimal("0.9"), date=TODAY - dt.timedelta(days=3))
    CheckInFactory(key_result=old, confidence=Decimal("0.5"), date=TODAY - dt.timedelta(days=14))
    rows = node_of(objective_tree(user=admin_user, period=PERIOD), objective).key_results
    assert [(row.confidence, row.stale) for row in rows] == [(0.9, False), (0.5, True), (None, True)]
    assert rows[0].last_check_in == TODAY - dt.timedelta(days=3) and rows[2].last_check_in is None


@pytest.mark.parametrize("probed", [selectors.PROBED_AT_MOST, 0])  # linked items probed by id, or all ids read
def test_linked_work_counts_children_through_their_parent_once_and_skips_removed(admin_user, monkeypatch, probed):
    monkeypatch.setattr(selectors, "PROBED_AT_MOST", probed)
    stream = ValueStreamFactory()
    start = timezone.now() - dt.timedelta(days=1)

    def item(title, *moves, parent=None):
        created = item_create(stream_id=stream.pk, title=title, flow_type="feature", created_at=start, parent=parent)
        for n, name in enumerate(moves):
            item_change_state(item=created, to_state=state(stream, name), at=start + dt.timedelta(hours=n + 1))
        return created

    epic = item("Epic", "In progress")
    story = item("Story", "In progress", parent=epic)
    subtask = item("Subtask", "In progress", "Done", parent=story)
    item("Removed child", "In progress", "Removed", parent=epic)
    item("Not started child", parent=epic)
    other = item("Elsewhere", "In progress")
    kr = KeyResultFactory(objective=ObjectiveFactory(period=PERIOD.label))
    kr.items.add(epic, story)  # the story is linked directly and through the epic: once
    second = KeyResultFactory(objective=kr.objective, order=1)
    second.items.add(story, other)
    rows = node_of(objective_tree(user=admin_user, period=PERIOD), kr.objective).key_results
    assert (rows[0].wip, rows[0].finished) == (2, 1)  # epic and story in progress; subtask finished
    assert (rows[1].wip, rows[1].finished) == (2, 1)  # story, elsewhere; subtask through the story
    assert subtask.finished_at is not None


def test_a_check_in_becomes_the_current_value_unless_an_older_one_is_recorded_late(admin_user):
    kr = KeyResultFactory(start_value=0, target_value=100, current_value=10)
    check_in_record(key_result=kr, value=Decimal("60"), confidence=Decimal("0.8"), author=admin_user)
    kr.refresh_from_db()
    assert kr.current_value == 60
    check_in_record(key_result=kr, value=Decimal("30"), confidence=Decimal("0.8"), date=TODAY - dt.timedelta(days=9))
    kr.refresh_from_db()
    assert kr.current_value == 60 and kr.check_ins.count() == 2


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"confidence": Decimal("1.5")}, "confidence"),
        ({"date": TODAY + dt.timedelta(days=1)}, "date"),
    ],
)
def test_a_bad_check_in_is_refused_naming_the_field_and_writes_nothing(values, field):
    kr = KeyResultFactory(current_value=10)
    with pytest.raises(DomainError) as refused:
        check_in_record(key_result=kr, **{"value": Decimal("50"), "confidence": Decimal("0.5"), **values})
    assert refused.value.field == field
    kr.refresh_from_db()
    assert kr.current_value == 10 and not CheckIn.objects.exists()


@pytest.fixture
def org():
    """A company objective; a stream objective under it; a team objective under that."""
    stream = ValueStreamFactory(name="Payments")
    team = TeamFactory(name="Checkout")
    stream.teams.add(team)
    director, owner = PersonFactory(name="Dana Director"), PersonFactory(name="Owen Owner")
    director.user = UserFactory(username="dana", roles=["product director"])
    owner.user = UserFactory(username="owen", roles=["product owner"])
    director.save(), owner.save()
    LeadershipAssignmentFactory(person=director, stream=stream)
    MembershipFactory(person=owner, team=team)
    company = ObjectiveFactory(title="Grow revenue", period=PERIOD.label)
    on_stream = ObjectiveFactory(
        title="Faster payments", level=Objective.Level.STREAM, stream=stream, parent=company, period=PERIOD.label
    )
    on_team = ObjectiveFactory(
        title="One-click checkout", level=Objective.Level.TEAM, team=team, parent=on_stream, period=PERIOD.label
    )
    krs = {o.level: KeyResultFactory(objective=o, title=f"KR of {o.title}") for o in (company, on_stream, on_team)}
    return {
        "stream": stream,
        "team": team,
        "director": director.user,
        "owner": owner.user,
        "objectives": (company, on_stream, on_team),
        "krs": krs,
    }


def test_the_tree_nests_objectives_under_their_parents(client, org):
    client.force_login(UserFactory(roles=["viewer"]))
    response = client.get(LIST)
    tree = response.context["tree"]
    assert [node.objective.title for node in tree] == ["Grow revenue"]
    assert [child.objective.title for child in tree[0].children] == ["Faster payments"]
    assert [child.objective.title for child in tree[0].children[0].children] == ["One-click checkout"]
    html = response.content.decode()
    assert "Check in" not in html and "New objective" not in html  # a viewer reads only


@pytest.mark.parametrize(
    ("who", "level", "may"),
    [
        ("owner", Objective.Level.TEAM, True),
        ("owner", Objective.Level.STREAM, False),
        ("director", Objective.Level.STREAM, True),
        ("director", Objective.Level.TEAM, True),  # the team serves the director's stream
        ("director", Objective.Level.COMPANY, False),
        ("viewer", Objective.Level.TEAM, False),
    ],
)
def test_who_may_check_in(client, org, who, level, may):
    user = UserFactory(roles=["viewer"]) if who == "viewer" else org[who]
    client.force_login(user)
    kr = org["krs"][level]
    response = client.post(reverse("okrs:check-in", args=[kr.pk]), {"value": "55", "confidence": "0.6", "date": TODAY})
    assert response.status_code == (302 if may else 403)
    kr.refresh_from_db()
    assert (kr.current_value == 55) is may


def test_an_htmx_check_in_returns_the_card_with_the_new_progress(client, org):
    client.force_login(org["owner"])
    kr = org["krs"][Objective.Level.TEAM]
    url = reverse("okrs:check-in", args=[kr.pk])
    form = client.get(url, {"period": PERIOD.label}, headers={"HX-Request": "true"})
    assert form.status_code == 200 and 'name="confidence"' in form.content.decode()
    response = client.post(
        url, {"value": "75", "confidence": "0.7", "date": TODAY, "period": PERIOD.label}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and f'id="objective-{kr.objective_id}"' in html
    assert "75%" in html and 'name="confidence"' not in html


def test_an_invalid_htmx_check_in_shows_the_error_in_the_card_and_saves_nothing(client, org):
    client.force_login(org["owner"])
    kr = org["krs"][Objective.Level.TEAM]
    response = client.post(
        reverse("okrs:check-in", args=[kr.pk]),
        {"value": "75", "confidence": "3", "date": TODAY, "period": PERIOD.label},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'name="confidence"' in html and 'role="alert"' in html
    assert not CheckIn.objects.exists()


def test_a_director_edits_their_streams_objectives_but_sets_no_company_objective(client, org):
    client.force_login(org["director"])
    company, on_stream, _ = org["objectives"]
    assert client.get(reverse("okrs:objective-edit", args=[company.pk])).status_code == 403
    data = {
        "title": "Faster, safer payments",
        "level": "stream",
        "period": PERIOD.label,
        "stream": org["stream"].pk,
        "parent": company.pk,
    }
    response = client.post(reverse("okrs:objective-edit", args=[on_stream.pk]), data)
    assert response.status_code == 302
    on_stream.refresh_from_db()
    assert on_stream.title == "Faster, safer payments"
    refused = client.post(
        reverse("okrs:objective-create"), {"title": "Rule the world", "level": "company", "period": PERIOD.label}
    )
    assert refused.status_code == 200 and "You may not set company objectives" in refused.content.decode()
    assert not Objective.objects.filter(title="Rule the world").exists()


def test_the_tree_refuses_a_parent_that_is_not_higher_or_does_not_cover_the_period(client, org):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    company, on_stream, on_team = org["objectives"]
    data = {
        "title": "Sideways",
        "level": "stream",
        "period": PERIOD.label,
        "stream": org["stream"].pk,
        "parent": on_stream.pk,
    }
    response = client.post(reverse("okrs:objective-create"), data)
    assert "aligns to a higher level" in response.content.decode()
    other_year = str(PERIOD.start.year + 1)
    data = {"title": "Later", "level": "stream", "period": other_year, "stream": org["stream"].pk, "parent": company.pk}
    response = client.post(reverse("okrs:objective-create"), data)
    assert "must cover this objective" in response.content.decode() and f"({other_year})" in response.content.decode()
    assert Objective.objects.count() == 3


def test_a_key_result_whose_target_equals_its_start_is_refused(client, org):
    client.force_login(org["director"])
    _, on_stream, _ = org["objectives"]
    data = {
        "title": "Flat",
        "kind": "outcome",
        "start_value": "5",
        "target_value": "5",
        "current_value": "5",
        "weight": "1",
        "order": "0",
    }
    response = client.post(reverse("okrs:key-result-create", args=[on_stream.pk]), data)
    assert "target must differ from the start" in response.content.decode()
    assert not KeyResult.objects.filter(title="Flat").exists()


def test_a_malformed_period_is_explained(client, org):
    client.force_login(org["owner"])
    response = client.get(LIST, {"period": "2026-Q7"})
    assert response.status_code == 200 and "is not a period" in response.content.decode()


def test_the_page_query_count_does_not_grow_with_objectives(client, org, django_assert_max_num_queries):
    client.force_login(org["director"])
    with django_assert_max_num_queries(30) as few:
        client.get(LIST)
    company = org["objectives"][0]
    for _ in range(15):
        team = TeamFactory()
        org["stream"].teams.add(team)
        objective = ObjectiveFactory(level=Objective.Level.TEAM, team=team, parent=company, period=PERIOD.label)
        for k in range(3):
            CheckInFactory(key_result=KeyResultFactory(objective=objective, order=k))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST)
    assert len(response.context["tree"][0].children) == 16


def test_check_ins_are_signed_with_peoples_names(client, admin_user):
    kr = KeyResultFactory(start_value=0, target_value=100, current_value=10)
    ana = PersonFactory(name="Ana Ramos", user=UserFactory(username="aramos"))
    check_in_record(key_result=kr, value=Decimal("40"), confidence=Decimal("0.7"), author=ana.user)
    client.force_login(admin_user)
    page = client.get(reverse("okrs:key-result-detail", args=[kr.pk])).content.decode()
    assert "<td>Ana Ramos</td>" in page and "aramos" not in page


# --- The page people run their quarter from: filters, drawn figures, trends ----------------------


def shown(tree) -> dict[str, bool]:
    """Every objective in the tree: title -> True when it matched, False when shown for context."""
    result, stack = {}, list(tree)
    while stack:
        node = stack.pop()
        result[node.objective.title] = not node.context
        stack.extend(node.children)
    return result


def test_filters_keep_what_matches_under_its_ancestors(client, org):
    company, on_stream, on_team = org["objectives"]
    other = ObjectiveFactory(title="Cut costs", period=PERIOD.label, owner=PersonFactory(name="Carla Cost"))
    owen = org["owner"].person
    on_team.owner = owen
    on_team.save()
    client.force_login(org["director"])

    def tree(**query):
        return shown(client.get(LIST, {"period": PERIOD.label, **query}).context["tree"])

    assert tree() == {"Grow revenue": True, "Faster payments": True, "One-click checkout": True, "Cut costs": True}
    assert tree(owner=owen.pk) == {"Grow revenue": False, "Faster payments": False, "One-click checkout": True}
    # A stream's objectives and those of the teams serving it.
    assert tree(stream=org["stream"].pk) == {"Grow revenue": False, "Faster payments": True, "One-click checkout": True}
    assert tree(team=org["team"].pk) == {"Grow revenue": False, "Faster payments": False, "One-click checkout": True}
    assert tree(owner=other.owner.pk) == {"Cut costs": True}
    assert tree(owner=other.owner.pk, team=org["team"].pk) == {}


def test_a_key_results_owner_finds_its_objective(client, org):
    kim = PersonFactory(name="Kim Keyresult")
    kr = org["krs"][Objective.Level.STREAM]
    kr.owner = kim
    kr.save()
    client.force_login(org["director"])
    response = client.get(LIST, {"owner": kim.pk})
    assert shown(response.context["tree"]) == {"Grow revenue": False, "Faster payments": True}
    assert "Kim Keyresult" in response.content.decode()  # the key result names who checks in on it


def test_needs_attention_keeps_key_results_stale_or_of_low_confidence(client, org):
    company, on_stream, on_team = org["objectives"]
    fresh = TODAY - dt.timedelta(days=1)
    CheckInFactory(key_result=org["krs"][Objective.Level.COMPANY], date=fresh, confidence=Decimal("0.8"))
    CheckInFactory(key_result=org["krs"][Objective.Level.STREAM], date=fresh, confidence=Decimal("0.3"))
    # The team's key result has no check-in at all: stale.
    client.force_login(org["director"])
    response = client.get(LIST, {"attention": "on"})
    assert shown(response.context["tree"]) == {
        "Grow revenue": False,
        "Faster payments": True,
        "One-click checkout": True,
    }
    assert response.context["counts"] == {"objectives": 2, "key_results": 2, "stale": 1, "low_confidence": 1}


def test_a_filter_naming_nobody_is_explained_and_filters_nothing(client, org):
    client.force_login(org["director"])
    response = client.get(LIST, {"owner": "999999", "team": "x"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Owner: Select a valid choice" in html and "Team: Select a valid choice" in html
    assert len(shown(response.context["tree"])) == 3


def test_each_key_result_draws_its_trend_from_its_check_ins_in_date_order(client, org):
    kr = org["krs"][Objective.Level.TEAM]
    kr.start_value, kr.target_value, kr.unit = Decimal("40"), Decimal("60"), "%"
    kr.save()
    days = [PERIOD.start + dt.timedelta(days=n) for n in (20, 5, 12)]
    for day, value in zip(days, ("50", "42", "45.5"), strict=True):
        CheckInFactory(key_result=kr, date=day, value=Decimal(value))
    CheckInFactory(key_result=kr, date=PERIOD.start - dt.timedelta(days=3), value=Decimal("1"))  # last period's
    client.force_login(org["owner"])
    response = client.get(LIST)
    row = node_of(response.context["tree"], kr.objective).key_results[0]
    assert row.trend == [(days[1], Decimal("42")), (days[2], Decimal("45.5")), (days[0], Decimal("50"))]
    spoken = f"Check-ins: {days[1]:%d %b}: 42; {days[2]:%d %b}: 45.5; {days[0]:%d %b}: 50 %. Path from 40 to 60 %"
    assert spoken in response.content.decode()


def test_progress_and_confidence_are_drawn_beside_their_numbers(client, org):
    kr = org["krs"][Objective.Level.TEAM]
    kr.start_value, kr.target_value = Decimal("0"), Decimal("10")
    kr.save()
    check_in_record(key_result=kr, value=Decimal("3"), confidence=Decimal("0.35"), author=org["owner"])
    client.force_login(org["owner"])
    html = client.get(LIST).content.decode()
    card = html[html.index(f'id="objective-{kr.objective_id}"') :]
    assert '<svg class="bar ' in card and 'data-testid="kr-progress">30%<' in card
    assert '<span class="tag confidence low">35% · low</span>' in card
    assert "0.35" not in card  # confidence is never shown as a bare decimal


def test_the_progress_bar_says_behind_against_the_share_of_the_period_gone():
    assert 'class="bar behind"' in progress_bar(0.2, 0.5)
    assert 'class="bar on-track"' in progress_bar(0.45, 0.5)
    assert '<rect class="fill" width="120.0"' in progress_bar(1.7, 0.5)  # over-achievement fills the bar, no more
    assert 'x1="60.0" x2="60.0"' in progress_bar(0.2, 0.5)  # the tick where a straight path would be


def test_a_check_in_swaps_the_card_and_leaves_the_aligned_objectives_outside_it(client, org):
    company, on_stream, _ = org["objectives"]
    client.force_login(org["director"])
    html = client.get(LIST).content.decode()
    card = html[html.index(f'id="objective-{on_stream.pk}"') :]
    card = card[: card.index("</article>")]
    assert "One-click checkout" not in card  # the child sits after the card, so a swap of the card keeps it
    kr = org["krs"][Objective.Level.STREAM]
    response = client.post(
        reverse("okrs:check-in", args=[kr.pk]),
        {"value": "5", "confidence": "0.6", "date": TODAY, "period": PERIOD.label},
        headers={"HX-Request": "true"},
    )
    assert response.content.decode().count("<article") == 1


def test_a_past_periods_key_result_is_stale_against_the_periods_last_day_not_today(admin_user):
    past = PERIOD.previous()
    objective = ObjectiveFactory(period=past.label)
    checked = KeyResultFactory(objective=objective, order=0)
    CheckInFactory(key_result=checked, date=past.last_day - dt.timedelta(days=3))
    forgotten = KeyResultFactory(objective=objective, order=1)
    CheckInFactory(key_result=forgotten, date=past.last_day - dt.timedelta(days=40))
    rows = objective_tree(user=admin_user, period=past)[0].key_results
    assert [row.stale for row in rows] == [False, True]


def titles_on(page) -> list[tuple[str, bool]]:
    """The objectives a page of the tree shows, in reading order, each with whether it is there
    again only as the one above (`continued`)."""
    rows, stack = [], list(reversed(page.context["tree"]))
    while stack:
        node = stack.pop()
        rows.append((node.objective.title, node.continued))
        stack.extend(reversed(node.children))
    return rows


def test_the_tree_comes_in_pages_each_objective_once_under_the_ones_above_it(client, org, monkeypatch):
    """A page shows TREE_PAGE objectives in reading order; one whose parents are on an earlier
    page comes under them again, marked continued; the counts are those of the whole tree, and
    each page reads the trends of its own key results."""
    monkeypatch.setattr(selectors, "TREE_PAGE", 3)
    company, on_stream, _ = org["objectives"]
    for n in range(3):
        objective = ObjectiveFactory(
            title=f"Stream goal {n}", level=Objective.Level.STREAM, stream=org["stream"], parent=company
        )
        CheckInFactory(key_result=KeyResultFactory(objective=objective, title=f"KR {n}"), value=Decimal(n))
    client.force_login(org["owner"])

    first = client.get(LIST)
    assert titles_on(first) == [("Grow revenue", False), ("Faster payments", False), ("One-click checkout", False)]
    html = first.content.decode()
    assert "Page 1 of 2 (6 in all)" in html and "page=2" in html
    assert first.context["counts"]["objectives"] == 6 and first.context["counts"]["key_results"] == 6

    second = client.get(LIST, {"page": 2, "period": PERIOD.label})
    assert titles_on(second) == [
        ("Grow revenue", True),
        ("Stream goal 0", False),
        ("Stream goal 1", False),
        ("Stream goal 2", False),
    ]
    html = second.content.decode()
    assert ">continued</span>" in html and "3 more objectives aligned to “Grow revenue”" in html
    assert f"period={PERIOD.label}&amp;page=1" in html  # the other parameters are kept
    rows = [row for node in second.context["tree"][0].children for row in node.key_results]
    assert [[value for _, value in row.trend] for row in rows] == [[Decimal(0)], [Decimal(1)], [Decimal(2)]]
    assert client.get(LIST, {"page": 9}).context["page"].number == 2  # past the end: the last page


def test_a_filtered_tree_is_paged_by_its_matches_each_under_the_objectives_above_it(client, org, monkeypatch):
    monkeypatch.setattr(selectors, "TREE_PAGE", 1)
    _, on_stream, _ = org["objectives"]
    ObjectiveFactory(title="Saved cards", level=Objective.Level.TEAM, team=org["team"], parent=on_stream)
    client.force_login(org["owner"])
    above = [("Grow revenue", False), ("Faster payments", False)]  # above a match: on every page, on none's count
    first = client.get(LIST, {"team": org["team"].pk})
    assert titles_on(first) == [*above, ("One-click checkout", False)]
    second = client.get(LIST, {"team": org["team"].pk, "page": 2})
    assert titles_on(second) == [*above, ("Saved cards", False)]
    assert "above a match" in second.content.decode() and "Page 2 of 2 (2 in all)" in second.content.decode()
    assert second.context["counts"]["objectives"] == 2
