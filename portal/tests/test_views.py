"""Login, logout, home page and health check."""

from django.urls import reverse
import pytest

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


def test_home_navigation_and_htmx_are_served_locally(viewer_client):
    html = viewer_client.get("/").content.decode()
    assert 'src="/static/django_htmx/htmx-2.min.js"' in html
    assert "https://" not in html  # no CDN
    assert 'hx-headers=\'{"X-CSRFToken"' in html


def test_healthz_needs_no_login(client):
    response = client.get("/healthz/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
