"""Settings, read only from the environment (django-environ, optional `.env`).

Local defaults need no server: SQLite, a local-memory cache and an on-disk Celery broker.
`DJANGO_ENV=production` switches on the deployment hardening and refuses to start without
`SECRET_KEY`; production differs from development only by environment.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from core.ip_networks import parse_networks
from portal.log_filters import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
PRODUCTION = DJANGO_ENV == "production"

# Runtime files of a local run (SQLite database, on-disk broker, SMS file): never committed.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _development_secret_key() -> str:
    """A random key kept in VAR_DIR, so a local run needs no configuration and no key is committed."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private from the first byte
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


if PRODUCTION:
    if not env.str("SECRET_KEY", default=""):
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production.")
    SECRET_KEY = env.str("SECRET_KEY")
    DEBUG = False
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()
    DEBUG = env.bool("DEBUG", default=True)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# Earlier keys, while rotating SECRET_KEY: what they signed (sessions, reset links, delivery-report
# tokens of messages already handed to Kannel) stays valid until it expires.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# Networks whose X-Forwarded-For we believe (load balancers, reverse proxies). Everything that
# needs a client IP asks core.ip.get_client_ip, which reads this list.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
try:
    parse_networks(TRUSTED_PROXIES)
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES has an entry that is not an address or CIDR range: {exc}") from exc
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # the admin site that requires a verified second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal.apps.PortalConfig",
    # The project's apps, bottom layer first (docs/architecture.md; scripts/check_imports.py).
    "audit",
    "accounts",
    "security",
    "apikeys",
    "contacts",
    "messaging",
    "inbound",
    "verify",
    "members",
    "webhooks",
    "compat",
]

MIDDLEWARE = [
    "portal.middleware.EarlyEndpointsMiddleware",  # first: probes and gateway callbacks
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so static files keep their caching; above the rest, so they see every answer.
    "core.http.NoStoreMiddleware",
    "core.http.ContentSecurityPolicyMiddleware",
    # Above CsrfViewMiddleware, whose check reads a POST's body: a body too large is refused unread.
    "core.http.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.timezones.UserTimeZoneMiddleware",  # pages show times in the user's zone
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Timeouts, portal IP allowlist, required 2FA enrolment, forced password change.
    "security.middleware.SecurityPolicyMiddleware",
    # Last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]
# The API's requests (the dialects' too: compat/) take a short chain of their own (portal.middleware).
API_PATH_PREFIXES = ["/api/", "/smsapi/", "/3rdparty/"]
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.http.NoStoreMiddleware",  # an account's data, or a secret shown once: never in a cache
    "django.middleware.common.CommonMiddleware",  # host validation, like every other request
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# --- Request bodies, from anyone (signed in or not) ---
# The most a request may send (Django's default, written out): core.http.RequestBodyLimitMiddleware
# holds whole portal requests to it from their Content-Length, before they are read, unless a view
# declares an upload (core.http.accepts_upload: the contact import's 2 MB; the API's cap is ten
# times the largest valid send). Uploads stay in memory: nobody's request is spooled to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.support",
            ],
            "builtins": ["core.templatetags.display"],
        },
    },
]

if PRODUCTION:
    # Production runs on PostgreSQL and Redis: no silent fall-back to the local defaults.
    if not env.str("DATABASE_URL", default="").startswith(("postgres://", "postgresql://", "pgsql://")):
        raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL when DJANGO_ENV=production.")
    if not env.str("REDIS_URL", default=""):
        raise ImproperlyConfigured("REDIS_URL must be set when DJANGO_ENV=production.")
