"""The first-run path on the embedded default: migrate, seed_demo and the pages on SQLite.

Runs in subprocesses with DATABASE_URL pointing at a fresh SQLite file, exactly as
`make run` does, so the PostgreSQL test settings play no part.
"""

import os
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOME_PAGE = """
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.test import Client
client = Client()
# django-axes checks every password login and needs a request.
assert client.login(request=HttpRequest(), username="admin", password="{password}"), "demo login failed"
from okrs.models import KeyResult
from streams.models import BacklogItem, ValueStream
key_result = KeyResult.objects.filter(items__isnull=False).first()
stream = ValueStream.objects.first()
item = BacklogItem.objects.filter(parent__isnull=False).first()
pages = ["/okrs/", "/okrs/alignment/", f"/okrs/alignment/?stream={{stream.slug}}", f"/streams/{{stream.slug}}/",
         f"/streams/{{stream.slug}}/health/", "/leadership/", "/teams/", "/readiness/", "/readiness/criteria/",
         f"/streams/{{stream.slug}}/backlog/",
         f"/okrs/key-results/{{key_result.pk}}/", f"/items/{{item.pk}}/"]
for url in pages:
    assert client.get(url).status_code == 200, url
response = client.get("/")
assert response.status_code == 200, response.status_code
print(response.content.decode())
"""


@pytest.mark.slow
def test_migrate_seed_demo_and_home_page_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'first-run.sqlite3'}",
        "DEBUG": "true",
        "DEMO_PASSWORD": "smoke-test-pass",
    }

    def run(*args):
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True)

    run(sys.executable, "manage.py", "migrate", "--noinput")
    seeded = run(sys.executable, "manage.py", "seed_demo")
    assert "admin" in seeded.stdout and "smoke-test-pass" in seeded.stdout  # it prints the login
    html = run(sys.executable, "-c", HOME_PAGE.format(password="smoke-test-pass")).stdout
    assert "Value streams portfolio" in html
    assert html.count("<tr data-stream=") >= 6  # at least six streams
