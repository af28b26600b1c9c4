"""Settings for the Product Operating Model Portal.

Only this module reads the environment. Every variable is listed in `.env.example`.
A malformed value stops startup with a message naming the variable.
"""

import datetime as dt
import os
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true/false, 1/0, yes/no or on/off.")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be {minimum} or more.")
    return value


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


DEBUG = _env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Development only: a fixed key so sessions survive restarts of the first-run server.
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files from PyPI, served as static files: no CDN
    "axes",  # login throttling, with a record of every login and failed attempt
    "simple_history",  # who changed what and when, for every domain model
    "teams",
    "streams",
    "okrs",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.PortalCSPMiddleware",  # django-csp, with the identity provider in form-action
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.LoginRequiredMiddleware",
    "portal.middleware.IntegrityErrorMiddleware",  # a database rule's refusal → 409 with a sentence
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # the request's user signs each change
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out login with the lockout page
]

# django-axes checks every password login first: after AXES_FAILURE_LIMIT failures for one
# username from one address within the cool-off, that pair is locked out until it passes.
# And an address that has failed for LOGIN_SPRAY_USERNAMES different usernames within the
# cool-off (password spraying) is locked for every username (portal.login_guard).
AUTHENTICATION_BACKENDS = [
    "portal.login_guard.AddressSprayBackend",
    "axes.backends.AxesStandaloneBackend",
    # Passwords, unless LOCAL_LOGIN is off (then only superusers: the break-glass login).
    "portal.identity.backends.LocalPasswordBackend",
]
# Change history (django-simple-history): the admin shows it but must not "revert" a row, which
# would write past the services (a state column changed without its transition, for example).
SIMPLE_HISTORY_REVERT_DISABLED = True

AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
LOGIN_SPRAY_USERNAMES = _env_int("LOGIN_SPRAY_USERNAMES", 10)  # 0 switches the address lock off
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.navigation.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

# --- Database -------------------------------------------------------------------------
# The embedded default is a SQLite file so a first run needs nothing installed;
# PostgreSQL (DATABASE_URL=postgres://...) is the production database and the test database.
_default_db_url = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL") or _default_db_url,
            conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
            conn_health_checks=True,
        )
    }
