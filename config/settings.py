"""Kaopu settings: one module, driven by environment variables with safe defaults.

`make run` needs none of them: SQLite, an embedded broker, console email, DEBUG on.
Production sets DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL, DJANGO_ALLOWED_HOSTS and the
EMAIL_* variables (see README.md).
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
# Without DJANGO_SECRET_KEY the key below is public (it is in the repository): fine for `make run`,
# the tests and one-off commands, never for a server. With DEBUG off the web server and the
# workers refuse to start without a key (config/production.py) and `check --deploy` reports it.
KAOPU_SECRET_KEY_MISSING = not os.environ.get("DJANGO_SECRET_KEY")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "insecure-kaopu-development-key"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "ninja",
    "crm",
    "coaching",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.middleware.UserPreferencesMiddleware",
    "crm.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into our lock-out page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login protection: 5 failures for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.views.locked_out"
AXES_VERBOSE = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.can",
                "coaching.context_processors.coach",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file (not memory) so that real worker processes can share the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The scans' correlated subqueries tempt the planner into JIT compiling, which costs more
    # than the query itself (bench/README.md: report_due 537 ms, 189 ms without JIT).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The cockpit's stalled count reads a covering index's INCLUDE columns on PostgreSQL, the
# production database (crm.models.leads.STALLED_COLUMNS); on SQLite the index is the same
# without them, as Django says in this warning, and the count reads the rows.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "my-day"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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
WHITENOISE_USE_FINDERS = DEBUG

# Content Security Policy: no inline script or style anywhere; htmx comes from our own static.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("DJANGO_SESSION_SECONDS", str(14 * 24 * 3600)))
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
# One switch for "this runs behind HTTPS": secure cookies, HSTS for a year and the redirect to
# https together. Behind a proxy that ends TLS, DJANGO_BEHIND_PROXY=1 trusts its
# X-Forwarded-Proto. Each DJANGO_SECURE_* variable still overrides its part.
KAOPU_HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", KAOPU_HTTPS)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", KAOPU_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000" if KAOPU_HTTPS else "0")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS >= 31_536_000)
if env_bool("DJANGO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Email (Django 6.1 mailers): console in development, SMTP when EMAIL_HOST is set.
if os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ["EMAIL_HOST"],
                "port": int(os.environ.get("EMAIL_PORT", "25")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "use_ssl": env_bool("EMAIL_USE_SSL", False),
                "timeout": int(os.environ.get("EMAIL_TIMEOUT", "10")),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": os.environ.get(
                "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
            )
        }
    }
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Kaopu <kaopu@localhost>")
KAOPU_EMAIL_REPLY_TO = env_list("EMAIL_REPLY_TO")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: Redis when REDIS_URL is set; otherwise Kombu's filesystem transport, so that
# `make run` has a real worker and beat with no server to install.
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = Path(os.environ.get("KAOPU_BROKER_DIR", BASE_DIR / "var" / "broker"))
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        # Longer than any task may run (CELERY_TASK_TIME_LIMIT), so a late ack never
        # redelivers a task that is still running.
        "visibility_timeout": 3600,
        # A hung Redis must not hang the worker or beat forever: time out and reconnect.
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "retry_on_timeout": True,
        "health_check_interval": 10,
    }
    if REDIS_URL
    else {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # Look for new messages every 0.1 s, not every second: a worker takes several tasks
        # a second (the beat's polls, the email senders), as it does on Redis.
        "polling_interval": 0.1,
    }
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # keep trying: the backlog drains when it is back
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "kaopu"
# Beat only schedules; every task is idempotent, so a second beat started by mistake changes
# nothing but the load.
# The outbox poll: how soon a new email, or one a killed worker held, is picked up.
KAOPU_EMAIL_POLL_SECONDS = float(os.environ.get("KAOPU_EMAIL_POLL_SECONDS", "5"))
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "process-domain-events": {
        "task": "coaching.tasks.process_events",
        "schedule": float(os.environ.get("KAOPU_EVENT_POLL_SECONDS", "5")),
        "options": {"expires": 30},
    },
    "deliver-emails": {
        "task": "coaching.tasks.deliver_emails",
        "schedule": KAOPU_EMAIL_POLL_SECONDS,
        "options": {"expires": 30},
    },
    "coaching-scans": {
        "task": "coaching.tasks.run_scans",
        "schedule": float(os.environ.get("KAOPU_SCAN_SECONDS", str(15 * 60))),
        "options": {"expires": 600},
    },
    # The stall sweep (crm.services.stalls): how long a newly stalled lead is counted one by
    # one, beyond the day the time zones span, before the tally counts it.
    "stall-sweep": {
        "task": "crm.tasks.sweep_stalls",
        "schedule": float(os.environ.get("KAOPU_STALL_SWEEP_SECONDS", str(10 * 60))),
        "options": {"expires": 540},
    },
    "import-sweep": {
        "task": "crm.tasks.sweep_imports",
        "schedule": float(os.environ.get("KAOPU_IMPORT_SWEEP_SECONDS", "60")),
        "options": {"expires": 50},
    },
    "daily-digests": {
        "task": "coaching.tasks.build_digests",
        "schedule": float(os.environ.get("KAOPU_DIGEST_POLL_SECONDS", "300")),
        "options": {"expires": 240},
    },
    # Chat robots (issue 17): the same poll as email, on the chat outbox; the weekly summaries
    # are looked for with the digests.
    "deliver-chat": {
        "task": "coaching.tasks.deliver_chat",
        "schedule": KAOPU_EMAIL_POLL_SECONDS,
        "options": {"expires": 30},
    },
    "weekly-summaries": {
        "task": "coaching.tasks.build_weekly_summaries",
        "schedule": float(os.environ.get("KAOPU_DIGEST_POLL_SECONDS", "300")),
        "options": {"expires": 240},
    },
}

# The cache holds the API's rate-limit counters: Redis when there is one (shared by every web
# process), else this process's memory.
# The API asks it once per request: a hung Redis must cost one request a fraction of a second
# (api.auth then counts in the process for a while), not every request seconds.
KAOPU_CACHE_TIMEOUT_SECONDS = float(os.environ.get("KAOPU_CACHE_TIMEOUT_SECONDS", "0.2"))
KAOPU_CACHE_OPTIONS: dict[str, object] = {
    "socket_timeout": KAOPU_CACHE_TIMEOUT_SECONDS,
    "socket_connect_timeout": KAOPU_CACHE_TIMEOUT_SECONDS,
}
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "kaopu",
            "OPTIONS": KAOPU_CACHE_OPTIONS,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kaopu"}
    )
}

# Coach
KAOPU_PLAYBOOK = Path(os.environ.get("KAOPU_PLAYBOOK", BASE_DIR / "seeds" / "playbook.yaml"))
KAOPU_MAIL_DOMAIN = os.environ.get("KAOPU_MAIL_DOMAIN", "kaopu.localhost")
KAOPU_SITE_URL = os.environ.get("KAOPU_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Delivery (coaching.delivery): a temporary failure (4xx, timeout, connection error) is retried
# with exponential backoff from BACKOFF up to BACKOFF_CAP between tries, for RETRY_HOURS after
# the first failure, like a mail server; a permanent one (5xx) fails at once.
KAOPU_EMAIL_RETRY_HOURS = float(os.environ.get("KAOPU_EMAIL_RETRY_HOURS", "48"))
KAOPU_EMAIL_BACKOFF_SECONDS = int(os.environ.get("KAOPU_EMAIL_BACKOFF_SECONDS", "30"))
KAOPU_EMAIL_BACKOFF_CAP_SECONDS = int(os.environ.get("KAOPU_EMAIL_BACKOFF_CAP_SECONDS", "3600"))
# A claim is small and leased: a killed worker strands at most CLAIM_SIZE rows for at most
# LEASE seconds. The lease is renewed before each send and, while a send is in flight, every
# LEASE/3 seconds by a heartbeat, so a slow server (EMAIL_TIMEOUT per SMTP step) never lets it
# lapse under a live sender.
KAOPU_EMAIL_CLAIM_SIZE = int(os.environ.get("KAOPU_EMAIL_CLAIM_SIZE", "10"))
KAOPU_EMAIL_LEASE_SECONDS = int(os.environ.get("KAOPU_EMAIL_LEASE_SECONDS", "15"))
# One delivery task sends claim after claim for at most this long (well inside the task's
# soft time limit); the poll starts up to FANOUT of them, so more workers send more.
KAOPU_EMAIL_TASK_SECONDS = int(os.environ.get("KAOPU_EMAIL_TASK_SECONDS", "10"))
KAOPU_EMAIL_FANOUT = int(os.environ.get("KAOPU_EMAIL_FANOUT", "8"))
# Chat robots (issue 17). A webhook must be https and resolve to public addresses only, unless
# KAOPU_CHAT_ALLOW_PRIVATE (true with DEBUG and in the tests, whose fake platforms listen on
# 127.0.0.1 over http). Each robot gets at most PER_MINUTE messages a minute (the platforms'
# documented limit is about 20); each request waits at most TIMEOUT seconds per phase.
KAOPU_CHAT_ALLOW_PRIVATE = env_bool("KAOPU_CHAT_ALLOW_PRIVATE", DEBUG)
KAOPU_CHAT_PER_MINUTE = int(os.environ.get("KAOPU_CHAT_PER_MINUTE", "20"))
KAOPU_CHAT_TIMEOUT_SECONDS = float(os.environ.get("KAOPU_CHAT_TIMEOUT_SECONDS", "5"))

# CRM knobs
KAOPU_STALLED_DAYS = int(os.environ.get("KAOPU_STALLED_DAYS", "14"))
# Lead imports: the biggest file, the most rows, and the row count above which a worker runs it.
# 100,000 rows of a usual export (15–20 columns, Chinese text) take 20–35 MB: the byte limit
# must not stop a file the row limit accepts (bench/import_bench.py).
KAOPU_IMPORT_MAX_BYTES = int(os.environ.get("KAOPU_IMPORT_MAX_BYTES", str(40 * 1024 * 1024)))
KAOPU_IMPORT_MAX_ROWS = int(os.environ.get("KAOPU_IMPORT_MAX_ROWS", "100000"))
KAOPU_IMPORT_BACKGROUND_ROWS = int(os.environ.get("KAOPU_IMPORT_BACKGROUND_ROWS", "2000"))
# JSON API: requests per minute per token.
KAOPU_API_RATE_LIMIT = int(os.environ.get("KAOPU_API_RATE_LIMIT", "120"))
# Rows per page on the lists (lead list, hand-out, audit trail) and entries on a lead's timeline.
KAOPU_PAGE_SIZE = int(os.environ.get("KAOPU_PAGE_SIZE", "50"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A calendar feed's secret is in its path: no log line copies it (crm.calendar_logging).
    "filters": {"calendar_links": {"()": "crm.calendar_logging.RedactCalendarLinks"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["calendar_links"]}},
    "loggers": {
        "django.request": {"filters": ["calendar_links"]},
        "django.server": {"handlers": ["console"], "propagate": False},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
