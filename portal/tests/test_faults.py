"""Faults on the real PostgreSQL: a constraint that refuses a write mid-race becomes a clear
message with nothing stored, and concurrent edits of one item keep every transition."""

import threading
import time

from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
import psycopg
import pytest

from core import access
from core.errors import integrity_message
from streams.backlog.services import item_create
from streams.models import BacklogItem, Dependency, ReadinessCheck, ReadinessCriterion, StateTransition
from streams.tests.factories import ValueStreamFactory, state
from teams.models import Team
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def groups():
    from django.contrib.auth.models import Group

    for role in access.ROLES:
        Group.objects.get_or_create(name=role)


def in_thread(work):
    """Run `work()` in a thread with its own database connection; returns (thread, results)."""
    results = []

    def run():
        try:
            results.append(work())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until(condition, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_duplicate_saved_in_the_same_instant_is_a_clear_409_and_stores_nothing(htmx):
    groups()
    desk = TeamFactory(name="Service desk", slug="desk", type=Team.Type.BUSINESS_OPERATIONS)
    clerk = PersonFactory(user=UserFactory(username="omar", roles=[access.OPERATIONS]))
    MembershipFactory(person=clerk, team=desk)
    stream = ValueStreamFactory(name="Payments", slug="payments")
    item_create(stream_id=stream.pk, title="Refunds", flow_type="feature")
    # Another operations member saves "Legal review" for the same team; their transaction has
    # inserted the row but not committed when ours checks for duplicates (and finds none).
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )
    other.execute(
        "INSERT INTO streams_readinesscriterion (name, description, owner_team_id, all_streams, flow_types, active)"
        " VALUES ('Legal review', '', %s, true, 'feature', true)",
        [desk.pk],
    )
    client = Client()
    client.force_login(clerk.user)
    data = {
        "name": "Legal review",
        "owner_team": desk.pk,
        "all_streams": "on",
        "flow_types": ["feature"],
        "active": "on",
    }
    headers = {"HX-Request": "true"} if htmx else {}
    thread, results = in_thread(lambda: client.post(reverse("readiness:criterion-add"), data, headers=headers))
    wait_until(lambda: waiting_on_a_lock() > 0, "our insert to wait on the other transaction's row")
    other.commit()
    other.close()
    thread.join(timeout=30)
    (response,) = results
    assert response.status_code == 409
    html = response.content.decode()
    assert "Another readiness criterion already has the same owner team and name “Legal review”" in html
    assert "Nothing was saved" in html
    # Only the other person's criterion exists, and our save created no checks for open work.
    assert ReadinessCriterion.objects.filter(name="Legal review").count() == 1
    assert ReadinessCheck.objects.count() == 0
    if htmx:  # the message goes to the top of the page, whatever the form's target was
        assert response["HX-Retarget"] == "#main" and 'data-testid="conflict"' in html
    else:
        assert "<h1>Not saved</h1>" in html


def test_concurrent_moves_and_edits_of_one_item_keep_every_transition():
    groups()
    team = TeamFactory(name="Checkout", slug="checkout")
    stream = ValueStreamFactory(name="Payments", slug="payments")
    stream.teams.add(team)
    owners = []
    for n in range(6):
        person = PersonFactory(user=UserFactory(username=f"owner{n}", roles=[access.PRODUCT_OWNER]))
        MembershipFactory(person=person, team=team)
        owners.append(person.user)
    item = item_create(stream_id=stream.pk, title="Refunds", flow_type="feature", team=team)
    targets = [state(stream, name) for name in ("Ready", "In progress", "Waiting for review", "Review")]
    start = threading.Barrier(6)

    def move(user, target):
        def work():
            client = Client()
            client.force_login(user)
            start.wait()
            return client.post(
                f"/api/v1/items/{item.pk}/transition/", {"state": target.pk}, content_type="application/json"
            )

        return work

    def rename(user, title):
        def work():
            client = Client()
            client.force_login(user)
            start.wait()
            return client.patch(f"/api/v1/items/{item.pk}/", {"title": title}, content_type="application/json")

        return work

    works = [move(owners[n], target) for n, target in enumerate(targets)]
    works += [rename(owners[4], "Partial refunds"), rename(owners[5], "Refunds by card")]
    threads = [in_thread(work) for work in works]
    for thread, _ in threads:
        thread.join(timeout=60)
    statuses = [results[0].status_code for _, results in threads]
    assert statuses == [201, 201, 201, 201, 200, 200]

    chain = list(StateTransition.objects.filter(item=item).order_by("at", "pk"))
    assert len(chain) == 5  # created, then one per move: none lost
    assert {t.to_state_id for t in chain[1:]} == {t.pk for t in targets}
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.from_state_id == before.to_state_id  # each move starts where the previous ended
    item = BacklogItem.objects.get(pk=item.pk)
    assert item.state_id == chain[-1].to_state_id  # a rename never wrote back a stale state
    assert item.title in ("Partial refunds", "Refunds by card")
    moves = [v for v in BacklogItem.history.filter(id=item.pk) if v.history_type == "~"]
    assert len(moves) == 6  # four moves and two renames, each a version with its author
    assert {v.history_user.username for v in moves} == {f"owner{n}" for n in range(6)}


def violation(write) -> str:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        write()
    return integrity_message(caught.value)


def test_each_kind_of_violation_has_its_own_sentence():
    stream = ValueStreamFactory(name="Payments", slug="payments")
    item = item_create(stream_id=stream.pk, title="Refunds", flow_type="feature")
    now = timezone.now()
    check = violation(lambda: Dependency.objects.create(item=item, blocked_by=item, created_at=now))
    assert check == "The dependency breaks a rule: An item cannot depend on itself. Nothing was saved."
    duplicate = violation(lambda: ValueStreamFactory(name="Again", slug="payments"))
    assert duplicate.startswith("Another value stream already has the same slug “payments”.")
    missing = violation(lambda: Dependency.objects.create(item=item, blocked_by_id=987654, created_at=now))
    assert missing.startswith("The dependency refers to something that no longer exists")
