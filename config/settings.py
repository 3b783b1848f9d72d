"""Settings, all deploy-specific values read from the environment.

The defaults run a fresh checkout with no services: SQLite, the in-memory channel layer and
a filesystem Celery broker. Bad values raise ImproperlyConfigured at start-up.
"""

import ipaddress
import sys
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Generic admin classes (ModelAdmin[Intent]) at run time, as the type checker sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _int(name: str, default: int, minimum: int = 1) -> int:
    """An integer setting that must be >= minimum (1 unless told)."""
    try:
        value = env.int(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {env.str(name)!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _float(name: str, default: float) -> float:
    try:
        return env.float(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {env.str(name)!r}") from exc


# The backends this product runs on (requirements.txt installs no other database driver).
_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


def _database(name: str, default: str) -> dict:
    """A PostgreSQL or SQLite database URL; the error names the scheme only (a URL may hold a password)."""
    url = env.str(name, default=default)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if environ.Env.DB_SCHEMES.get(scheme) not in _DATABASE_ENGINES:
        raise ImproperlyConfigured(
            f"{name} must be a postgres://user@host:port/name or sqlite:///path URL, got the scheme {scheme!r}"
        )
    return environ.Env.db_url_config(url)


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


DEBUG = _bool("DEBUG", default=False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET)
USING_DEV_SECRET = SECRET_KEY == _DEV_SECRET
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

ARTIFACTS_DIR = Path(env.str("ARTIFACTS_DIR", default=str(BASE_DIR / "var" / "artifacts")))
# The pretrained base model committed with the repo (reproducible by `manage.py pretrain`).
BASE_MODEL_DIR = Path(env.str("BASE_MODEL_DIR", default=str(BASE_DIR / "training" / "base_model")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",  # login throttling (issue 14, item 9)
    # Our apps, bottom layer first (docs/architecture.md): privacy holds no models.
    "knowledge",
    "retrieval",
    "serving",
    "chat",
    "training",
    "insights",
    # Integrations on top (issue 19): the REST API, its OpenAPI schema and pages, webhooks.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets served by us (no CDN)
    "api",
]
# Daphne's app only swaps in its ASGI `runserver`, and importing it loads Twisted and pyOpenSSL
# (24 MB) into every process: answer helpers and Celery workers too. `manage.py serve` runs
# Daphne itself (config/web.py), so the app is installed for `runserver` alone.
if "runserver" in sys.argv[1:2]:
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicy",  # on every page that sets none of its own
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# Login throttling for the staff sign-in and the admin (django-axes): after LOGIN_FAILURE_LIMIT
# wrong passwords an account is locked, and so is an address that tried that many, for
# LOGIN_LOCKOUT_MINUTES; a right password after the lock still gets the 429 page.
AUTHENTICATION_BACKENDS = [
    "config.auth.LoginThrottle",  # django-axes, skipping request-less calls (test client login)
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The client's address is REMOTE_ADDR, which config/proxy.py already set from the trusted hops.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)


ROOT_URLCONF = "config.urls"
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
            ],
        },
    },
]
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": _database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    # Each connection (one per database thread) caches its prepared statements. The message
    # path's statements are as long as their batch, one text per batch size, so Python's default
    # of 128 held up to ~30 MB in a web process after 8,000 messages; 16 keeps the small,
    # repeated ones (docs/benchmarks.md, "Fifth pass").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;",
         "cached_statements": 16}
    )
    # Tests on a file too: an in-memory database shared between threads locks whole tables
    # and ignores the timeout, and replies run on a thread pool.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test.sqlite3")}
    (BASE_DIR / "var").mkdir(exist_ok=True)  # the default database lives there