except ValueError as exc:  # unknown scheme, bad port, non-integer CONN_MAX_AGE
    raise ImproperlyConfigured(f"DATABASE_URL or DATABASE_CONN_MAX_AGE is malformed: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Covering indexes (INCLUDE) are a PostgreSQL speed-up; SQLite builds them as plain indexes.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles any plan its estimates call expensive; for the recursive
    # alignment queries and the flow engine's temporary tables the estimates run far above
    # the truth, and compiling cost more than running (0.22 s of a 0.55 s query at 500k items).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
# Front-end packages come from npm into node_modules/ and are served from there;
# nothing third-party is committed. See package.json.
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    ("vendor/chartjs-plugin-annotation", BASE_DIR / "node_modules" / "chartjs-plugin-annotation" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Uploaded files -------------------------------------------------------------------------
# Import uploads wait here for the background job. Workers on other hosts need the same
# directory (a shared volume) or another storage backend in STORAGES["default"].
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "media/"  # never served: uploads are read by the import job only
# Large exports are streamed to a temporary file while uploading, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Bounds on what an import reads (streams.integrations.toolchain, streams.integrations.writer), checked while reading,
# before anything is built from it: the file (an upload beyond it is dropped while it arrives),
# one issue of an export, how deep its JSON nests, and one line of a CSV file. A Jira export
# of 100,000 issues with their changelogs is about 155 MB.
IMPORT_MAX_UPLOAD_MB = _env_int("IMPORT_MAX_UPLOAD_MB", 1024, minimum=1)
IMPORT_MAX_ISSUE_MB = _env_int("IMPORT_MAX_ISSUE_MB", 16, minimum=1)
IMPORT_MAX_DEPTH = _env_int("IMPORT_MAX_DEPTH", 64, minimum=8)
IMPORT_MAX_CSV_LINE = _env_int("IMPORT_MAX_CSV_LINE", 1024 * 1024, minimum=1024)
FILE_UPLOAD_HANDLERS = [
    "core.uploads.BoundedMemoryFileUploadHandler",
    "core.uploads.BoundedTemporaryFileUploadHandler",
]

# --- Webhooks ---------------------------------------------------------------------------------
# Shared secrets the tools sign their deliveries with (HMAC-SHA256 of the body). Unset: the
# hook refuses every delivery (403), so an unconfigured portal never trusts anyone.
JIRA_WEBHOOK_SECRET = os.environ.get("JIRA_WEBHOOK_SECRET", "")
GITHUB_WEBHOOK_SECRET = os.environ.get("GITHUB_WEBHOOK_SECRET", "")

# --- Live connectors and secrets ---------------------------------------------------------------
# Fernet keys that encrypt stored secrets (connector tokens); the first encrypts, all decrypt
# (rotation: put the new key first, run `manage.py rotate_credentials`). Unset: derived from
# SECRET_KEY, which then must never change (check --deploy warns).
CREDENTIAL_KEYS = _env_list("CREDENTIAL_KEYS", [])
# Let connectors call private and loopback addresses (a tool inside your network). Off: only
# public addresses, so a connection cannot be aimed at the portal's own network.
OUTBOUND_ALLOW_PRIVATE = _env_bool("OUTBOUND_ALLOW_PRIVATE", False)
CONNECTOR_SYNC_MINUTES = _env_int("CONNECTOR_SYNC_MINUTES", 5, minimum=1)
CONNECTOR_TIMEOUT_SECONDS = _env_int("CONNECTOR_TIMEOUT_SECONDS", 30, minimum=1)
CONNECTOR_RETRIES = _env_int("CONNECTOR_RETRIES", 4)
CONNECTOR_BACKOFF_SECONDS = _env_int("CONNECTOR_BACKOFF_SECONDS", 2)
CONNECTOR_MAX_WAIT_SECONDS = _env_int("CONNECTOR_MAX_WAIT_SECONDS", 120)
CONNECTOR_MAX_RESPONSE_MB = _env_int("CONNECTOR_MAX_RESPONSE_MB", 64, minimum=1)
# What a sync reads before it commits (and moves its watermark): items (Jira, GitHub), and for
# Azure DevOps revisions or items, whichever comes first (its revisions of many items interleave:
# buffering them writes each item once; a million revisions take about 150 MB).
CONNECTOR_BATCH_ITEMS = _env_int("CONNECTOR_BATCH_ITEMS", 5000, minimum=1)
CONNECTOR_BATCH_REVISIONS = _env_int("CONNECTOR_BATCH_REVISIONS", 1_000_000, minimum=1)

# --- Identity: single sign-on with OpenID Connect ---------------------------------------------
# Set OIDC_ISSUER and OIDC_CLIENT_ID (and the secret) to offer "Sign in with OIDC_NAME" on the
# login page; the provider's endpoints come from its discovery document. See README, Identity.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").rstrip("/")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
OIDC_NAME = os.environ.get("OIDC_NAME", "your organisation's account")
# The claim that lists a user's groups, and which groups give which role:
# "leader=pom-leaders,product director=pom-directors,product owner=pom-owners,operations=pom-ops,viewer=pom-all".
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_GROUPS = os.environ.get("OIDC_ROLE_GROUPS", "")
# A user in none of those groups: let in as a viewer ("viewer") or refused ("refuse").
OIDC_UNMAPPED = os.environ.get("OIDC_UNMAPPED", "viewer")
OIDC_TIMEOUT_SECONDS = _env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1)
# Passwords: off leaves only superusers signing in with one (the break-glass administrator).
LOCAL_LOGIN = _env_bool("LOCAL_LOGIN", True)

# --- Notifications ----------------------------------------------------------------------
# The portal's own address, for the links in emails and chat messages.
PORTAL_URL = os.environ.get("PORTAL_URL", "http://127.0.0.1:8000").rstrip("/")
# Email: SMTP when EMAIL_HOST is set, else the console (`make run` prints each email).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = _env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = _env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Product operating model portal <portal@localhost>")
# A failed send is tried again after 1, 5, 25, 125 minutes, then recorded as failed.
NOTIFY_MAX_ATTEMPTS = _env_int("NOTIFY_MAX_ATTEMPTS", 5, minimum=1)
NOTIFY_BACKOFF_SECONDS = _env_int("NOTIFY_BACKOFF_SECONDS", 60)
# Unsubscribe links in emails work without logging in for this many days.
NOTIFY_UNSUBSCRIBE_DAYS = _env_int("NOTIFY_UNSUBSCRIBE_DAYS", 60, minimum=1)
# A key result without a check-in for this many days is due (its owner is reminded); past
# NOTIFY_CHECKIN_STALE_DAYS it is stale (the objective's owner hears too).
NOTIFY_CHECKIN_DUE_DAYS = _env_int("NOTIFY_CHECKIN_DUE_DAYS", 7, minimum=1)
NOTIFY_CHECKIN_STALE_DAYS = _env_int("NOTIFY_CHECKIN_STALE_DAYS", 14, minimum=1)

# --- Celery ---------------------------------------------------------------------------
# Without a broker, tasks run in-process (the embedded default). With Redis, a real worker
# and beat run them; time limits and the beat schedule live here, in one place.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
# The portal never reads task results (a job's state lives in its database row), and waiting on
# the result store made sending a task hang ~20 s and fail when Redis was down.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With acks_late, a task whose worker died is delivered again once this many seconds have
# passed; it must exceed the time limit, or a slow task would run twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
# Defence in depth against a job that eats memory: each worker process may map at most
# WORKER_MEMORY_LIMIT_MB (an address-space ceiling, set when the worker starts: the job gets a
# MemoryError and fails with a message, instead of the kernel killing the worker and the broker
# handing the same job to the next one), and a process grown past WORKER_MAX_MEMORY_PER_CHILD_MB
# of resident memory is replaced after its task. 0 switches either off.
WORKER_MEMORY_LIMIT_MB = _env_int("WORKER_MEMORY_LIMIT_MB", 4096)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = _env_int("WORKER_MAX_MEMORY_PER_CHILD_MB", 1024) * 1024 or None  # KiB
# A running import records a heartbeat this often (from a thread of its own, so it beats while
# the import writes in one long transaction); one not heard of for IMPORT_STALLED_AFTER seconds
# is shown as stalled and may be retried.
IMPORT_HEARTBEAT_SECONDS = _env_int("IMPORT_HEARTBEAT_SECONDS", 15, minimum=1)
IMPORT_STALLED_AFTER = _env_int("IMPORT_STALLED_AFTER", 120, minimum=5)
CELERY_BEAT_SCHEDULE = {
    # Daily flow rollups (streams.flow.rollups): yesterday after midnight, and any invalidated days.
    "flow-rollups": {
        "task": "streams.refresh_flow_rollups",
        "schedule": crontab(minute="*/5"),
    },
    # Monday 02:00 UTC: last week's flow snapshot of every active stream (idempotent).
    "weekly-flow-snapshots": {
        "task": "streams.record_flow_snapshots",
        "schedule": crontab(minute=0, hour=2, day_of_week="mon"),
    },
    # Every minute: import jobs queued while the broker was unreachable are sent again.
    "resend-waiting-jobs": {
        "task": "streams.resend_waiting_jobs",
        "schedule": crontab(minute="*"),
    },
    # 03:15 UTC daily: forget webhook deliveries received over a month ago (replays come within days).
    "prune-webhook-deliveries": {
        "task": "streams.prune_webhook_deliveries",
        "schedule": crontab(minute=15, hour=3),
    },
    # Every CONNECTOR_SYNC_MINUTES: an incremental sync of every active live connection.
    "sync-connections": {
        "task": "streams.sync_connections",
        "schedule": dt.timedelta(minutes=CONNECTOR_SYNC_MINUTES),
    },
    # Every 5 minutes: notifications of events (experiment verdicts, syncs and imports that failed
    # or wait for a mapping), then every delivery due (new ones and retries).
    "notify-events": {
        "task": "portal.notify_events",
        "schedule": crontab(minute="*/5"),
    },
    # 06:00 UTC daily: check-ins due and stale, readiness digests, aging work; Mondays also the
    # weekly digests (leaders', and those who chose weekly). Idempotent: keyed by day or week.
    "notify-daily": {
        "task": "portal.notify_daily",
        "schedule": crontab(minute=0, hour=6),
    },
    # 05:30 UTC daily: measured key results read as of midnight, recorded where the figure changed.
    "measure-key-results": {
        "task": "okrs.measure_key_results",
        "schedule": crontab(minute=30, hour=5),
    },
    # 00:30 UTC daily: experiments' baselines once started, verdicts on their review date.
    "experiment-verdicts": {
        "task": "streams.review_experiments",
        "schedule": crontab(minute=30, hour=0),
    },
}

# --- Cache ----------------------------------------------------------------------------
# One process: memory. Several gunicorn workers share API throttle counts (and, later,
# cached pages) through Redis: CACHE_URL=redis://127.0.0.1:6379/1.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r} is not a Redis URL (redis://host:port/db).")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        # Results are kept per stream (core.freshness): Django's default of 300 entries would
        # cull them at a few hundred streams and compute every stream again at each view.
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 50_000}}
    )
}