# An empty DATABASE_URL means the default, so a blank line in .env cannot break the local run.
DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A persistent connection per process (gunicorn's sync workers serve one request at a time,
    # so Django's `pool` would hold one connection each too, and costs a check-out per request),
    # checked by Django with a `SELECT 1` before the first query of a request.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        # Values sent apart from the query's text, so that psycopg prepares on the server a
        # statement a connection runs `prepare_threshold` times (parsed and planned once; at most
        # 100 a connection): the same few statements of every send and hand-over
        # (messaging/sql.py) most of all. A query can then carry at most 65,535 values (a
        # PostgreSQL limit that client-side binding does not have): chunk longer lists. False
        # (Django's defaults) for a pooler that cannot keep prepared statements (PgBouncer in
        # transaction mode before 1.21, or without `max_prepared_statements`).
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out attempts before any hashing
    "security.backends.AccountBackend",
]
LOGIN_URL = "security:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "security:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "security.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "security.validators.UppercaseValidator"},
    {"NAME": "security.validators.DigitValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "security.validators.PasswordHistoryValidator", "OPTIONS": {"history": 5}},
]
PASSWORD_RESET_TIMEOUT = 60 * 60  # one hour

# --- Sessions (SPEC §4.4): a session row per browser with its user, listed and revocable. ---
SESSION_ENGINE = "security.session_store"
# How security sends its sign-in codes: the messaging app's free system SMS (security sits below
# messaging and does not import it).
SECURITY_SMS_SENDER = "messaging.services.message_send_system"
SESSION_COOKIE_AGE = 24 * 60 * 60  # replaced per request by the user's inactivity timeout
SESSION_ABSOLUTE_LIMIT = timedelta(hours=12)
SESSION_TIMEOUT_CHOICES = [15, 30, 60, 240, 480, 1440]  # minutes
DEVICE_COOKIE_NAME = "__Host-device" if PRODUCTION else "device"
DEVICE_COOKIE_AGE = 400 * 24 * 60 * 60

# --- django-axes 8: lock after 5 failures per (user, IP), and after a per-user cap from any IP. ---
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_HANDLER = "security.lockout.AccountLockoutHandler"
AXES_FAILURE_LIMIT = 5
AXES_USER_FAILURE_CAP = 20
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=30)  # never the permanent default
# Attempts while locked are refused unchecked and do not restart the clock: the lockout page and
# e-mail promise 30 minutes, and a user retrying (or a password manager) must not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.ip.get_client_ip"
AXES_USERNAME_CALLABLE = "security.lockout.username_from_credentials"
AXES_LOCKOUT_CALLABLE = "security.views.signin.locked_out"
AXES_SENSITIVE_PARAMETERS = ["password", "code", "token"]
AXES_ENABLE_ACCESS_FAILURE_LOG = True

# --- Two-factor sign-in ---
# Also the life of any security-code SMS: past it, the stale-queue job fails it instead of sending.
OTP_SMS_CODE_VALIDITY = timedelta(minutes=5)
OTP_SMS_MAX_FAILURES = 5
OTP_SMS_RESEND_COOLDOWN_SECONDS = 30
OTP_SMS_PER_USER_PER_HOUR = 5
OTP_SMS_PER_PHONE_PER_HOUR = 5
OTP_SMS_PER_IP_PER_HOUR = 20
OTP_SMS_PER_USER_PER_DAY = 20
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="SMS Portal")
# Staff see that a customer has an authenticator app, never its secret or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
OTP_TOTP_THROTTLE_FACTOR = 1
# The sign-in's second step must be finished within this time of the password step.
SIGN_IN_PENDING_MAX_AGE = timedelta(minutes=10)
# Sudo mode (security/sudo.py): a second-factor change, new backup codes, a new API key or secret
# needs an authentication (sign-in or the re-authentication page) at most this many seconds old.
SECURITY_SUDO_SECONDS = env.int("SECURITY_SUDO_SECONDS", default=600)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_ROOT = BASE_DIR / "static" / "root"  # /favicon.ico and other root files
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

