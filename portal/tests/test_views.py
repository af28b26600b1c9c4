"""Login, logout, home page and health check."""

from django.urls import reverse
import pytest

from streams.tests.factories import BacklogItemFactory, LeadershipAssignmentFactory, ValueStreamFactory
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_login_page_logs_in_and_redirects_home(client, viewer):
    response = client.post(reverse("login"), {"username": "viewer", "password": "pw-for-tests-1"})
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get("/").status_code == 200


def test_wrong_password_is_explained(client, viewer):
    response = client.post(reverse("login"), {"username": "viewer", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(viewer_client):
    response = viewer_client.post(reverse("logout"))
    assert response.status_code == 302
    assert viewer_client.get("/").status_code == 302


def test_home_lists_streams_with_director_teams_and_work(viewer_client):
    stream = ValueStreamFactory(name="Payments")
    LeadershipAssignmentFactory(stream=stream, person__name="Ada Director", kind="dual_role")
    stream.teams.add(TeamFactory(name="Checkout squad"))
    BacklogItemFactory(stream=stream, state=stream.states.get(name="In progress"))
    BacklogItemFactory.create_batch(2, stream=stream)  # in the first (backlog) state
    BacklogItemFactory(stream=stream, state=stream.states.get(name="Done"))  # counted in neither
    ValueStreamFactory(name="Lending")
    response = viewer_client.get("/")
    html = response.content.decode()
    assert "Payments" in html and "Lending" in html
    assert "Ada Director" in html and "Dual-role executive" in html
    assert "Checkout squad" in html
    assert "No director" in html  # Lending has none
    payments = next(s for s in response.context["streams"] if s.name == "Payments")
    assert (payments.name, payments.wip, payments.backlog) == ("Payments", 1, 2)


def test_home_navigation_and_htmx_are_served_locally(viewer_client):
    html = viewer_client.get("/").content.decode()
    assert 'src="/static/django_htmx/htmx-2.min.js"' in html
    assert "https://" not in html  # no CDN
    assert 'hx-headers=\'{"X-CSRFToken"' in html


def test_home_query_count_does_not_grow_with_streams(viewer_client, django_assert_max_num_queries):
    def seed(n):
        for _ in range(n):
            stream = ValueStreamFactory()
            LeadershipAssignmentFactory(stream=stream)
            stream.teams.add(TeamFactory(), TeamFactory())
            BacklogItemFactory(stream=stream)

    seed(1)
    # session, user, groups-free: streams+counts, directors, teams
    with django_assert_max_num_queries(6) as first:
        viewer_client.get("/")
    seed(8)
    with django_assert_max_num_queries(len(first.captured_queries)):
        viewer_client.get("/")


def test_healthz_needs_no_login(client):
    response = client.get("/healthz/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