# Keep connections between requests and consumer calls: opening one per call was a third of
# the server's time under load. No health checks: they cost a round trip before every consumer
# call; a connection the database dropped fails one call and is then replaced.
DATABASES["default"]["CONN_MAX_AGE"] = _int("DB_CONN_MAX_AGE", 60, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")


def redis_channel_layer(url: str) -> dict:
    """The channels-redis layer, tuned for hundreds of busy sockets per process."""
    return {
        "BACKEND": "chat.layers.RedisChannelLayer",
        "CONFIG": {
            # Stock settings fail above ~100 busy sockets per process (STYLE.md §18): redis-py
            # caps its pool at 100 connections and times reads out at 5 s, exactly the layer's
            # blocking read, which kills idle consumers. Raise all three.
            "hosts": [{"address": url, "max_connections": 2000, "socket_timeout": 30,
                       "socket_connect_timeout": 5, "health_check_interval": 15}],
            "capacity": 1000,
            "expiry": 30,
        },
    }


if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
    # The API's per-key rate limits (DRF throttling) count in the cache: shared by every process.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Embedded broker: a real worker process, messages passed through files under var/.
    _broker_dir = BASE_DIR / "var" / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu's pidbox files; without this they land in ./control of the current directory.
        "control_folder": str(_broker_dir / "control"),
    }
    # kombu writes into these folders and fails if they are missing (a test or a shell that
    # sends a task before `manage.py serve` ever made them).
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
# Webhook deliveries have their own queue and worker (`manage.py serve`, deploy/systemd), so a
# retrain holding the training worker for minutes does not hold them up.
CELERY_TASK_ROUTES = {"api.tasks.*": {"queue": "integrations"}}
CELERY_BEAT_SCHEDULE = {
    "retrain-when-enough-new-data": {"task": "training.tasks.retrain_if_enough_new_data", "schedule": 600.0},
    "reap-dead-training-runs": {"task": "training.tasks.reap_dead_runs", "schedule": 120.0},
    "apply-retention": {"task": "chat.tasks.apply_retention", "schedule": 3600.0},
    "requeue-abandoned-chats": {"task": "chat.tasks.requeue_abandoned_chats", "schedule": 60.0},
    "send-stuck-webhooks": {"task": "api.tasks.sweep_webhooks", "schedule": 60.0},
    # Yesterday's and the day before's figures, again as late ratings and thumbs come in.
    "insights-rollup": {"task": "insights.tasks.rollup_recent", "schedule": 600.0},
    "insights-content-gaps": {"task": "insights.tasks.refresh_content_gaps", "schedule": 86400.0},
    "expire-waiting-chats": {"task": "chat.tasks.expire_waiting_chats", "schedule": 30.0},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/agent/"

LANGUAGE_CODE = "en-us"
# The languages customer-facing text ships in (a site's `language` picks one): locale/, `make messages`.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Security headers. Production (DEBUG off) gets HTTPS-only cookies and HSTS unless told otherwise.
SECURE_HTTPS = _bool("SECURE_HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", default=SECURE_HTTPS)
# Health checks come from inside the network, over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def _networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(item, strict=False) for item in env.list(name, default=[])]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a comma-separated list of networks (CIDR): {exc}") from exc


# The client's address behind reverse proxies (config/proxy.py): how many proxies in front of
# Daphne append to X-Forwarded-For (PROXY_HEADERS=true means one), and/or the networks they
# live in. Nothing else in the header is believed: the client writes its left part.
TRUSTED_PROXY_HOPS = _int("TRUSTED_PROXY_HOPS", 1 if _bool("PROXY_HEADERS", False) else 0, minimum=0)
TRUSTED_PROXY_NETWORKS = _networks("TRUSTED_PROXY_NETWORKS")
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Outgoing mail (team notifications, customers' transcripts). No EMAIL_HOST: mail is printed in
# development and dropped otherwise (a system check warns when a site expects mail).
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = _int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = _bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one")
EMAIL_TIMEOUT = _int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="chat@localhost")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
# Password reset is offered only with a mail server (without one each request logged a
# connection-refused traceback), and an address may post it a few times an hour.
PASSWORD_RESET_BY_EMAIL = bool(EMAIL_HOST)
PASSWORD_RESETS_PER_HOUR = _int("PASSWORD_RESETS_PER_HOUR", 5)
# The agent console's address, for links in the team's mail.
CHAT_PUBLIC_URL = env.str("CHAT_PUBLIC_URL", default="http://localhost:8000").rstrip("/")

# Chat limits: generous enough for many customers behind one NAT address.
CHAT_MAX_MESSAGE_CHARS = _int("CHAT_MAX_MESSAGE_CHARS", 2000)
CHAT_RATE_PER_MINUTE = _int("CHAT_RATE_PER_MINUTE", 30)
CHAT_RATE_PER_IP_PER_MINUTE = _int("CHAT_RATE_PER_IP_PER_MINUTE", 600)
CHAT_MAX_CONNECTIONS_PER_IP = _int("CHAT_MAX_CONNECTIONS_PER_IP", 200)
# A chat socket on which nothing arrives (not even the widget's pings) this long is closed.
CHAT_IDLE_SECONDS = _int("CHAT_IDLE_SECONDS", 600)
# Data waiting for one websocket client that does not read; past it the connection is dropped.
CHAT_MAX_UNSENT_BYTES = _int("CHAT_MAX_UNSENT_BYTES", 1024 * 1024, minimum=65536)
CHAT_MAX_FRAME_BYTES = _int("CHAT_MAX_FRAME_BYTES", 16384)
# Helper processes per web process that answer customers' messages (the intent model, the ticket
# search, the reply policy), so that work does not compete with the sockets for one process's
# GIL; 0 answers on the web process's own threads.
CHAT_ANSWER_PROCESSES = _int("CHAT_ANSWER_PROCESSES", 1, minimum=0)
# A chat that waits this long for a person with nobody online (or whose customer left) becomes an
# offline message that the team answers by email.
CHAT_OFFLINE_AFTER_SECONDS = _int("CHAT_OFFLINE_AFTER_SECONDS", 300)
# How often a web process checks whether the active model bundle changed.
BUNDLE_POLL_SECONDS = _int("BUNDLE_POLL_SECONDS", 5)

# Retraining: publish only if not worse than the active model by more than the tolerance.
RETRAIN_GATE_TOLERANCE = _float("RETRAIN_GATE_TOLERANCE", 0.02)
RETRAIN_MIN_ACCURACY = _float("RETRAIN_MIN_ACCURACY", 0.5)
# A candidate this far below the active model's own recorded held-out accuracy is refused.
RETRAIN_MAX_DROP_FROM_RECORDED = _float("RETRAIN_MAX_DROP_FROM_RECORDED", 0.15)
# An import adding more new intents than this, or giving one text different labels, is flagged.
IMPORT_MAX_NEW_INTENTS = _int("IMPORT_MAX_NEW_INTENTS", 20)
RETRAIN_EPOCHS = _int("RETRAIN_EPOCHS", 12)
# Small data without out-of-scope rows gets more epochs, up to this many optimizer steps
# (training.fit.MIN_TRAIN_STEPS); 0: none.
RETRAIN_MIN_STEPS = _int("RETRAIN_MIN_STEPS", 600, minimum=0)
# For training data without out-of-scope rows (no approved tickets, no out-of-scope examples): the
# share of customer messages expected to be out of scope, which weighs refusing against answering
# (training.calibration). Unset: unknown, weighed as half.
INTENT_EXPECTED_OOS_SHARE: float | None = None
if env.str("INTENT_EXPECTED_OOS_SHARE", default=""):
    INTENT_EXPECTED_OOS_SHARE = _float("INTENT_EXPECTED_OOS_SHARE", 0.5)
    if not 0.0 <= INTENT_EXPECTED_OOS_SHARE <= 1.0:
        raise ImproperlyConfigured(f"INTENT_EXPECTED_OOS_SHARE must be between 0 and 1, got {INTENT_EXPECTED_OOS_SHARE}")
RETRAIN_MIN_NEW_EXAMPLES = _int("RETRAIN_MIN_NEW_EXAMPLES", 20)

# The REST API (api/, docs/api.md): per-site keys, scopes, per-key rate limits, one error shape.
API_RATE_PER_MINUTE = _int("API_RATE_PER_MINUTE", 600)  # per key, unless the key sets its own
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.keys.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.keys.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.keys.KeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Cursor",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.Schema",
    "EXCEPTION_HANDLER": "api.errors.handler",
    "UNAUTHENTICATED_USER": None,
}
# Webhooks (docs/webhooks.md): each POST's timeout, attempts per delivery with the first retry
# after WEBHOOK_RETRY_SECONDS and each later one 3× longer (10 s … 40 min by default), and how
# many deliveries failing in a row (all attempts spent) disable a subscription.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = _int("WEBHOOK_MAX_ATTEMPTS", 7)
WEBHOOK_RETRY_SECONDS = env.float("WEBHOOK_RETRY_SECONDS", default=10.0)
WEBHOOK_DISABLE_AFTER = _int("WEBHOOK_DISABLE_AFTER", 5)
# How long each process keeps the list of subscriptions (the chat consults it for every event).
WEBHOOK_CACHE_SECONDS = env.float("WEBHOOK_CACHE_SECONDS", default=2.0)
SPECTACULAR_SETTINGS = {
    "TITLE": "Support bot API",
    "DESCRIPTION": "Conversations, curated intents, tickets, model versions and webhooks. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Logs never carry customers' personal data (emails, phones, cards, IBANs...).
    "filters": {"redact": {"()": "privacy.redaction.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}