if PRODUCTION and not env.str("EMAIL_URL", default=""):
    # The local default prints every e-mail, password-reset links included, into the log.
    raise ImproperlyConfigured("EMAIL_URL must be set when DJANGO_ENV=production (e.g. smtp+tls://…).")
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
_LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "console",
    "django.core.mail.backends.locmem.EmailBackend": "locmem",
    "django.core.mail.backends.filebased.EmailBackend": "file",
}
if PRODUCTION and EMAIL_CONFIG.get("EMAIL_BACKEND") in _LOCAL_EMAIL_BACKENDS:
    # Each would put reset links (a way into the account) in logs, process memory or files.
    raise ImproperlyConfigured(
        f"EMAIL_URL with the {_LOCAL_EMAIL_BACKENDS[EMAIL_CONFIG['EMAIL_BACKEND']]} e-mail backend "
        "is for development and tests only."
    )
# Seconds an SMTP connection may take: the e-mail tasks are bounded, and retried with backoff.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SMS Portal <no-reply@localhost>")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@localhost")  # a suspended account's banner

# --- Security hardening. Always-on parts first, then what needs HTTPS (production only). ---
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The portal's pages (core.http.ContentSecurityPolicyMiddleware): scripts, styles, fonts and
# images from this site only, no inline script or style (the pages' scripts are static files),
# forms posted here only, never framed. `data:` images are Pico's icons, drawn in its stylesheet.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host- cookies: Secure, Path=/, no Domain: a sibling subdomain cannot plant or read them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.ApiJSONRenderer", "core.renderers.ProblemJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.renderers.ApiJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.renderers.ApiContentNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "core.api.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apikeys.api.ScopedAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# How long one web worker may reuse an API key lookup (SPEC §5: at most a second).
API_LOCAL_CACHE_SECONDS = env.float("API_LOCAL_CACHE_SECONDS", default=1.0)
# The API hot path's other mechanisms, each switchable so `make bench` can show what it buys
# (docs/benchmarks.md): rate-limit units leased from Redis a few at a time (1 = a round trip per
# request), and the send's plain-JSON request and answer without DRF's parser and Response.
API_RATE_LIMIT_LEASE_MAX = env.int("API_RATE_LIMIT_LEASE_MAX", default=64)
API_FAST_PATHS = env.bool("API_FAST_PATHS", default=True)
if not 0 <= API_LOCAL_CACHE_SECONDS <= 1:
    raise ImproperlyConfigured("API_LOCAL_CACHE_SECONDS must be between 0 and 1.")
# Failed API authentications a client address may make in a minute before they are answered 429.
API_AUTH_FAILURES_PER_MINUTE = env.int("API_AUTH_FAILURES_PER_MINUTE", default=300)

SPECTACULAR_SETTINGS = {
    "TITLE": "SMS Portal API",
    "DESCRIPTION": (
        "Send SMS and follow their delivery. Authenticate every request with `Authorization: Bearer <token>` "
        "(an API token, or an access token from `POST /auth/token`) or `Authorization: Basic "
        "base64(key_id:secret)` (an API credential). Tokens starting with `test_` work in test mode: requests "
        "are validated and priced like live ones, never reach a gateway and never charge; the recipients "
        "+15005550001, +15005550002 and +15005550003 end as delivered, undelivered and failed. Errors are RFC "
        "9457 problem documents (`application/problem+json`). Dates are ISO 8601 in UTC with `Z`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVERS": [{"url": "/", "description": "This server"}],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "API token or access token"},
            "basic": {"type": "http", "scheme": "basic", "description": "API credential: key id and secret"},
        }
    },
    "SECURITY": [{"bearer": []}, {"basic": []}],
    "AUTHENTICATION_WHITELIST": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["core.api.only_versioned_endpoints"],
    # Two resources have a `status` of their own: each enum gets its own name.
    "ENUM_NAME_OVERRIDES": {"VerificationStatusEnum": "verify.models.Verification.Status"},
}

# --- Celery ---
if REDIS_URL:
    # Redis by default; RabbitMQ (`amqp://…`) hands a dead worker's unacknowledged tasks to
    # another worker at once (docs/operations.md).
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    # Redis hands a task out again when a worker has held it unacknowledged this long: longer than
    # a task may be held alive (the longest retry countdown, 10 minutes, plus CELERY_TASK_TIME_LIMIT;
    # long delays live in the database, never in countdowns), and short enough that the tasks of
    # a killed worker come back within a quarter of an hour (its messages, much sooner: the
    # recovery sweep, SMS_REQUEUE_AFTER). RabbitMQ needs no such option.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900} if CELERY_BROKER_URL.startswith("redis") else {}
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
    _broker_dir = VAR_DIR / "celery-broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# print() in a task (the console SMS backend) is information, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Enforced by the prefork pool (`make run`), not by the thread pool the README recommends for
