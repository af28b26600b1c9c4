"""Test settings: the production settings on PostgreSQL, with only what speed needs changed.

TEST_DATABASE_URL picks the server (default: the local PostgreSQL, user postgres, trust auth).
pytest-django creates and drops its own `test_*` databases there.
"""

import os

import dj_database_url

from .settings import *  # noqa: F403

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"), conn_max_age=0
    )
}
# Hashing passwords slowly protects nothing in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests pick the broker per test; by default tasks run in-process.
CELERY_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
CELERY_TASK_ALWAYS_EAGER = True
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Serve static files from the finders (node_modules, app static) without collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Uploads of import tests (the test process and its Celery workers share the directory).
MEDIA_ROOT = Path(os.environ.get("TEST_MEDIA_ROOT", "/tmp/portal-test-media"))  # noqa: F405
# The tests' tool servers listen on 127.0.0.1; their faults answer at once.
OUTBOUND_ALLOW_PRIVATE = True
CONNECTOR_BACKOFF_SECONDS = 0.01
CONNECTOR_TIMEOUT_SECONDS = 2
