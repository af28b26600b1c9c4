"""Front-end packages come from npm and are served as static files, in development and production."""

import os
from pathlib import Path
import subprocess
import sys

from django.contrib.staticfiles import finders
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path",
    [
        "vendor/chart.js/chart.umd.min.js",
        "vendor/chartjs-plugin-annotation/chartjs-plugin-annotation.min.js",
        "django_htmx/htmx-2.min.js",
        "css/portal.css",
    ],
)
def test_front_end_files_are_found_locally(path):
    assert finders.find(path), f"{path} is not among the static files; did npm ci run?"


@pytest.mark.slow
def test_production_collectstatic_builds_the_manifest(tmp_path):
    """With DEBUG off, whitenoise's manifest storage must find every file the packages name."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": "collectstatic-test-key-" + "x" * 40,
        "ALLOWED_HOSTS": "portal.example.com",
        "STATIC_ROOT": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/chart.js/chart.umd.min.js" in manifest
    assert list(tmp_path.glob("vendor/chart.js/chart.umd.min.*.js.gz"))  # compressed, hashed copies