# delivery workers: there, socket timeouts (Kannel, SMTP) and SMS_DELIVERY_BATCH_SECONDS bound a task.
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A `queued` message no live worker holds (lost with a killed process) is requeued within this long:
# the sweep (messaging/services/recovery.py) runs every half of it, and when a worker starts.
_requeue_after = env.int("SMS_REQUEUE_AFTER_SECONDS", default=10)
if _requeue_after < 2:
    # Each sweep waits a second for the workers' answers: more often, sweeps would overlap.
    raise ImproperlyConfigured("SMS_REQUEUE_AFTER_SECONDS must be at least 2.")
SMS_REQUEUE_AFTER = timedelta(seconds=_requeue_after)
SMS_REQUEUE_SWEEP = SMS_REQUEUE_AFTER / 2
CELERY_BEAT_SCHEDULE = {
    "accounts-password-age-reminders": {
        "task": "security.tasks.send_password_age_reminders",
        "schedule": crontab(hour=6, minute=0),
    },
    "accounts-clear-expired-sessions": {
        "task": "security.tasks.clear_expired_sessions",
        "schedule": timedelta(hours=1).total_seconds(),
    },
    "messaging-purge-idempotency-records": {
        "task": "messaging.tasks.purge_idempotency_records",
        "schedule": timedelta(hours=1).total_seconds(),
    },
    "messaging-release-scheduled": {
        "task": "messaging.tasks.release_scheduled_messages",
        "schedule": 15.0,
    },
    "messaging-requeue-stale": {
        "task": "messaging.tasks.requeue_stale_messages",
        "schedule": SMS_REQUEUE_SWEEP.total_seconds(),
        # Behind a backlog, sweeps would pile up: one that waited longer than its period is dropped.
        "options": {"expires": SMS_REQUEUE_SWEEP.total_seconds()},
    },
    "messaging-recover-stuck": {
        "task": "messaging.tasks.recover_stuck_messages",
        "schedule": timedelta(minutes=1).total_seconds(),
    },
    "webhooks-send-due": {
        "task": "webhooks.tasks.send_due_deliveries",
        "schedule": 30.0,
    },
    "webhooks-purge-old-deliveries": {
        "task": "webhooks.tasks.purge_old_deliveries",
        "schedule": crontab(hour=4, minute=30),
    },
}

# --- SMS delivery (SPEC §6) ---
SMS_BACKEND = env.str("SMS_BACKEND", default="kannel" if PRODUCTION else "console")
if PRODUCTION and SMS_BACKEND in ("console", "locmem", "file"):
    # Each would put sign-in codes where they do not belong (logs, process memory, a file).
    raise ImproperlyConfigured(f"SMS_BACKEND={SMS_BACKEND} is for development and tests only.")
