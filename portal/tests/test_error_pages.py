"""The 403, 404 and 500 pages keep the portal around them and say why and where to go."""

from django.contrib.auth.models import Group
from django.test import RequestFactory
import pytest

from core import access
from core.api.errors import server_error
from teams.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    Group.objects.get_or_create(name=access.VIEWER)
    user = UserFactory(username="vera", roles=[access.VIEWER])
    client.force_login(user)
    return user


def test_a_refusal_keeps_the_navigation_and_says_why(client, viewer):
    response = client.get("/okrs/objectives/new/")
    page = response.content.decode()
    assert response.status_code == 403
    assert 'aria-label="Sections"' in page and "Not allowed" in page and "ask an administrator" in page


def test_a_missing_page_keeps_the_navigation_and_offers_the_main_pages(client, viewer):
    response = client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'aria-label="Sections"' in page and "<code>/no/such/page/</code>" in page and 'href="/okrs/"' in page


def test_the_server_error_page_stands_alone_and_says_nothing_was_half_stored():
    response = server_error(RequestFactory().get("/somewhere/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page and "not saved" in page and 'href="/"' in page
