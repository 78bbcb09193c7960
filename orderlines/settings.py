"""Django settings for orderlines-realtime.

Every environment variable the project honours is read here and only here; the
realtime app reads its own options from ``REALTIME`` through ``realtime.conf``.
"""

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable, refusing values we cannot interpret."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use one of 1/0, true/false, yes/no, on/off.")


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated environment variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
# The fallback key is only good for local development; check --deploy flags it.
SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-local-development-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first, so `manage.py runserver` serves ASGI (HTTP and WebSocket)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "realtime",
    "orderlines",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "orderlines.urls"
ASGI_APPLICATION = "orderlines.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            # Runner, server and publisher processes write concurrently: wait, don't fail.
            # WAL + synchronous=NORMAL: a publish records its update without an fsync per
            # write (the benchmark measured 8 ms per publish otherwise).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Kept open between publishes: reopening (and its PRAGMAs) cost 4 ms of a 6 ms
            # record, measured from bench/ (Django closes it after each async-to-thread hop
            # when CONN_MAX_AGE is 0).
            "CONN_MAX_AGE": 60,
            # A file (not :memory:) so live-test server processes share it; per test run,
            # so two runs on one machine never share it.
            "TEST": {"NAME": f"/tmp/orderlines-test-{os.getpid()}.sqlite3"},
        }
    }

# One URL, or several comma-separated: shards (channels-redis spreads channels and groups
# over them by hash; every process must list them in the same order).
REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis Sentinel instead: REDIS_SENTINELS=host:port,host:port and REDIS_SENTINEL_MASTER=name
# (REDIS_SENTINEL_DB picks the database, default 0). Takes precedence over REDIS_URL.
REDIS_SENTINELS = os.environ.get("REDIS_SENTINELS", "")
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "")
REDIS_SENTINEL_DB = int(os.environ.get("REDIS_SENTINEL_DB", "0") or 0)
# "core" (channels_redis.core.RedisChannelLayer) or "pubsub" (RedisPubSubChannelLayer).
CHANNEL_LAYER_KIND = os.environ.get("CHANNEL_LAYER", "core")


def _sentinel_hosts(sentinels: str, master: str, db: int) -> list[dict]:
    if not master:
        raise ImproperlyConfigured("REDIS_SENTINELS is set: set REDIS_SENTINEL_MASTER too.")
    addresses = []
    for item in sentinels.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_SENTINELS item {item!r}: use host:port.")
        addresses.append((host, int(port)))
    # One logical server: channels-redis asks the sentinels for the current master on
    # every new connection, so a failover is followed without a restart.
    return [{"sentinels": addresses, "master_name": master, "db": db, "socket_timeout": None}]


def channel_layers_config(
    redis_url: str, kind: str, sentinels: str = "", sentinel_master: str = "", sentinel_db: int = 0
) -> dict:
    """CHANNEL_LAYERS for ``redis_url`` (comma-separated: shards) or for Redis Sentinel.

    Neither given: the in-memory layer, one process only.
    """
    if not redis_url and not sentinels:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    backends = {
        "core": "channels_redis.core.RedisChannelLayer",
        "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    }
    if kind not in backends:
        raise ImproperlyConfigured(f"CHANNEL_LAYER={kind!r}: use 'core' or 'pubsub'.")
    # socket_timeout=None: redis-py 8 times reads out after 5 s, which kills the layer's
    # idle blocking receive (channels_redis issue 422).
    if sentinels:
        hosts = _sentinel_hosts(sentinels, sentinel_master, sentinel_db)
    else:
        urls = [url.strip() for url in redis_url.split(",") if url.strip()]
        hosts = [{"address": url, "socket_timeout": None} for url in urls]
    config: dict = {"hosts": hosts}
    if kind == "core":
        # One channel per server process carries every broadcast (realtime.hub), so it
        # gets room for bursts. channels-redis reads all process-local ("!") channels of a
        # prefix through one Redis list, so realtime uses the one prefix "realtime".
        config["channel_capacity"] = {"realtime.*": 100_000}
    return {"default": {"BACKEND": backends[kind], "CONFIG": config}}


CHANNEL_LAYERS = channel_layers_config(
    REDIS_URL, CHANNEL_LAYER_KIND, REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_DB
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The npm socket.io-client (root package.json; `npm ci` installs it), served as
# /static/socket.io-client/socket.io.min.js for the run monitor: never from a CDN.
STATICFILES_DIRS = [("socket.io-client", BASE_DIR / "node_modules" / "socket.io-client" / "dist")]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Days of RunningLog kept by `manage.py prune_running_logs` (run it daily, e.g. from cron).
RUNNING_LOG_RETENTION_DAYS = int(os.environ.get("RUNNING_LOG_RETENTION_DAYS", "30"))

REALTIME = {
    # How realtime reaches orderlines' data without importing its models.
    "STORE": "orderlines.realtime_store.ProcessRunStore",
    # Missed packets and socket.io sessions live in Redis, so recovery works across processes.
    "RECOVERY_REDIS_URL": REDIS_URL.split(",")[0] or None,
    "RECOVERY_WINDOW_SECONDS": float(os.environ.get("REALTIME_RECOVERY_WINDOW_SECONDS", "120")),
    "RECOVERY_MAX_PACKETS": int(os.environ.get("REALTIME_RECOVERY_MAX_PACKETS", "10000")),
    # Anonymous realtime clients: REALTIME_ALLOW_ANONYMOUS, else only with DEBUG on.
    "ALLOW_ANONYMOUS": env_bool("REALTIME_ALLOW_ANONYMOUS", DEBUG),
    "ALLOWED_ORIGINS": env_list(
        "REALTIME_ALLOWED_ORIGINS",
        [
            "http://localhost:8000",
            "http://127.0.0.1:8000",
            "http://localhost:5173",
            "http://127.0.0.1:5173",
        ],
    ),
}
# REALTIME_OPTIONS: a JSON object merged into REALTIME (limits, timeouts; see realtime/conf.py).
REALTIME.update(json.loads(os.environ.get("REALTIME_OPTIONS") or "{}"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_redis_outages": {"()": "realtime.logfilters.OneLineRedisOutages"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["one_line_redis_outages"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