# Sender of system messages (2FA codes, test SMS): never charged.
SMS_SYSTEM_SENDER = env.str("SMS_SYSTEM_SENDER", default="SMSPortal")
# Points per segment where no price rule matches and staff have not set a default rule.
SMS_DEFAULT_PRICE_PER_SEGMENT = env.str("SMS_DEFAULT_PRICE_PER_SEGMENT", default="1")
# Sender used when a request names none and the account has no approved sender name.
SMS_DEFAULT_SENDER = env.str("SMS_DEFAULT_SENDER", default="SMSPortal")
# Web processes publish delivery work every this many seconds, many requests' messages in one
# task (messaging/dispatch.py); 0 publishes at each commit.
SMS_DISPATCH_INTERVAL = env.float("SMS_DISPATCH_INTERVAL", default=0.1)
# A delivery task claims no further message after this many seconds; the rest go out in a new task.
SMS_DELIVERY_BATCH_SECONDS = env.float("SMS_DELIVERY_BATCH_SECONDS", default=40)
SMS_MAX_RECIPIENTS = 10_000
# The send page confirms "N messages for X points" above these (docs/operations.md).
SMS_CONFIRM_ABOVE_RECIPIENTS = env.int("SMS_CONFIRM_ABOVE_RECIPIENTS", default=100)
SMS_CONFIRM_ABOVE_POINTS = env.float("SMS_CONFIRM_ABOVE_POINTS", default=100)
SMS_MAX_SEGMENTS = 10
SMS_MAX_SCHEDULE_AHEAD = timedelta(days=30)
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(VAR_DIR / "sms.jsonl"))
KANNEL_URL = env.str("KANNEL_URL", default="http://127.0.0.1:13013/cgi-bin/sendsms")
KANNEL_USERNAME = env.str("KANNEL_USERNAME", default="")
KANNEL_PASSWORD = env.str("KANNEL_PASSWORD", default="")
KANNEL_TIMEOUT_SECONDS = env.int("KANNEL_TIMEOUT_SECONDS", default=10)
# Where delivery reports may come from (Kannel's smsbox hosts); addresses or CIDR ranges.
KANNEL_DLR_ALLOWED_IPS = env.list("KANNEL_DLR_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# Inbound SMS (SPEC §6): the secret Kannel's sms-service puts in its get-url to /hooks/kannel/mo
# (empty: the hook refuses every call), from the hosts of KANNEL_DLR_ALLOWED_IPS.
KANNEL_MO_SECRET = env.str("KANNEL_MO_SECRET", default="")
# Whole-text keywords (any case, trailing punctuation ignored) that opt the sender out or back in.
SMS_OPT_OUT_KEYWORDS = env.list(
    "SMS_OPT_OUT_KEYWORDS", default=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
)
SMS_OPT_IN_KEYWORDS = env.list("SMS_OPT_IN_KEYWORDS", default=["START", "UNSTOP", "YES"])
# A message left in `sending` longer than this is looked at by the watchdog.
SMS_SENDING_GRACE = timedelta(seconds=env.int("SMS_SENDING_GRACE_SECONDS", default=300))

# --- The Verify API (SPEC §5) ---
VERIFY_CODE_VALIDITY = timedelta(minutes=10)
VERIFY_MAX_WRONG_CODES = 5
VERIFY_PER_NUMBER = 5  # verifications of one number in VERIFY_PER_NUMBER_WINDOW, per account
VERIFY_PER_NUMBER_WINDOW = timedelta(minutes=10)
# Verifications an account may start in an hour (SMS pumping: each costs it an SMS).
VERIFY_ACCOUNT_HOURLY_CAP = env.int("VERIFY_ACCOUNT_HOURLY_CAP", default=500)
VERIFY_DEFAULT_TEMPLATE = "Your verification code is {code}"

# --- Webhooks (SPEC §7) ---
# The key that encrypts endpoints' signing secrets at rest (they must stay usable to sign, so they
# cannot be hashed); by default derived from SECRET_KEY. Earlier keys decrypt while rotating it.
WEBHOOK_SECRET_KEY = env.str("WEBHOOK_SECRET_KEY", default="") or SECRET_KEY
WEBHOOK_SECRET_KEY_FALLBACKS = env.list("WEBHOOK_SECRET_KEY_FALLBACKS", default=SECRET_KEY_FALLBACKS)
# Development and tests only: endpoints on 127.0.0.1, ::1 and localhost. Private, link-local and
# metadata addresses stay refused even then (webhooks/ssrf.py).
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
if PRODUCTION and WEBHOOK_ALLOW_LOOPBACK:
    raise ImproperlyConfigured("WEBHOOK_ALLOW_LOOPBACK is for development and tests only.")
# Seconds one delivery attempt may take, connection and answer together; redirects are never followed.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)

# --- Logging: one line per event, to stderr. Never log a secret. ---
LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"))  # portal/log_filters.py
