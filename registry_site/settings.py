"""Settings for the registry, read from the environment.

With nothing set, the registry runs on a SQLite file and stores artifacts on the local filesystem
under ``var/``. Every value an operator may change is an environment variable; see docs/operations.md.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

_INSECURE_DEFAULT_KEY = "insecure-development-key-change-me"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_INSECURE_DEFAULT_KEY)
if not DEBUG and SECRET_KEY == _INSECURE_DEFAULT_KEY:
    # A production process signing sessions with a key from the source tree is worse than no process.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env.str("REGISTRY_DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "django_htmx",
    "pgtrigger",
    "csp",
    "axes",
    "django_prometheus",
    "models_app",
]

MIDDLEWARE = [
    # Outermost: the request log and the request metrics see every response, including errors.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "models_app.ops.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "registry_site.security.RejectControlCharactersMiddleware",
    "registry_site.security.RequestFramingMiddleware",
    "registry_site.security.BodySlotsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "registry_site.security.RegistryCSPMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into a 429 page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# django-axes watches every authenticate() call (admin and reviewer login); API tokens do not log in.
AUTHENTICATION_BACKENDS = [
    "registry_site.security.LoginAttemptBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("DJANGO_AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("DJANGO_AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("DJANGO_AXES_COOLOFF_HOURS", default=0.25)
# Lock a username per client address, so a stranger cannot lock a colleague out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("DJANGO_AXES_PROXY_COUNT", default=0)

ROOT_URLCONF = "registry_site.urls"

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
            # The reviewer UI's tags live with the UI (models_app/ui/), not at the app's top level.
            "libraries": {"registry": "models_app.ui.templatetags.registry"},
        },
    },
]

WSGI_APPLICATION = "registry_site.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'registry.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Concurrent writers wait for the lock instead of failing at once; IMMEDIATE makes every
    # transaction take the write lock up front, which is what select_for_update means elsewhere.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# Production reuses each worker thread's connection for 10 minutes: a new PostgreSQL connection costs more
# than a whole version read. The development server starts a thread per request, so it opens one each time.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0 if DEBUG else 600)
# A persistent connection broken by a database restart is replaced instead of failing one request (on
# PostgreSQL without a round trip while nothing arrived on it: registry_site/postgresql/base.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "registry_site.postgresql"
    # An unreachable database fails fast (readiness probes, requests) instead of hanging a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # Server-side binding lets psycopg prepare a statement the connection has run DATABASE_PREPARE_THRESHOLD
    # times: PostgreSQL then stops planning the hot reads on every request (planning the version read takes
    # longer than running it). Behind a transaction-pooling PgBouncer older than 1.21, set it to -1.
    prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    if prepare_threshold >= 0:
        DATABASES["default"]["OPTIONS"].update(
            {"server_side_binding": True, "prepare_threshold": prepare_threshold}
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))

REGISTRY_STORAGE = env.str("REGISTRY_STORAGE", default="filesystem")
if REGISTRY_STORAGE == "filesystem":
    _artifact_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(Path(env.str("REGISTRY_ARTIFACT_ROOT", default=str(DATA_DIR / "artifacts"))))
        },
    }
elif REGISTRY_STORAGE == "s3":
    from botocore.config import Config as BotoConfig

    _artifact_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            # Keys are generated per file by the server; an overwrite would mean a bug, never a feature.
            "file_overwrite": False,
            "default_acl": None,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
            # Presigned URLs must be SigV4 (every region since 2014 and every S3-compatible server);
            # "path" addressing lets local servers (moto, MinIO) work without wildcard DNS. Assembling
            # a multi-GB upload can take minutes, hence the read timeout; an unreachable bucket should
            # give a 503 within seconds, hence few retries and a short connect timeout.
            "client_config": BotoConfig(
                signature_version=env.str("AWS_S3_SIGNATURE_VERSION", default="s3v4"),
                s3={"addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default=None)},
                connect_timeout=env.float("AWS_S3_CONNECT_TIMEOUT", default=5),
                read_timeout=env.float("AWS_S3_READ_TIMEOUT", default=300),
                retries={"mode": "standard", "max_attempts": env.int("AWS_S3_MAX_ATTEMPTS", default=3)},
            ),
            "use_ssl": env.bool("AWS_S3_USE_SSL", default=True),
            # Reads of whole objects through storage.open() spill to disk past this size instead of
            # being held in memory (0 would mean "never spill"); artifact code streams anyway.
            "max_memory_size": env.int("AWS_S3_MAX_MEMORY_SIZE", default=8 * 1024 * 1024),
        },
    }
else:
    raise ImproperlyConfigured("REGISTRY_STORAGE must be 'filesystem' or 's3'.")

STORAGES = {
    "default": _artifact_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Upload limits: Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not cover file parts, so the registry
# checks the whole request body against its own limit.
REGISTRY_MAX_UPLOAD_BYTES = env.int("REGISTRY_MAX_UPLOAD_BYTES", default=5 * 1024**3)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("REGISTRY_MAX_FILES_PER_VERSION", default=1000)
FILE_UPLOAD_TEMP_DIR = env.str("REGISTRY_UPLOAD_TEMP_DIR", default=None)
# Slow clients (docs/operations.md, "Slow clients"): per process, at most REGISTRY_BODY_SLOTS requests
# with a body at once (the other threads stay for reads and probes), and a body read that waits longer
# than REGISTRY_BODY_READ_TIMEOUT seconds is a client abort.
REGISTRY_WEB_THREADS = env.int("REGISTRY_WEB_THREADS", default=32)
REGISTRY_BODY_SLOTS = env.int(
    "REGISTRY_BODY_SLOTS", default=max(1, REGISTRY_WEB_THREADS - max(2, REGISTRY_WEB_THREADS // 4))
)
REGISTRY_BODY_READ_TIMEOUT = env.float("REGISTRY_BODY_READ_TIMEOUT", default=30.0)

# Direct-to-bucket transfers (S3 only). Downloads answer 302 to a presigned URL when this is on;
# the client must be able to reach the bucket's endpoint itself.
REGISTRY_S3_REDIRECT_DOWNLOADS = env.bool("REGISTRY_S3_REDIRECT_DOWNLOADS", default=False)
# Part size the server hands out for direct multipart uploads (S3 minimum 5 MiB; raised automatically
# so that no file needs more than 10,000 parts).
REGISTRY_UPLOAD_PART_SIZE = env.int("REGISTRY_UPLOAD_PART_SIZE", default=64 * 1024 * 1024)
# A direct upload not completed within this many hours is aborted and its bytes removed.
REGISTRY_UPLOAD_EXPIRY_HOURS = env.float("REGISTRY_UPLOAD_EXPIRY_HOURS", default=24)
# Largest total size of one direct upload (all files of a version).
REGISTRY_MAX_DIRECT_UPLOAD_BYTES = env.int("REGISTRY_MAX_DIRECT_UPLOAD_BYTES", default=1024**4)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Load balancers probe the health endpoint over plain HTTP.
# Probes and scrapes come from inside the network over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$", r"^api/v1/ready/$", r"^metrics$"]

# A strict Content-Security-Policy; registry_site/security.py relaxes it for the API docs pages only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Sign-in (models_app/sso/): through the company's identity provider (OpenID Connect) when
# REGISTRY_OIDC_ISSUER is set; without it nothing changes and every user signs in with a password.
# sign_in_settings adds mozilla-django-oidc's settings, the provider's backend and its origin in the
# CSP's form-action; it is pure (reads no settings, fetches nothing), so tests apply it per test too.
from models_app.sso import config as _sign_in  # noqa: E402

globals().update(
    _sign_in.sign_in_settings(
        provider=_sign_in.provider_config(
            issuer=env.str("REGISTRY_OIDC_ISSUER", default=""),
            client_id=env.str("REGISTRY_OIDC_CLIENT_ID", default=""),
            # Read as is: django-environ would take a secret starting with "$" for another variable's name.
            client_secret=os.environ.get("REGISTRY_OIDC_CLIENT_SECRET", ""),
            scopes=env.str("REGISTRY_OIDC_SCOPES", default=_sign_in.DEFAULT_SCOPES),
            groups_claim=env.str("REGISTRY_OIDC_GROUPS_CLAIM", default=_sign_in.DEFAULT_GROUPS_CLAIM),
            group_map=env.str("REGISTRY_OIDC_GROUP_MAP", default=""),
            provider_name=env.str("REGISTRY_OIDC_PROVIDER_NAME", default=_sign_in.DEFAULT_PROVIDER_NAME),
        ),
        # Off: only the break-glass superuser below signs in with a password (the reviewer UI and the admin).
        password_login=env.bool("REGISTRY_PASSWORD_LOGIN", default=True),
        break_glass_user=env.str("REGISTRY_BREAK_GLASS_USER", default=""),
        backends=AUTHENTICATION_BACKENDS,
        csp=CONTENT_SECURITY_POLICY,
    )
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "models_app.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["models_app.api.permissions.HasRegistryRole"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "models_app.api.pagination.StablePageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "models_app.api.exceptions.exception_handler",
    # JSON unless a browser asks for HTML: then DRF's browsable API (read-only pages) for signed-in users.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "models_app.api.renderers.ReadOnlyBrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "models_app.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per token (or per user for browser sessions) and per client address for anonymous callers.
    "DEFAULT_THROTTLE_CLASSES": [
        "models_app.api.throttling.TokenRateThrottle",
        "models_app.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("REGISTRY_API_THROTTLE_RATE", default="1200/minute"),
        "anon": env.str("REGISTRY_API_THROTTLE_ANON_RATE", default="60/minute"),
    },
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=None),
    # OPTIONS answers 405: the schema documents every operation, and DRF's metadata introspection
    # would call views' object lookups outside their normal flow.
    "DEFAULT_METADATA_CLASS": None,
}

# Throttle counters live in the cache; set DJANGO_CACHE_URL to a shared cache when running several processes.
CACHES = {"default": env.cache("DJANGO_CACHE_URL", default="locmemcache://")}

SPECTACULAR_SETTINGS = {
    "TITLE": "Model Registry API",
    "DESCRIPTION": (
        "Register trained model versions with their lineage, move them through Staging and Production "
        "behind human approval, and pull whatever is in Production."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "StageEnum": "models_app.choices.Stage.choices",
        "VersionStatusEnum": "models_app.choices.VersionStatus.choices",
        "RequestStatusEnum": "models_app.choices.RequestStatus.choices",
        "LedgerKindEnum": "models_app.choices.LedgerKind.choices",
        "EventTypeEnum": "models_app.choices.EventType.choices",
        "DeploymentStatusEnum": "models_app.choices.DeploymentStatus.choices",
        "DeliveryStateEnum": "models_app.choices.DeliveryState.choices",
    },
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums"],
}

DRF_STANDARDIZED_ERRORS = {
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    # Domain errors (RegistryError) are mapped to statuses in models_app/api/exceptions.py.
    "EXCEPTION_HANDLER_CLASS": "models_app.api.exceptions.RegistryExceptionHandler",
    # Domain codes vary per status (e.g. self_approval_forbidden is a 403), so these describe them openly.
    "ERROR_SCHEMAS": {
        "400": "models_app.api.schema.ErrorResponse400",
        "403": "models_app.api.schema.ClientErrorResponseSerializer",
        "404": "models_app.api.schema.ClientErrorResponseSerializer",
    },
}

# Webhook delivery refuses loopback/private targets unless this is on (local development, tests).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# Delivery worker (python manage.py deliver_webhooks): attempts, backoff with jitter, timeouts, lease.
WEBHOOK_MAX_ATTEMPTS = env.int("REGISTRY_WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_BACKOFF_BASE_SECONDS = env.float("REGISTRY_WEBHOOK_BACKOFF_BASE_SECONDS", default=30.0)
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("REGISTRY_WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("REGISTRY_WEBHOOK_TIMEOUT_SECONDS", default=15.0)
# Longer than one send can take, so a live worker never loses its claim; a dead one's claim expires.
WEBHOOK_LEASE_SECONDS = env.float("REGISTRY_WEBHOOK_LEASE_SECONDS", default=60.0)
WEBHOOK_POLL_SECONDS = env.float("REGISTRY_WEBHOOK_POLL_SECONDS", default=1.0)
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("REGISTRY_WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)

# E-mail notifications (reviewers: a request awaits their decision; requesters: it was decided), queued
# in the transaction of the change and sent by the delivery worker (deliver_webhooks) after commit.
# REGISTRY_EMAIL_BACKEND: smtp (default; needs REGISTRY_EMAIL_HOST), console (default with DJANGO_DEBUG:
# printed by the worker), or none. Through a company relay: see docs/operations.md.
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "none": "django.core.mail.backends.dummy.EmailBackend",
}
_email_backend = env.str("REGISTRY_EMAIL_BACKEND", default="console" if DEBUG else "smtp")
if _email_backend not in _EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        f"REGISTRY_EMAIL_BACKEND must be one of {', '.join(_EMAIL_BACKENDS)}, not {_email_backend!r}."
    )
EMAIL_BACKEND = _EMAIL_BACKENDS[_email_backend]
EMAIL_HOST = env.str("REGISTRY_EMAIL_HOST", default="")
EMAIL_PORT = env.int("REGISTRY_EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("REGISTRY_EMAIL_USER", default="")
EMAIL_HOST_PASSWORD = env.str("REGISTRY_EMAIL_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("REGISTRY_EMAIL_USE_TLS", default=False)  # STARTTLS, usually on port 587
EMAIL_USE_SSL = env.bool("REGISTRY_EMAIL_USE_SSL", default=False)  # implicit TLS, usually on port 465
EMAIL_TIMEOUT = env.float("REGISTRY_EMAIL_TIMEOUT", default=20.0)
DEFAULT_FROM_EMAIL = env.str("REGISTRY_EMAIL_FROM", default="Model Registry <registry@localhost>")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set at most one of REGISTRY_EMAIL_USE_TLS and REGISTRY_EMAIL_USE_SSL.")
# Queue notification e-mails at all: on when there is somewhere to send them.
EMAIL_NOTIFICATIONS = env.bool(
    "REGISTRY_EMAIL_NOTIFICATIONS", default=_email_backend == "console" or bool(EMAIL_HOST)
)
# Links in the e-mails point here (the registry's public address, e.g. https://registry.example.com).
REGISTRY_PUBLIC_URL = env.str("REGISTRY_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
EMAIL_MAX_ATTEMPTS = env.int("REGISTRY_EMAIL_MAX_ATTEMPTS", default=8)

# Ledger checkpoints (python manage.py anchor_audit; make serve writes one every ..._SECONDS): signed with
# HMAC-SHA256 under this key, stored under audit-anchors/ in the artifact storage, with S3 Object Lock
# retention for ..._RETENTION_DAYS in ..._LOCK_MODE where the bucket has Object Lock.
REGISTRY_AUDIT_ANCHOR_KEY = env.str("REGISTRY_AUDIT_ANCHOR_KEY", default="")
REGISTRY_AUDIT_ANCHOR_SECONDS = env.float("REGISTRY_AUDIT_ANCHOR_SECONDS", default=300.0)
REGISTRY_AUDIT_ANCHOR_RETENTION_DAYS = env.int("REGISTRY_AUDIT_ANCHOR_RETENTION_DAYS", default=2555)
REGISTRY_AUDIT_ANCHOR_LOCK_MODE = env.str("REGISTRY_AUDIT_ANCHOR_LOCK_MODE", default="GOVERNANCE")
if REGISTRY_AUDIT_ANCHOR_LOCK_MODE not in ("GOVERNANCE", "COMPLIANCE"):
    raise ImproperlyConfigured("REGISTRY_AUDIT_ANCHOR_LOCK_MODE must be 'GOVERNANCE' or 'COMPLIANCE'.")
# Retention (python manage.py apply_retention): make serve applies every model's policy this often.
REGISTRY_RETENTION_SECONDS = env.float("REGISTRY_RETENTION_SECONDS", default=86400.0)

# Operations: readiness and metrics (models_app/api/views/health.py, models_app/ops/metrics.py).
REGISTRY_READY_CACHE_SECONDS = env.float("REGISTRY_READY_CACHE_SECONDS", default=1.5)
# Seconds a process reuses an API token's user, groups and permissions (models_app/services/tokens.py); a
# revocation or role change made by another process takes effect within that. 0: looked up on every request.
REGISTRY_AUTH_CACHE_SECONDS = env.float("REGISTRY_AUTH_CACHE_SECONDS", default=2.0)
REGISTRY_METRICS_TOKEN = env.str("REGISTRY_METRICS_TOKEN", default="")
REGISTRY_METRICS_ALLOW_ANONYMOUS = env.bool("REGISTRY_METRICS_ALLOW_ANONYMOUS", default=False)

# Logs go to stderr, one JSON object per line unless REGISTRY_LOG_FORMAT=text (the default with DEBUG).
REGISTRY_LOG_FORMAT = env.str("REGISTRY_LOG_FORMAT", default="text" if DEBUG else "json")
if REGISTRY_LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("REGISTRY_LOG_FORMAT must be 'json' or 'text'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "models_app.ops.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "models_app.ops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s request_id=%(request_id)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": REGISTRY_LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("REGISTRY_LOG_LEVEL", default="INFO").upper()},
    # Django's own records go to the root handler only (its default console handler would print twice).
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
