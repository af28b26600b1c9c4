"""Fixtures shared by every app's tests: users in each role, logged-in clients."""

import os
from pathlib import Path

from django.contrib.auth.models import Group
from playwright.sync_api import Error as PlaywrightError
import pytest

from core import access
from teams.tests.factories import UserFactory


@pytest.fixture
def role_groups(db):
    """The role groups the migration creates. A transactional test's flush deletes them, so a
    transactional test that runs after another needs them made again."""
    return {role: Group.objects.get_or_create(name=role)[0] for role in access.ROLES}


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def viewer(db):
    return UserFactory(username="viewer", roles=[access.VIEWER])


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


# --- Browser tests (Playwright driving Debian's chromium) -------------------------------------
# Playwright's own browser download cannot work on these machines; the project's setup installs
# Debian's chromium and the tests launch it directly.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
# The ORM is used beside Playwright's sync API, which runs an event loop in the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under artifacts/screenshots/NAME.png and return its path."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def page(page):
    """Playwright's page, which a test leaves only once nothing is in flight: a panel a page loads
    after itself (htmx, such as the investment panel reading the history) would otherwise still
    be reading the database while a transactional test's data is flushed, and the flush's
    TRUNCATE and that read deadlock."""
    yield page
    try:
        page.wait_for_load_state("networkidle", timeout=30_000)
    except PlaywrightError:
        pass  # the page is gone or never settles: nothing of ours is waiting on it