# --- REST framework -------------------------------------------------------------------
# /api/v1/: tokens (portal.api.auth) or the browser's session; read for every logged-in
# user, writes checked by core.access; cursor pagination; JSON or streamed CSV (?format=csv).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies bounded in size and nesting, refused in the API's error shape (core.api.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.api.csv.CsvRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "2000/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Product Operating Model Portal API",
    "DESCRIPTION": (
        "Item-level facts and flow, alignment and readiness metrics of the portal, for reporting tools "
        "and integrations. Authenticate with `Authorization: Token <key>` (create a key at /api/tokens/) "
        "or a browser session. Lists use cursor pagination (`cursor`, `page_size` up to 1000); add "
        "`format=csv` to any list to download every matching row as a streamed CSV file instead."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENFORCE_NON_BLANK_FIELDS": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "FlowTypeEnum": "streams.models.FlowType.choices",
        "DeploymentStatusEnum": "streams.models.DeploymentStatus.choices",
        "DeliverySourceEnum": "streams.models.DeliverySource.choices",
    },
}

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The handler's level too: records of Django's own loggers reach it by propagation, which
    # the root logger's level does not filter.
    "handlers": {"console": {"class": "logging.StreamHandler", "level": os.environ.get("LOG_LEVEL", "INFO")}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per connector request is noise; sync runs record their requests and faults.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Security -------------------------------------------------------------------------
# Content Security Policy (django-csp): our own files only, no inline script or style, no
# plugins, no framing. The API docs add inline styles for Swagger UI (portal/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # htmx reads the token from the page (hx-headers), never the cookie
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 60 * 60)))  # a working day
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    # Production is served over HTTPS only: redirect plain HTTP (except the load balancer's
    # health check) and tell browsers to use HTTPS for a year. Behind a TLS-terminating proxy,
    # set SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto so Django knows the request was HTTPS.
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 60 * 60)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", True)  # eligible; submitting is a separate, manual step
    if proxy_header := os.environ.get("SECURE_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + proxy_header.upper().replace("-", "_"), "https")

# seed_demo refuses to run with DEBUG off unless forced.
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "portal-demo")
