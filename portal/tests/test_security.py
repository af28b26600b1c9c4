"""Hardened settings: the deploy check is clean in production, the CSP header, cookies, passwords."""

import datetime as dt
import os
from pathlib import Path
import secrets
import subprocess
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import timezone
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_deploy_check_reports_nothing_with_production_environment_variables():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example.com",
        "CREDENTIAL_KEYS": "0CQhfNaLBhD7bq1k2tsk-H6qhNtwzDhNl0m3xQdJ7qE=",
    }
    # Production settings, without what the test run sets for itself (the browser tests allow async ORM use).
    for name in (
        "SECURE_SSL_REDIRECT",
        "SECURE_COOKIES",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_PRELOAD",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    ):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_deploy_check_warns_when_tokens_would_hang_on_the_secret_key():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "p.example.com"}
    env.pop("CREDENTIAL_KEYS", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "streams.W001" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "portal.example.com"}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "SECRET_KEY must be set when DEBUG is off." in result.stderr


@pytest.mark.django_db
def test_every_page_carries_the_content_security_policy_with_no_inline_script(viewer_client):
    response = viewer_client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    html = response.content.decode()
    assert "<script>" not in html and " onclick=" not in html and " style=" not in html


@pytest.mark.django_db
def test_only_the_api_docs_allow_inline_styles(viewer_client):
    response = viewer_client.get("/api/docs/")
    assert "style-src 'self' 'unsafe-inline'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in response.content.decode()  # Swagger UI starts from a file (?script)


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31_536_000, SECURE_REDIRECT_EXEMPT=[r"^healthz/$"])
def test_production_redirects_plain_http_but_not_the_health_check():
    client = Client()
    response = client.get("/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/login/"
    assert client.get("/healthz/").status_code == 200
    secure = client.get("/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def test_passwords_shorter_than_twelve_characters_or_common_are_refused():
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Tr0ub4dor&3")
    with pytest.raises(ValidationError, match="too common"):
        validate_password("password1234")
    validate_password("correct horse battery staple")


# --- Login throttling (django-axes) -----------------------------------------------------------


def post_login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


@pytest.mark.django_db
def test_five_failed_logins_lock_that_username_from_that_address_with_a_clear_page(settings):
    from axes.models import AccessAttempt, AccessLog

    from teams.tests.factories import UserFactory

    UserFactory(username="ada")
    UserFactory(username="bob")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = post_login(client, "ada", "wrong password")
        assert (
            response.status_code == 200 and "Please enter a correct username and password" in response.content.decode()
        )
    locked = post_login(client, "ada", "wrong password")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode() and "15 minutes" in locked.content.decode()
    # Locked even with the right password now, but only that username from that address.
    assert post_login(client, "ada", "pw-for-tests-1").status_code == 429
    assert post_login(Client(), "bob", "pw-for-tests-1").status_code == 302
    assert (
        AccessAttempt.objects.get(username="ada").failures_since_start > settings.AXES_FAILURE_LIMIT
    )  # tries while locked count too
    assert AccessLog.objects.filter(username="bob").exists()  # successful logins are recorded

    # Once the cool-off has passed, the right password works again and resets the count.
    AccessAttempt.objects.filter(username="ada").update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert post_login(client, "ada", "pw-for-tests-1").status_code == 302
    assert not AccessAttempt.objects.filter(username="ada").exists()


@pytest.mark.django_db
def test_an_address_that_fails_across_many_usernames_is_locked_for_every_username(settings):
    """Password spraying: one password tried against many usernames from one address. Each
    (username, address) pair stays under its own limit, so the address as a whole is locked
    once it has failed for LOGIN_SPRAY_USERNAMES different usernames within the cool-off."""
    from axes.models import AccessAttempt

    from teams.tests.factories import UserFactory

    settings.LOGIN_SPRAY_USERNAMES = 10
    UserFactory(username="victim")
    sprayer = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(settings.LOGIN_SPRAY_USERNAMES):
        assert post_login(sprayer, f"user{n}", "Winter2026!").status_code == 200
    refused = post_login(sprayer, "victim", "pw-for-tests-1")  # even the right password
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many failed log-ins from your address" in page and "15 minutes" in page
    # Only that address: the same user elsewhere, and a few failures elsewhere, are not affected.
    assert post_login(Client(REMOTE_ADDR="198.51.100.7"), "victim", "pw-for-tests-1").status_code == 302
    office = Client(REMOTE_ADDR="192.0.2.1")
    for n in range(3):
        post_login(office, f"typo{n}", "wrong")
    assert post_login(office, "victim", "pw-for-tests-1").status_code == 302
    # Once the cool-off has passed, the address may log in again.
    AccessAttempt.objects.filter(ip_address="203.0.113.9").update(
        attempt_time=timezone.now() - dt.timedelta(minutes=16)
    )
    assert post_login(sprayer, "victim", "pw-for-tests-1").status_code == 302
